"""Tests for crawler.crawl.normalize.content_hash: stored hashes must not change."""

from __future__ import annotations

import hashlib
import re
import unicodedata

from crawler.crawl.normalize import content_hash

_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "«": '"', "»": '"',
                         "–": "-", "—": "-", "\u00a0": " ", "\u202f": " "})


def hash_before(text: str) -> str:
    """content_hash as it was first written: the hashes already stored came from it."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    text = re.sub(r"\s+", " ", text).strip()
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_the_hash_of_every_character_is_unchanged() -> None:
    for block in range(0, 0x110000, 0x1000):
        text = "".join(f"{chr(c)}a{chr(c)} " for c in range(block, block + 0x1000)
                       if not 0xD800 <= c < 0xE000)
        assert content_hash(text) == hash_before(text), hex(block)


def test_typography_case_and_spacing_do_not_change_the_hash() -> None:
    plain = content_hash("L'armée a dit \"non\" - encore.")
    assert content_hash("  L’ARMÉE a\u00a0dit «non» – encore.\n") == plain
    assert content_hash("L'armée a dit \"oui\" - encore.") != plain
