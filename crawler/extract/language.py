"""The article's language: declared (html lang, og:locale, JSON-LD) or detected."""

from __future__ import annotations

import re

import py3langid

_LANGUAGE_RE = re.compile(r"^([a-z]{2})(?:[-_]|$)", re.IGNORECASE)
_MIN_DETECTION_CHARS = 40
# <base href> belongs in <head>; no need to scan a whole long page for it.

def language_code(value: str | None) -> str | None:
    match = _LANGUAGE_RE.match(value.strip()) if value else None
    return match.group(1).lower() if match else None


def detect_language(text: str) -> str | None:
    if len(text) < _MIN_DETECTION_CHARS:
        return None
    language, _score = py3langid.classify(text[:5000])
    return language_code(language)
