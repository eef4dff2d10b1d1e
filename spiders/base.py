"""What every source spider shares: article requests, known-article checks, error items."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import scrapy
from scrapy import signals
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import (
    ConnectionRefusedError,
    DNSLookupError,
    TCPTimedOutError,
    TimeoutError,
)
from twisted.python.failure import Failure

from crawler.charset import decode_html
from crawler.config import Source
from crawler.extract import extract_article
from crawler.items import ArticleItem, FetchErrorItem, ListingHint
from crawler.storage import Store, iso
from crawler.urls import amp_to_canonical_guess, canonicalize


class SourceSpider(scrapy.Spider):
    """A spider for one configured source; subclasses parse their kind of start page."""

    name = "source"

    def __init__(self, source: Source, **kwargs: Any):
        super().__init__(name=source.id, **kwargs)
        self.source = source
        self.allowed_domains = list(source.domains)
        self.tz = ZoneInfo(source.timezone) if source.timezone else None
        self.catalog: Store | None = None

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> SourceSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        if spider.tz is None:
            spider.tz = ZoneInfo(crawler.settings.get("VEILLE_TIMEZONE", "UTC"))
        spider.catalog = Store.open(crawler.settings["VEILLE_DB"])
        crawler.signals.connect(spider.close_catalog, signal=signals.spider_closed)
        return spider

    def close_catalog(self) -> None:
        if self.catalog is not None:
            self.catalog.close()

    def start_request(self, callback: Any) -> scrapy.Request:
        return scrapy.Request(self.source.url, callback=callback, errback=self.on_start_error)

    # -- articles ------------------------------------------------------------------------

    def article_request(self, hint: ListingHint) -> scrapy.Request | None:
        """A request for the article `hint` points to, or None if it is stored and current.

        A stored article is fetched again only when its listing, feed entry or sitemap
        entry shows a time later than any the site showed for it before (its published
        and updated times, and the times listed beside its links): the site says it changed.
        """
        url = canonicalize(hint.url)
        assert self.catalog is not None
        known = self.catalog.known(url)
        guess = amp_to_canonical_guess(url)
        if known is None and guess:
            known = self.catalog.known(guess)
        if known is not None and not _changed_since(hint, known.latest_time):
            self.crawler.stats.inc_value("veille/known_skipped")
            return None
        if known is None and self.catalog.failed_for_good(url):
            self.crawler.stats.inc_value("veille/dead_link_skipped")
            return None
        return scrapy.Request(
            url, callback=self.parse_article, errback=self.on_error,
            cb_kwargs={"hint": hint}, meta={"veille_refresh": known is not None},
        )

    def parse_article(self, response: Response, hint: ListingHint) -> Iterator[Any]:
        content_type = response.headers.get("Content-Type", b"").decode("latin-1")
        if content_type and "html" not in content_type.lower():
            yield FetchErrorItem(
                self.source.id, response.url, "not-html",
                f"expected an HTML article page, got {content_type}", level="warning",
            )
            return
        html, _ = decode_html(response.body, content_type or None, forced=self.source.encoding)
        extracted = extract_article(
            html, response.url, selectors=self.source.selectors, default_tz=self.tz
        )
        yield ArticleItem(
            source_id=self.source.id, hint=hint, response_url=response.url,
            redirect_urls=tuple(response.meta.get("redirect_urls", ())),
            extracted=extracted, fallback_topic=self.source.topic,
            default_language=self.source.language,
        )

    # -- failures ------------------------------------------------------------------------

    def on_error(self, failure: Failure) -> Iterator[FetchErrorItem]:
        kind, message, level = describe_failure(failure)
        yield FetchErrorItem(self.source.id, failure.request.url, kind, message, level=level)

    def on_start_error(self, failure: Failure) -> Iterator[FetchErrorItem]:
        kind, message, _ = describe_failure(failure)
        yield FetchErrorItem(self.source.id, failure.request.url, kind, message, fatal=True)


def _changed_since(hint: ListingHint, latest_time: str | None) -> bool:
    if hint.listed_at is None:
        return False
    return (iso(hint.listed_at) or "") > (latest_time or "")


def describe_failure(failure: Failure) -> tuple[str, str, str]:
    """(kind, message, level) for a failed request, in words a desk editor can act on."""
    exc = failure.value
    if failure.check(HttpError):
        status = exc.response.status
        kind = "gone" if status in (404, 410) else "http"
        return kind, f"HTTP {status} from {exc.response.url}", "error"
    url = failure.request.url
    if failure.check(CannotResolveHostError, DNSLookupError):
        return "dns", f"host not found: {url}", "error"
    if failure.check(DownloadConnectionRefusedError, ConnectionRefusedError):
        return "connection", f"connection refused: {url}", "error"
    if failure.check(DownloadTimeoutError, TimeoutError, TCPTimedOutError):
        return "timeout", f"timed out: {url}", "error"
    if failure.check(ResponseDataLossError, DownloadFailedError):
        return "download", f"download failed ({exc}): {url}", "error"
    if failure.check(IgnoreRequest):
        # Robots.txt exclusions and over-size responses land here.
        return "ignored", f"not fetched: {exc or 'request ignored'}", "warning"
    return type(exc).__name__, f"{type(exc).__name__}: {exc}", "error"
