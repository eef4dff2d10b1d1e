"""The topic spider: a listing page of articles, followed through its pagination."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from parsel import Selector
from scrapy.http import Response

from crawler.crawl.items import FetchErrorItem
from crawler.page.charset import decode_html
from crawler.page.listing import find_article_links, find_next_page
from spiders.gaps import GapFilling


class TopicSpider(GapFilling):
    """Fetches a topic page's articles, page after page, up to `max_pages`.

    Pagination stops early at a page whose articles are all stored already: on a
    live-news section, everything further back was seen by an earlier crawl. Not after
    a crawl that was killed or failed, though: that one may have stopped before page 2.

    Each page is polled conditionally (see `SourceSpider`): a page answered 304, or with
    the body the last clean poll read, is not parsed and its pagination not followed.
    A poll whose first page's links are all new is a gap (`GapFilling`): pages past
    `max_pages` are read while every link is new, then the sitemap.
    """

    name = "topic"
    entry_ends = (b"</a>", b"</A>")
    early_stop = True

    async def start(self) -> AsyncIterator[scrapy.Request]:
        assert self.local is not None
        self.early_stop = self.local.last_run_finished(self.source.id)
        yield self.first_request()

    def first_request(self) -> scrapy.Request:
        request = self.start_request(self.parse_listing)
        request.cb_kwargs["page"] = 1
        return request

    def parse_listing(self, response: Response, page: int) -> Iterator[Any]:
        # A page read past max_pages for a gap is not polled: it keeps no validators.
        if "veille_poll" in response.meta and self.unchanged(response):
            return
        body, cut = self.document(response)
        if cut:
            yield cut
        content_type = response.headers.get("Content-Type", b"").decode("latin-1") or None
        html, _ = decode_html(body, content_type, forced=self.source.encoding)
        selector = Selector(text=html, base_url=response.url)
        hints = find_article_links(selector, response.url, self.source.domains, self.source.links)
        self.crawler.stats.inc_value("veille/listing_pages")
        if not hints:
            yield FetchErrorItem(
                self.source.id, response.url, "no-links",
                f"listing page {page} has no article links"
                + (f" matching {self.source.links!r}" if self.source.links else ""),
                level="warning", fatal=page == 1,
            )
            return
        fallback = self.source.topic
        for hint in hints:
            hint.topic = hint.topic or fallback
        yield from self.article_requests(hints, response)
        if page == 1:
            self.look_for_gap("listing link")
        elif self.gap is not None:
            self.gap.next_pages.append(response.url)
            self.bridged()
        next_url = find_next_page(selector, response.url, self.source.next)
        if next_url is None or page >= self.source.max_pages:
            yield from self.after_last_page(next_url, page)
            return
        # Links another source fetches this crawl are new too: only a page of articles
        # stored by earlier crawls says everything further back was seen.
        if self.unseen == 0 and self.early_stop:
            self.crawler.stats.set_value("veille/early_stop_page", page)
            return
        request = self.poll_request(next_url, self.parse_listing, page=page + 1)
        if self.gap is not None:  # its new articles are recovered ones
            request.meta["veille_gap"] = "next"
        yield request

    def after_last_page(self, next_url: str | None, page: int) -> Iterator[Any]:
        """Past `max_pages` (or at the pagination's end) with a gap still open: the next
        pages while every link is new, then the site's sitemap."""
        if self.gap is None or self.gap.bridged:
            return
        if next_url is not None and self.may_read_more():
            yield self.gap_request(next_url, self.parse_listing, "next", page=page + 1)
        else:
            yield from self.read_sitemaps()
