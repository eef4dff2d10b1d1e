"""Reading a feed's bytes: feedparser's reading and what each entry says about its article.

Used by the feed spider and by `veille add` / `veille try` (which must not need Scrapy).
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from crawler.page.listing import ListingHint

# What feedparser flags as "bozo" although the feed itself is fine.
_HARMLESS = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)


def read_feed(body: bytes, url: str, content_type: str | None = None) -> tuple[Any, str | None]:
    """feedparser's reading of a feed, and what is wrong with it (None if nothing is).

    feedparser gets the bytes (never a URL: its own fetch has no timeout) and the URL as
    content-location so that relative links resolve. A wrong Content-Type header or
    charset label is not a defect of the feed: feedparser copes, and so do we.
    """
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(body, response_headers=headers)
    exc = parsed.get("bozo_exception")
    if not parsed.bozo or (isinstance(exc, _HARMLESS) and parsed.get("version")):
        return parsed, None
    return parsed, f"{type(exc).__name__}: {exc}"


def entry_hint(entry: Any, feed_url: str) -> ListingHint | None:
    """A listing hint from a feedparser entry, or None if it has no usable link."""
    link = entry.get("link")
    if not link and entry.get("guidislink"):
        link = entry.get("id")
    if not link:
        return None
    categories = tuple(t.get("term") for t in entry.get("tags", []) if t.get("term"))
    # dict.get: feedparser's own .get("updated_parsed") falls back to published, noisily.
    when = dict.get(entry, "updated_parsed") or dict.get(entry, "published_parsed")
    try:
        url = urljoin(feed_url, link)
    except ValueError:  # malformed: the spider records it as a skipped entry
        url = link
    return ListingHint(
        url=url, via="feed",
        topic=categories[0] if categories else None,
        # feedparser's struct_time is UTC: timegm, never mktime (local time).
        listed_at=datetime.fromtimestamp(calendar.timegm(when), UTC) if when else None,
        title=entry.get("title"), guid=entry.get("id"), categories=categories,
    )
