"""The feed spider: RSS 0.9x/1.0/2.0 and Atom through feedparser, then each article page."""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
import scrapy
from scrapy.http import Response

from crawler.crawl.items import FetchErrorItem
from crawler.page.listing import ListingHint
from spiders.base import SourceSpider


class FeedSpider(SourceSpider):
    """Reads a feed's entries (guid, title, dates, categories) and fetches their pages.

    The feed is polled conditionally (see `SourceSpider`): a 304, or the body the last
    clean poll read, ends the run without parsing it.
    """

    name = "feed"
    entry_ends = (b"</item>", b"</entry>")

    def first_request(self) -> scrapy.Request:
        return self.start_request(self.parse_feed)

    def parse_feed(self, response: Response) -> Iterator[Any]:
        if self.unchanged(response):
            return
        content_type = response.headers.get("Content-Type", b"").decode("latin-1")
        body, cut = self.document(response)
        if cut:
            yield cut
        parsed, problem = read_feed(body, response.url, content_type)
        entries = parsed.entries
        if problem and not (cut and entries):  # a cut feed ends mid-element, as expected
            if not entries:
                yield FetchErrorItem(
                    self.source.id, response.url, "feed-malformed",
                    f"not a readable feed ({problem})", fatal=True,
                )
                return
            yield FetchErrorItem(
                self.source.id, response.url, "feed-malformed",
                f"feed is malformed ({problem}); its {len(entries)} entries were used anyway",
                level="warning",
            )
        elif not entries and not parsed.get("version"):
            yield FetchErrorItem(
                self.source.id, response.url, "feed-malformed",
                "not a readable feed: no RSS or Atom content found", fatal=True,
            )
            return
        hints = []
        for entry in entries:
            try:
                hint = entry_hint(entry, response.url)
            except (ValueError, OverflowError, OSError, TypeError) as exc:  # a date out of range
                yield self.skipped_entry(response, ListingHint("", "feed", title=entry.get(
                    "title")), f"unreadable entry ({type(exc).__name__}: {exc})")
                continue
            if hint is None:
                yield self.skipped_entry(response, ListingHint("", "feed", title=entry.get(
                    "title")), "it has no link")
                continue
            hints.append(hint)
        yield from self.article_requests(hints, response)


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
