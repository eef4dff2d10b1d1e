"""The sitemap spider: news sitemaps and sitemap indexes, recent entries only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import scrapy
from dateutil import parser as dateparser
from lxml import etree
from scrapy.http import Response
from scrapy.utils.gz import gunzip

from crawler.clock import utc_now
from crawler.crawl.items import FetchErrorItem
from crawler.errors import BadLink
from crawler.page.links import HttpValidators
from crawler.page.listing import ListingHint
from crawler.page.urls import entry_url
from spiders.base import SourceSpider

MAX_INDEX_DEPTH = 3


class SitemapSpider(SourceSpider):
    """Reads a sitemap (or index of sitemaps) and fetches the articles published recently.

    Scrapy's own SitemapSpider drops the nested `<news:news>` element, where news
    sitemaps keep the publication date and title, hence this small reader.

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
        body = response.body
        if body[:2] == b"\x1f\x8b":
            body = gunzip(body, max_size=self.max_bytes)
        body, cut = self.document(response, body)
        if cut:
            yield cut
        parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True)
        try:
            root = etree.fromstring(body, parser=parser)
        except etree.XMLSyntaxError as exc:
            root, problem = None, str(exc)
        else:
            problem = "empty document"
        if root is None or etree.QName(root).localname not in ("urlset", "sitemapindex"):
            yield FetchErrorItem(
                self.source.id, response.url, "sitemap-malformed",
                f"not a sitemap ({problem if root is None else etree.QName(root).localname})",
                fatal=depth == 0,
            )
            return
        cutoff = None
        if self.source.max_age_days > 0:
            cutoff = utc_now() - timedelta(days=self.source.max_age_days)
        if etree.QName(root).localname == "sitemapindex":
            # No validators for an index: the next poll reads it again.
            self.polled[response.meta["veille_poll"][0]] = HttpValidators(None, None, None)
            for loc, when in _entries(root, "sitemap"):
                if depth >= MAX_INDEX_DEPTH or (cutoff and when and when < cutoff):
                    continue
                try:  # a relative <loc> is resolved; one bad entry never costs the others
                    url = entry_url(loc, response.url)
                except BadLink as exc:
                    yield self.skipped_entry(response, ListingHint(loc, "sitemap"), str(exc))
                    continue
                yield self.poll_request(url, self.parse_sitemap, depth=depth + 1)
            return
        hints = []
        for node in root:
            if not isinstance(node.tag, str) or etree.QName(node).localname != "url":
                continue
            fields = _fields(node)
            when = _date(fields.get("publication_date") or fields.get("lastmod"))
            if not fields.get("loc") or (cutoff and when and when < cutoff):
                continue
            hint = ListingHint(
                url=fields["loc"], via="sitemap", title=fields.get("title"),
                listed_at=_date(fields.get("lastmod")) or when,
            )
            hints.append(hint)
        yield from self.article_requests(hints, response)


def _fields(node: etree._Element) -> dict[str, str]:
    """The text of every element under a <url>, by local name (news:* included)."""
    fields = {}
    for child in node.iter():
        if isinstance(child.tag, str) and child.text and child.text.strip():
            fields.setdefault(etree.QName(child).localname, child.text.strip())
    return fields


def _entries(root: etree._Element, tag: str) -> Iterator[tuple[str, datetime | None]]:
    for node in root:
        if isinstance(node.tag, str) and etree.QName(node).localname == tag:
            fields = _fields(node)
            if fields.get("loc"):
                yield fields["loc"], _date(fields.get("lastmod"))


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = dateparser.isoparse(value)
    except (ValueError, OverflowError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
