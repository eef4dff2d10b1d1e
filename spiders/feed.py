"""The feed spider: RSS 0.9x/1.0/2.0 and Atom through feedparser, then each article page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.http import Response

from crawler.crawl.items import FetchErrorItem
from crawler.page.feeds import entry_hint, read_feed
from crawler.page.listing import ListingHint
from spiders.base import SourceSpider

__all__ = ["FeedSpider", "entry_hint", "read_feed"]  # the readers live in crawler.page.feeds


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
