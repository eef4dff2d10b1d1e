"""Stories: one story, many copies. MinHash signatures of each article's text (datasketch's
scheme, computed here in one numpy call), banded for locality-sensitive hashing, kept in
SQLite so no process rebuilds the index.

Two texts are the same story when one mostly contains the other: a wire dispatch reprinted
with a new headline, a rewritten first paragraph, boilerplate or related links added, the
last paragraphs cut, typography changed. Containment, not Jaccard similarity, is the test,
because a truncated copy shares only part of the longer text. It is estimated from the
signatures (Jaccard) and the shingle counts, after LSH has picked the candidates; a low
Jaccard threshold for the bands keeps truncated copies among the candidates.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import operator
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import sqlite_utils

from crawler.config import StorySettings
from crawler.matching import normal_text
from crawler.schema import write_transaction

LOGGER = logging.getLogger(__name__)

NUM_PERM = 64
SHINGLE_WORDS = 4
# Below this many shingles a text is too short to call anything a copy of it.
MIN_SHINGLES = 12
# Candidates come from LSH bands tuned for this Jaccard similarity.
CANDIDATE_JACCARD = 0.2
# The LSH banding datasketch's MinHashLSH(threshold=CANDIDATE_JACCARD, num_perm=NUM_PERM)
# chooses (a test keeps these equal). Written out, like the MinHash below, because
# importing datasketch costs a third of a second and 60 MB (it loads scipy), which every
# crawl process would pay: datasketch is only the reference the tests compare with.
BANDS, ROWS = 28, 2
# datasketch 2's default MinHash ("affine32"): a value's hash is the first 4 bytes of its
# SHA-1 (little-endian), mixed by MurmurHash3's finalizer, then permuted by h -> a*h + b
# (mod 2**32) with (a, b) drawn from numpy's RandomState(seed 1); the signature is the
# minimum of each permutation. Stored signatures depend on it: a test keeps it equal to
# datasketch's.
_SEED = 1
_FMIX = (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16)
_DIGEST = operator.methodcaller("digest")
# SHA-1 of one short value: CPython's own implementation makes a hash object in half the
# time OpenSSL's does (hashlib.sha1 goes through OpenSSL 3's EVP), and a fingerprint makes
# one per shingle. The same digest, whichever computes it (a test compares).
try:
    from _sha1 import sha1 as _sha1
except ImportError:  # a Python built without its own SHA-1
    _sha1 = hashlib.sha1


@dataclass(frozen=True)
class Fingerprint:
    """An article text's MinHash signature and its number of distinct shingles."""

    signature: np.ndarray  # NUM_PERM uint32
    size: int

    def bands(self) -> list[int]:
        """The LSH band keys (signed 64-bit, for SQLite) of this signature."""
        keys = []
        for band in range(BANDS):
            chunk = self.signature[band * ROWS:(band + 1) * ROWS].tobytes()
            digest = hashlib.blake2b(bytes([band]) + chunk, digest_size=8).digest()
            keys.append(int.from_bytes(digest, "big", signed=True))
        return keys

    def jaccard(self, other: Fingerprint) -> float:
        return float(np.count_nonzero(self.signature == other.signature)) / NUM_PERM

    def containment(self, other: Fingerprint) -> float:
        """Estimated share of the smaller text's shingles found in the other text."""
        return float(_containment(self.jaccard(other), self.size, other.size))


def _containment(jaccard: Any, size: int, sizes: Any) -> Any:
    """Containment from the Jaccard similarity and the shingle counts, for one other text
    or an array of them: the common shingles over the smaller text's, at most 1."""
    common = jaccard * (size + sizes) / (1 + jaccard)
    return np.minimum(1.0, common / np.maximum(1, np.minimum(size, sizes)))


def shingles(text: str) -> set[bytes]:
    """Word 4-grams of the normalized text (case, accents and typography folded), UTF-8."""
    # Each word encoded once (not each shingle, four times as long), then the word list
    # zipped with its shifts: every run of SHINGLE_WORDS words, joined in C.
    words = tuple(map(str.encode, normal_text(text).words))
    return set(map(b" ".join, zip(*(words[i:] for i in range(SHINGLE_WORDS)), strict=False)))


def fingerprint(text: str) -> Fingerprint | None:
    """The fingerprint of a text, or None if it is too short to judge."""
    return _fingerprint(shingles(text))


def article_fingerprint(lead: str | None, body: str | None) -> Fingerprint | None:
    """The fingerprint of an article: of its body, where reprints differ least (sites rewrite
    the lead), or of lead and body together when the body alone is too short to judge."""
    grams = shingles(body or "")
    if len(grams) < MIN_SHINGLES:
        grams = shingles(f"{lead or ''}\n{body or ''}")
    return _fingerprint(grams)


def _fingerprint(grams: set[bytes]) -> Fingerprint | None:
    if len(grams) < MIN_SHINGLES:
        return None
    return Fingerprint(minhash(grams), len(grams))


def minhash(values: Iterable[bytes]) -> np.ndarray:
    """The MinHash signature (NUM_PERM uint32) of a set of byte strings, in one vectorised
    computation: SHA-1 of every value (in C, through map), then every permutation of
    every hash as one matrix."""
    digests = b"".join(map(_DIGEST, map(_sha1, values)))
    if not digests:
        return np.full(NUM_PERM, np.iinfo(np.uint32).max, dtype=np.uint32)
    # A SHA-1 digest is 20 bytes: every fifth little-endian uint32 is a value's first 4.
    hashes = np.frombuffer(digests, dtype="<u4")[::5].astype(np.uint32)
    s1, m1, s2, m2, s3 = _FMIX
    hashes ^= hashes >> s1
    hashes *= np.uint32(m1)
    hashes ^= hashes >> s2
    hashes *= np.uint32(m2)
    hashes ^= hashes >> s3
    a, b = _permutations()
    # One row per permutation (64 x n, mod 2**32), made in place, each row's minimum read
    # along memory: the (n x 64) matrix and its column minima took over 15 times as long
    # on a long text (2.4 ms instead of 0.14 for 5,000 shingles).
    permuted = np.multiply.outer(a, hashes)
    permuted += b[:, np.newaxis]
    return permuted.min(axis=1)


@functools.cache
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) of each permutation, drawn as datasketch draws them (a odd)."""
    gen = np.random.RandomState(_SEED)
    a = gen.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a, b


class StoryIndex:
    """The persistent index: assigns each new article to a story, inside its transaction."""

    def __init__(self, settings: StorySettings | None = None):
        self.settings = settings or StorySettings()

    def assign(self, db: sqlite_utils.Database, article_id: int,
               text: str | Fingerprint | None, title: str | None,
               now: str) -> tuple[int, bool]:
        """Put a new article in the story it copies, or in a new story.

        `text` is the article's text, or its fingerprint already computed (None: too short).
        Returns (story id, whether the story already existed). Runs in the caller's
        transaction.
        """
        print_ = fingerprint(text) if isinstance(text, str) else text
        story_id = None
        keys = print_.bands() if print_ is not None else []
        if print_ is not None:
            story_id = self._best_story(db, print_, keys, now)
        joined = story_id is not None
        if story_id is None:  # a story of one article, from one source
            story_id = int(db.execute(
                "INSERT INTO stories (title, first_article_id, first_seen_at, last_seen_at, "
                "articles, sources) VALUES (?, ?, ?, ?, 1, 1)", [title, article_id, now, now],
            ).lastrowid)
        else:
            db.execute(
                "UPDATE stories SET articles = articles + 1, last_seen_at = ?, "
                "sources = (SELECT count(DISTINCT source_id) FROM articles "
                "WHERE story_id = ? OR id = ?) WHERE id = ?",
                [now, story_id, article_id, story_id],
            )
        db.execute("UPDATE articles SET story_id = ? WHERE id = ?", [story_id, article_id])
        if print_ is not None:
            self.store(db, article_id, print_, now, keys)
        return story_id, joined

    def refresh(self, db: sqlite_utils.Database, article_id: int,
                text: str | Fingerprint | None, now: str) -> None:
        """A new version of an article: its fingerprint follows; its story does not change."""
        db.execute("DELETE FROM story_bands WHERE article_id = ?", [article_id])
        db.execute("DELETE FROM article_fingerprints WHERE article_id = ?", [article_id])
        print_ = fingerprint(text) if isinstance(text, str) else text
        if print_ is not None:
            self.store(db, article_id, print_, now)

    def store(self, db: sqlite_utils.Database, article_id: int, print_: Fingerprint,
              now: str, keys: list[int] | None = None) -> None:
        db.execute(
            "INSERT INTO article_fingerprints (article_id, size, signature, indexed_at) "
            "VALUES (?, ?, ?, ?)", [article_id, print_.size, print_.signature.tobytes(), now],
        )
        db.conn.executemany(
            "INSERT OR IGNORE INTO story_bands (band_key, article_id) VALUES (?, ?)",
            [(key, article_id) for key in keys or print_.bands()],
        )

    def _best_story(self, db: sqlite_utils.Database, print_: Fingerprint, keys: list[int],
                    now: str) -> int | None:
        since = _days_before(now, self.settings.window_days)
        marks = ", ".join("?" * len(keys))
        rows = db.execute(
            f"SELECT f.article_id, f.size, f.signature, a.story_id FROM "
            f"(SELECT DISTINCT article_id FROM story_bands WHERE band_key IN ({marks})) c "
            f"JOIN article_fingerprints f ON f.article_id = c.article_id "
            f"JOIN articles a ON a.id = c.article_id WHERE f.indexed_at >= ?",
            [*keys, since],
        ).fetchall()
        return best_candidate(print_, rows, self.settings.threshold)


def best_candidate(print_: Fingerprint, rows: list, threshold: float) -> int | None:
    """The story of the candidate (article id, size, signature, story id) whose text
    `print_`'s most contains, at `threshold` or above; among equal scores, the last one."""
    rows = [row for row in rows if row[3] is not None]
    if not rows:
        return None
    # Every candidate's containment at once (a story reprinted by many sources has as many
    # candidates).
    signatures = np.frombuffer(b"".join(row[2] for row in rows), dtype=np.uint32)
    if len(signatures) != NUM_PERM * len(rows):
        raise ValueError(f"a candidate's signature is not {NUM_PERM} values long")
    sizes = np.array([row[1] for row in rows], dtype=np.int64)
    jaccard = np.count_nonzero(signatures.reshape(len(rows), NUM_PERM) == print_.signature,
                               axis=1) / NUM_PERM
    scores = _containment(jaccard, print_.size, sizes)
    best = len(rows) - 1 - int(np.argmax(scores[::-1]))  # the last of the best
    return rows[best][3] if scores[best] >= threshold else None


def prune(db: sqlite_utils.Database, now: str, window_days: float) -> int:
    """Drop band rows older than the window: copies are only looked for among recent
    articles, so the index stays the size of the window, not of the archive."""
    since = _days_before(now, window_days)
    with write_transaction(db):
        return db.execute(
            "DELETE FROM story_bands WHERE article_id IN "
            "(SELECT article_id FROM article_fingerprints WHERE indexed_at < ?)", [since],
        ).rowcount


def _days_before(now: str, days: float) -> str:
    moment = datetime.fromisoformat(now.replace("Z", "+00:00")) - timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
