"""Tests for crawler.stories' fingerprints: datasketch's MinHash, computed without it."""

from __future__ import annotations

import random
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from crawler import stories
from crawler.matching import normalize_text

DISPATCHES = Path(__file__).parent / "fixtures" / "stories" / "dispatches.toml"


def texts() -> list[str]:
    with open(DISPATCHES, "rb") as fh:
        dispatches = tomllib.load(fh)["dispatch"]
    return [d["text"] for d in dispatches]


def test_shingles_are_the_word_4_grams_of_the_normal_form() -> None:
    for text in texts():
        words = re.findall(r"\w+", normalize_text(text))
        expected = {" ".join(words[i:i + 4]).encode() for i in range(len(words) - 3)}
        assert stories.shingles(text) == expected
    assert stories.shingles("trois mots seulement") == set()


def test_the_sha1_of_a_shingle_is_hashlibs() -> None:
    """The fingerprint hashes shingles with CPython's own SHA-1 (cheaper to start than
    OpenSSL's): the same digests."""
    import hashlib

    for value in (b"", b"a", "guerre au soudan \u00e9t\u00e9 \u4e2d\u6587".encode(), b"x" * 200):
        assert stories._sha1(value).digest() == hashlib.sha1(value).digest()


@pytest.mark.parametrize("size", [1, 2, 12, 300, 5000])
def test_the_signature_is_datasketchs(size: int) -> None:
    """Signatures stored by earlier versions (datasketch's MinHash) stay comparable."""
    from datasketch import MinHash

    rng = random.Random(size)
    values = {f"{rng.random()} é {i}".encode() for i in range(size)}
    reference = MinHash(num_perm=stories.NUM_PERM)
    reference.update_batch(list(values))
    assert stories.minhash(values).dtype == np.uint32
    assert stories.minhash(values).tolist() == reference.hashvalues.tolist()


def test_article_fingerprints_are_datasketchs() -> None:
    from datasketch import MinHash

    for text in texts():
        grams = stories.shingles(text)
        reference = MinHash(num_perm=stories.NUM_PERM)
        reference.update_batch(list(grams))
        print_ = stories.article_fingerprint(None, text)
        assert print_ is not None
        assert (print_.signature.tolist(), print_.size) == (reference.hashvalues.tolist(),
                                                            len(grams))


def test_fingerprinting_imports_neither_datasketch_nor_scipy() -> None:
    """datasketch loads scipy: a third of a second and tens of MB in every crawl process."""
    code = (
        "import sys\n"
        "from crawler.stories import fingerprint\n"
        "assert fingerprint(' '.join(f'mot{i}' for i in range(40))) is not None\n"
        "print(sorted(m for m in ('datasketch', 'scipy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parent.parent)
    assert out.stdout.strip() == "[]"


def test_an_article_body_is_normalized_once_for_its_fingerprint_and_its_matches(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Store.save_article fingerprints the text, then matches title, lead, body and topic:
    the body, the longest text, goes through normalize_text once."""
    from collections import Counter

    from crawler import matching
    from crawler.config import Conflict

    calls: Counter[str] = Counter()
    original = matching.normalize_text

    def counting(text: str) -> str:
        calls[text] += 1
        return original(text)

    matcher = matching.Matcher([Conflict("sudan", "Soudan", ("Soudan",))])
    monkeypatch.setattr(matching, "normalize_text", counting)
    matching.normal_text.cache_clear()
    for text in texts()[:5]:
        lead, body = text.split("\n\n", 1)[0], text
        assert stories.article_fingerprint(lead, body) is not None
        matcher.match(title="Un titre", lead=lead, body=body, topic="Soudan")
        assert calls[body] == 1


def test_the_best_candidate_is_the_one_article_by_article_containment_picks() -> None:
    """_best_story scores every candidate at once: the same story as scoring them one by
    one with Fingerprint.containment (ties: the last candidate), on signatures that share
    few to all of their values, equal sizes, stories unknown."""
    rng = np.random.default_rng(7)

    def one_by_one(print_, rows, threshold):
        best, best_score = None, threshold
        for _, size, signature, story_id in rows:
            other = stories.Fingerprint(np.frombuffer(signature, dtype=np.uint32), size)
            score = print_.containment(other)
            if score >= best_score and story_id is not None:
                best, best_score = story_id, score
        return best

    for _ in range(400):
        base = rng.integers(0, 2**32, stories.NUM_PERM, dtype=np.uint32)
        print_ = stories.Fingerprint(base, int(rng.integers(12, 3000)))
        rows = []
        for k in range(int(rng.integers(0, 12))):
            sig = base.copy()
            changed = rng.random(stories.NUM_PERM) < rng.choice([0.0, 0.3, 0.6, 0.9, 1.0])
            sig[changed] = rng.integers(0, 2**32, int(changed.sum()), dtype=np.uint32)
            size = print_.size if rng.random() < 0.3 else int(rng.integers(12, 3000))
            story = None if rng.random() < 0.15 else int(rng.integers(1, 6))
            rows.append((k, size, sig.tobytes(), story))
        for threshold in (0.0, 0.3, 0.5, 0.8, 1.0):
            assert stories.best_candidate(print_, rows, threshold) == \
                one_by_one(print_, rows, threshold)
    short = [(1, 40, np.arange(64, dtype=np.uint32).tobytes(), 3),
             (2, 40, np.arange(10, dtype=np.uint32).tobytes(), 3)]
    with pytest.raises(ValueError):  # as one by one: not a signature of this module's
        stories.best_candidate(stories.Fingerprint(np.arange(64, dtype=np.uint32), 40),
                               short, 0.5)
