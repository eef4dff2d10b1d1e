"""Tests for the story fingerprints (crawler/page/fingerprints.py) and the index's scoring."""

from __future__ import annotations

import random
import re
import statistics
import subprocess
import sys
import tomllib
import zlib
from pathlib import Path

import numpy as np
import pytest

from crawler.page import fingerprints
from crawler.page.matching import normalize_text
from crawler.record import stories

DISPATCHES = Path(__file__).parent / "fixtures" / "stories" / "dispatches.toml"
SIGNATURE_START = [92000432, 99813923, 440034, 23515201, 16662112, 48140923, 136032685, 21141496]


def texts() -> list[str]:
    with open(DISPATCHES, "rb") as fh:
        dispatches = tomllib.load(fh)["dispatch"]
    return [d["text"] for d in dispatches]


def test_shingles_are_the_word_4_grams_of_the_normal_form() -> None:
    for text in texts():
        words = re.findall(r"\w+", normalize_text(text))
        expected = {" ".join(words[i:i + 4]).encode() for i in range(len(words) - 3)}
        assert fingerprints.shingles(text) == expected
    assert fingerprints.shingles("trois mots seulement") == set()


def _reference_hash(shingle: bytes) -> int:
    """One 4-gram's hash as `shingle_hashes` defines it, one word at a time in Python."""
    mask = (1 << 64) - 1

    def fmix(h: int) -> int:
        h ^= h >> 33
        h = (h * 0xFF51AFD7ED558CCD) & mask
        h ^= h >> 33
        h = (h * 0xC4CEB9FE1A85EC53) & mask
        return h ^ (h >> 33)

    combined = 0
    for k, word in enumerate(shingle.split(b" ")):
        hashed = fmix(zlib.crc32(word))
        combined = hashed if k == 0 else ((combined * 0x100000001B3) & mask) ^ hashed
    return fmix(combined) >> 32


def test_each_4_gram_is_hashed_from_its_words() -> None:
    """The numpy hashing of every 4-gram at once equals the definition, one 4-gram at a
    time, and counts each distinct 4-gram once."""
    for text in [*texts(), "un deux trois quatre un deux trois quatre un deux trois quatre"]:
        expected = sorted({_reference_hash(g) for g in fingerprints.shingles(text)})
        assert fingerprints.shingle_hashes(text).tolist() == expected
        assert len(expected) == len(fingerprints.shingles(text))
    assert fingerprints.shingle_hashes("trois mots seulement").size == 0


def test_signatures_do_not_change_without_a_migration() -> None:
    """Stored signatures are compared with new ones: a change of hashing, permutations or
    normal form must come with a migration that computes the stored ones again (as
    m009_story_hashes did). This is the signature of one text, as stored today."""
    print_ = fingerprints.fingerprint(
        "Les négociations reprennent à Genève entre les deux délégations, a annoncé "
        "mardi le médiateur, qui espère un accord sur les couloirs humanitaires avant "
        "la fin de la semaine et un cessez-le-feu durable dans la région.")
    assert print_ is not None and print_.size == 34
    assert print_.signature[:8].tolist() == SIGNATURE_START


@pytest.mark.parametrize("jaccard", [0.1, 0.3, 0.5, 0.8, 0.95])
def test_signatures_estimate_the_jaccard_similarity(jaccard: float) -> None:
    """The share of equal values in two signatures estimates the Jaccard similarity of the
    two 4-gram sets: within four standard errors, over 40 pairs of texts of 1,000 words."""
    rng = random.Random(int(jaccard * 100))
    estimates = []
    for _ in range(40):
        shared = round(2000 * jaccard / (1 + jaccard))  # |A & B| for |A| = |B| = 1,000
        common = [f"c{rng.random():.12f}" for _ in range(shared)]
        only = [[f"o{side}{rng.random():.12f}" for _ in range(1000 - shared)]
                for side in (0, 1)]
        a = fingerprints.minhash_of_hashes(np.unique(np.array(
            [zlib.crc32(w.encode()) for w in common + only[0]], dtype=np.uint32)))
        b = fingerprints.minhash_of_hashes(np.unique(np.array(
            [zlib.crc32(w.encode()) for w in common + only[1]], dtype=np.uint32)))
        estimates.append(float(np.count_nonzero(a == b)) / fingerprints.NUM_PERM)
    error = (jaccard * (1 - jaccard) / fingerprints.NUM_PERM / len(estimates)) ** 0.5
    assert abs(statistics.mean(estimates) - jaccard) <= 4 * error + 0.01


def test_fingerprinting_imports_neither_datasketch_nor_scipy() -> None:
    """datasketch loads scipy: a third of a second and tens of MB in every crawl process."""
    code = (
        "import sys\n"
        "from crawler.page.fingerprints import fingerprint\n"
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

    from crawler.config.model import Conflict
    from crawler.page import matching, normal_form

    calls: Counter[str] = Counter()
    original = normal_form.normalize_text

    def counting(text: str) -> str:
        calls[text] += 1
        return original(text)

    matcher = matching.Matcher([Conflict("sudan", "Soudan", ("Soudan",))])
    monkeypatch.setattr(normal_form, "normalize_text", counting)
    normal_form.normal_text.cache_clear()
    for text in texts()[:5]:
        lead, body = text.split("\n\n", 1)[0], text
        assert fingerprints.article_fingerprint(lead, body) is not None
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
            other = fingerprints.Fingerprint(np.frombuffer(signature, dtype=np.uint32), size)
            score = print_.containment(other)
            if score >= best_score and story_id is not None:
                best, best_score = story_id, score
        return best

    for _ in range(400):
        base = rng.integers(0, 2**32, fingerprints.NUM_PERM, dtype=np.uint32)
        print_ = fingerprints.Fingerprint(base, int(rng.integers(12, 3000)))
        rows = []
        for k in range(int(rng.integers(0, 12))):
            sig = base.copy()
            changed = rng.random(fingerprints.NUM_PERM) < rng.choice([0.0, 0.3, 0.6, 0.9, 1.0])
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
        stories.best_candidate(fingerprints.Fingerprint(np.arange(64, dtype=np.uint32), 40),
                               short, 0.5)
