"""Filling a gap: the documents a feed or topic spider reads past its poll when every item
the poll listed was new (`crawler.crawl.gaps`): next pages, then the site's sitemap."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response
from scrapy.utils.sitemap import sitemap_urls_from_robots
from twisted.python.failure import Failure

from crawler.clock import parse_time
from crawler.crawl.gaps import GAP_MARGIN, Gap
from crawler.crawl.items import FetchErrorItem
from crawler.errors import BadLink
from crawler.page.sitemaps import MAX_INDEX_DEPTH, sitemap_entries, sitemap_hints
from crawler.page.urls import entry_url, same_site
from spiders.base import SourceSpider, describe_failure


class GapFilling(SourceSpider):
    """A source spider that notices gaps in its polls and reads further to fill them.

    A gap: after an earlier successful poll, the polled document's links are all new
    (none stored before this crawl), so items published since may have scrolled off it.
    The spider then follows its next pages (RFC 5005 `rel="next"` of a feed; a topic
    page's pagination past `max_pages`) while every link is new, and, when they end
    before a known link, reads the site's sitemap, keeping the entries dated since the
    previous poll. At most `gap_pages` documents are read further (robots.txt aside). A
    document that cannot be read is a one-line warning: the run has its poll already.
    Not on a `veille worker`, which has no record of earlier runs.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.gap: Gap | None = None
        self.gap_reads = 0  # documents read (or asked for) to fill the gap

    @property
    def gap_pages(self) -> int:
        if self.source.gap_pages is not None:
            return self.source.gap_pages
        return self.settings.getint("VEILLE_GAP_PAGES", 10)

    def look_for_gap(self, what: str) -> bool:
        """After the polled document's `article_requests`: whether all its links were new
        after an earlier successful poll (`what` they were: "feed item"); opens the gap."""
        if self.gap is not None or self.fresh == 0 or self.unseen < self.fresh:
            return False
        run_id = self.crawler.stats.get_value("veille/run_id")
        # No record of earlier polls on a `veille worker` (no local ledger): no gap there.
        if self.local is None or run_id is None:
            return False
        since = self.local.previous_poll(self.source.id, run_id)
        if since is None:  # the source's first crawl: everything is new
            return False
        # Links listed at an earlier poll whose fetches all failed are not stored, yet
        # known: the poll is no gap.
        if self.local.listed_before(self.source.id, self.fresh_keys, run_id):
            return False
        self.gap = Gap(since, self.fresh, what)
        self.crawler.stats.set_value("veille/gap", self.fresh)
        return True

    def bridged(self) -> bool:
        """Whether the gap is closed: a page read for it showed a link known before (or
        no link not seen on an earlier page of this run)."""
        assert self.gap is not None
        if self.fresh == 0 or self.unseen < self.fresh:
            self.gap.bridged = True
        return self.gap.bridged

    def may_read_more(self) -> bool:
        return self.gap is not None and not self.gap.bridged and self.gap_reads < self.gap_pages

    def site_wide(self, response: Response) -> bool:
        """A sitemap read for a gap lists the site's articles, unless it is the one the
        source names (`sitemap = URL`, a topic sitemap): those do not take the source's
        topic label (they are credited to the source, though: it led to them)."""
        return (response.meta.get("veille_gap") == "sitemap"
                and not isinstance(self.source.sitemap, str))

    def gap_request(self, url: str, callback: Any, step: str, **cb_kwargs: Any
                    ) -> scrapy.Request:
        """A plain GET of a document read for the gap (no validators: none is kept)."""
        self.gap_reads += step != "robots"
        return scrapy.Request(
            url, callback=callback, errback=self.on_gap_error, cb_kwargs=cb_kwargs,
            dont_filter=True,
            meta={"veille_gap": step, "veille_cut_at": self.max_bytes},
        )

    def on_gap_error(self, failure: Failure) -> Iterator[Any]:
        """An extra document that could not be read: a warning, then the next way on."""
        step = failure.request.meta["veille_gap"]
        if step == "robots":  # no robots.txt: the sitemap at its usual place
            yield from self.read_sitemap_at(self.origin_url("/sitemap.xml"))
            return
        yield self.gap_warning(failure.request.url, describe_failure(failure, self.max_bytes)[1])
        if step == "next":
            yield from self.read_sitemaps()

    def gap_warning(self, url: str, why: str) -> FetchErrorItem:
        assert self.gap is not None
        self.gap.failed.append(url)
        message = f"gap: {why}" if url in why else f"gap: {url}: {why}"
        return FetchErrorItem(self.source.id, url, "gap-fill", message, level="warning")

    def origin_url(self, path: str) -> str:
        parts = urlsplit(self.source.url)
        return f"{parts.scheme}://{parts.netloc}{path}"

    # -- the site's sitemap ------------------------------------------------------------

    def read_sitemaps(self) -> Iterator[Any]:
        """The sitemap for the gap's interval: the source's `sitemap`, else the
        `Sitemap:` lines of robots.txt, else /sitemap.xml (none with `sitemap = false`)."""
        if not self.may_read_more() or self.source.sitemap is False:
            return
        if isinstance(self.source.sitemap, str):
            yield from self.read_sitemap_at(self.source.sitemap)
            return
        yield self.gap_request(self.origin_url("/robots.txt"), self.parse_gap_robots, "robots")

    def read_sitemap_at(self, url: str, depth: int = 0) -> Iterator[scrapy.Request]:
        if self.may_read_more():
            yield self.gap_request(url, self.parse_gap_sitemap, "sitemap", depth=depth)

    def parse_gap_robots(self, response: Response) -> Iterator[Any]:
        assert self.gap is not None
        self.gap.robots = response.url
        found = []  # Scrapy's reader of `Sitemap:` lines, made absolute against robots.txt
        for url in sitemap_urls_from_robots(response.body, base_url=response.url):
            # (an empty `Sitemap:` line comes back as robots.txt's own URL)
            if url != response.url and same_site(url, self.source.domains) \
                    and url not in found:
                found.append(url)
        for url in found or [self.origin_url("/sitemap.xml")]:
            yield from self.read_sitemap_at(url)

    def parse_gap_sitemap(self, response: Response, depth: int) -> Iterator[Any]:
        assert self.gap is not None
        try:
            root, name, cut = self.sitemap_document(response)
        except (OSError, EOFError) as exc:  # a truncated or bad gzip member
            yield self.gap_warning(response.url, f"not a sitemap ({exc})")
            return
        if cut:
            yield cut
        if root is None:
            yield self.gap_warning(response.url, f"not a sitemap ({name})")
            return
        self.gap.sitemaps.append(response.url)
        cutoff = self.gap_cutoff()
        if name == "sitemapindex":
            if depth >= MAX_INDEX_DEPTH:
                return
            # The sitemaps changed since the gap opened first (newest first), then the
            # undated ones, up to the limit.
            children = sorted(((loc, when) for loc, when in sitemap_entries(root, "sitemap")
                               if when is None or when >= cutoff),
                              key=lambda entry: (entry[1] is None, -(entry[1] or cutoff)
                                                 .timestamp()))
            for loc, _ in children:
                try:
                    url = entry_url(loc, response.url)
                except BadLink as exc:
                    yield self.gap_warning(loc, str(exc))
                    continue
                yield from self.read_sitemap_at(url, depth + 1)
            return
        # Only entries dated within the gap: an undated one may be years old.
        hints = [hint for hint in sitemap_hints(root, cutoff)
                 if hint.listed_at is not None and hint.listed_at >= cutoff]
        yield from self.article_requests(hints, response)

    def gap_cutoff(self) -> datetime:
        """The earliest time an entry may have for the gap: its start, less a margin."""
        assert self.gap is not None
        since = parse_time(self.gap.since)
        assert since is not None
        return since - GAP_MARGIN
