"""Story fingerprints: MinHash signatures of an article's word 4-grams, and their LSH bands.

Two texts are the same story when one mostly contains the other (crawler/record/stories.py keeps
the index and decides). A fingerprint estimates that from 64 numbers per text: the Jaccard
similarity of two texts' 4-gram sets is the share of equal numbers in their signatures.
Everything is computed in numpy from the words of the normal form (crawler/page/normal_form.py),
which the conflict matcher reads too: no 4-gram is built as a string.
"""

from __future__ import annotations

import functools
import hashlib
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from crawler.page.normal_form import normal_text

NUM_PERM = 64
SHINGLE_WORDS = 4
# Below this many shingles a text is too short to call anything a copy of it.
MIN_SHINGLES = 12
# Candidates come from LSH bands tuned for this Jaccard similarity.
CANDIDATE_JACCARD = 0.2
# The LSH banding datasketch's MinHashLSH(threshold=CANDIDATE_JACCARD, num_perm=NUM_PERM)
# chooses (a test keeps these equal). Written out because importing datasketch costs a
# third of a second and 60 MB (it loads scipy), which every crawl process would pay:
# datasketch is only the reference the tests compare with.
BANDS, ROWS = 28, 2
# The MinHash: each distinct word 4-gram of the normal form hashed to 32 bits (see
# `shingle_hashes`), then permuted by h -> a*h + b (mod 2**32), (a, b) drawn from numpy's
# RandomState(seed 1) as datasketch draws them; the signature is the minimum of each
# permutation. Stored signatures depend on all of it: m009_story_hashes in
# crawler/record/schema.py recomputed those of earlier versions (SHA-1 of each 4-gram, as
# datasketch hashes).
_SEED = 1


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
        return float(containment(self.jaccard(other), self.size, other.size))


def containment(jaccard: Any, size: int, sizes: Any) -> Any:
    """Containment from the Jaccard similarity and the shingle counts, for one other text
    or an array of them: the common shingles over the smaller text's, at most 1."""
    common = jaccard * (size + sizes) / (1 + jaccard)
    return np.minimum(1.0, common / np.maximum(1, np.minimum(size, sizes)))


def shingles(text: str) -> set[bytes]:
    """Word 4-grams of the normalized text (case, accents and typography folded), UTF-8:
    what `shingle_hashes` hashes, spelled out (for the tests and the story evaluation)."""
    # Each word encoded once (not each shingle, four times as long), then the word list
    # zipped with its shifts: every run of SHINGLE_WORDS words, joined in C.
    words = tuple(map(str.encode, normal_text(text).words))
    return set(map(b" ".join, zip(*(words[i:] for i in range(SHINGLE_WORDS)), strict=False)))


def shingle_hashes(text: str) -> np.ndarray:
    """The distinct 32-bit hashes of the text's word 4-grams (see `shingles`), sorted.

    Each word is hashed once (CRC-32 of its UTF-8, mixed by MurmurHash3's 64-bit
    finalizer), and a shingle's hash is its four words' hashes combined in order and mixed
    again, all in numpy: no shingle is built as a string."""
    words = normal_text(text).words
    if len(words) < SHINGLE_WORDS:
        return np.empty(0, dtype=np.uint32)
    hashed = _fmix64(np.fromiter(map(zlib.crc32, map(str.encode, words)), dtype=np.uint64,
                                 count=len(words)))
    n = len(words) - SHINGLE_WORDS + 1
    combined = hashed[:n].copy()
    for i in range(1, SHINGLE_WORDS):
        combined *= _COMBINE
        combined ^= hashed[i:i + n]
    return np.unique((_fmix64(combined) >> np.uint64(32)).astype(np.uint32))


_COMBINE = np.uint64(0x100000001B3)  # FNV-1a's 64-bit prime


def _fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer, in place (uint64 arithmetic wraps)."""
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    return h


def fingerprint(text: str) -> Fingerprint | None:
    """The fingerprint of a text, or None if it is too short to judge."""
    return _fingerprint(shingle_hashes(text))


def article_fingerprint(lead: str | None, body: str | None) -> Fingerprint | None:
    """The fingerprint of an article: of its body, where reprints differ least (sites rewrite
    the lead), or of lead and body together when the body alone is too short to judge."""
    hashes = shingle_hashes(body or "")
    if len(hashes) < MIN_SHINGLES:
        hashes = shingle_hashes(f"{lead or ''}\n{body or ''}")
    return _fingerprint(hashes)


def _fingerprint(hashes: np.ndarray) -> Fingerprint | None:
    if len(hashes) < MIN_SHINGLES:
        return None
    return Fingerprint(minhash_of_hashes(hashes), len(hashes))


def minhash_of_hashes(hashes: np.ndarray) -> np.ndarray:
    """The MinHash signature (NUM_PERM uint32) of a set of 32-bit hashes: every
    permutation h -> a*h + b (mod 2**32) of every hash as one matrix, each row's minimum."""
    if not len(hashes):
        return np.full(NUM_PERM, np.iinfo(np.uint32).max, dtype=np.uint32)
    a, b = _permutations()
    # One row per permutation (64 x n, mod 2**32), made in place, each row's minimum read
    # along memory: the (n x 64) matrix and its column minima took over 15 times as long.
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
