"""The sitemap spider: news sitemaps and sitemap indexes, recent entries only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import scrapy
from scrapy.http import Response

from crawler.clock import utc_now
from crawler.crawl.items import FetchErrorItem
from crawler.errors import BadLink
from crawler.page.links import HttpValidators
from crawler.page.listing import ListingHint
from crawler.page.sitemaps import MAX_INDEX_DEPTH, sitemap_entries, sitemap_hints
from crawler.page.urls import entry_url
from spiders.base import SourceSpider


class SitemapSpider(SourceSpider):
    """Reads a sitemap (or index of sitemaps) and fetches the articles published recently.

    Scrapy's own SitemapSpider drops the nested `<news:news>` element, where news
    sitemaps keep the publication date and title, hence the reader of
    `crawler.page.sitemaps`.

    Sitemaps of URLs are polled conditionally (see `SourceSpider`); an index is always
    read in full, because it need not change when its sitemaps do (a static index of
    `sitemap-news.xml` is common), and its sitemaps are then polled conditionally.
    """

    name = "sitemap"
    entry_ends = (b"</url>", b"</sitemap>")

    def first_request(self) -> scrapy.Request:
        request = self.start_request(self.parse_sitemap)
        request.cb_kwargs["depth"] = 0
        return request

    def parse_sitemap(self, response: Response, depth: int) -> Iterator[Any]:
        if self.unchanged(response):
            return
        root, name, cut = self.sitemap_document(response)
        if cut:
            yield cut
        if root is None:
            yield FetchErrorItem(
                self.source.id, response.url, "sitemap-malformed", f"not a sitemap ({name})",
                fatal=depth == 0,
            )
            return
        cutoff = None
        if self.source.max_age_days > 0:
            cutoff = utc_now() - timedelta(days=self.source.max_age_days)
        if name == "sitemapindex":
            # No validators for an index: the next poll reads it again.
            self.polled[response.meta["veille_poll"][0]] = HttpValidators(None, None, None)
            for loc, when in sitemap_entries(root, "sitemap"):
                if depth >= MAX_INDEX_DEPTH or (cutoff and when and when < cutoff):
                    continue
                try:  # a relative <loc> is resolved; one bad entry never costs the others
                    url = entry_url(loc, response.url)
                except BadLink as exc:
                    yield self.skipped_entry(response, ListingHint(loc, "sitemap"), str(exc))
                    continue
                yield self.poll_request(url, self.parse_sitemap, depth=depth + 1)
            return
        hints = sitemap_hints(root, cutoff)
        yield from self.article_requests(hints, response)

