"""Author names as an editor writes them, from bylines, meta tags and JSON-LD."""

from __future__ import annotations

import re
from collections.abc import Iterable

from crawler.extract.text import clean

_AUTHOR_PREFIX_RE = re.compile(
    r"^(?:(?:written|reported|text|story|words)\s+by|propos\s+recueillis\s+par|by|par)\s*:?\s+",
    re.IGNORECASE,
)
_AUTHOR_SPLIT_RE = re.compile(r"\s*(?:,|;|&|\||\band\b|\bet\b)\s*", re.IGNORECASE)
_URL_RE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|www\.)|^/", re.IGNORECASE)


def normalize_authors(raw: Iterable[str], *, split: bool = True) -> tuple[str, ...]:
    """Clean author strings: strip "By"/"Par", split lists, drop URLs, dedupe in order."""
    authors: dict[str, str] = {}
    for value in raw:
        text = clean(value)
        if not text:
            continue
        text = _AUTHOR_PREFIX_RE.sub("", text)
        for name in _AUTHOR_SPLIT_RE.split(text) if split else [text]:
            name = name.strip(" .:-–—")
            if name and not _URL_RE.search(name):
                authors.setdefault(name.casefold(), name)
    return tuple(authors.values())
