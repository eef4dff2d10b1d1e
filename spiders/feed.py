"""The feed spider: RSS 0.9x/1.0/2.0 and Atom through feedparser, then each article page."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response

from crawler.crawl.items import FetchErrorItem
from crawler.page.feeds import entry_hint, read_feed
from crawler.page.listing import ListingHint
from spiders.gaps import GapFilling

__all__ = ["FeedSpider", "entry_hint", "read_feed"]  # the readers live in crawler.page.feeds


class FeedSpider(GapFilling):
    """Reads a feed's entries (guid, title, dates, categories) and fetches their pages.

    The feed is polled conditionally (see `SourceSpider`): a 304, or the body the last
    clean poll read, ends the run without parsing it. A poll whose entries are all new
    is a gap (`GapFilling`): the feed's `rel="next"` pages are read, then the sitemap.
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
        hints = yield from self.entry_hints(entries, response)
        yield from self.article_requests(hints, response)
        if self.look_for_gap("feed item"):
            yield from self.after_gap_page(parsed)

    def entry_hints(self, entries: list[Any], response: Response
                    ) -> Generator[FetchErrorItem, None, list[ListingHint]]:
        """The hints of a feed's entries; an entry without a usable link or date is a
        skipped entry (yielded), never the end of the others."""
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
        return hints

    # -- a gap: the feed's archive pages (RFC 5005), then the site's sitemap ----------------

    def after_gap_page(self, parsed: Any) -> Iterator[Any]:
        """The feed's next page while the gap is open, else the sitemap."""
        next_url = next((link.get("href") for link in parsed.feed.get("links", [])
                         if link.get("rel") == "next" and link.get("href")), None)
        if next_url and self.may_read_more():
            yield self.gap_request(next_url, self.parse_gap_page, "next")
        elif self.gap is not None and not self.gap.bridged:
            yield from self.read_sitemaps()

    def parse_gap_page(self, response: Response) -> Iterator[Any]:
        """A next page of the feed, read for a gap: its entries, then further."""
        assert self.gap is not None
        content_type = response.headers.get("Content-Type", b"").decode("latin-1")
        body, cut = self.document(response)
        if cut:
            yield cut
        parsed, problem = read_feed(body, response.url, content_type)
        if not parsed.entries:
            yield self.gap_warning(response.url, f"not a readable feed ({problem or 'no entries'})")
            yield from self.read_sitemaps()
            return
        self.gap.next_pages.append(response.url)
        hints = yield from self.entry_hints(parsed.entries, response)
        yield from self.article_requests(hints, response)
        if not self.bridged():
            yield from self.after_gap_page(parsed)
