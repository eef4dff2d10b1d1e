"""Scrapy middlewares: retries that back off (as the server asks), redirects refused with a
reason, the part of a cut-off listing kept, robots.txt kept between crawls, meta refresh
read from the head of a page only, and parse failures recorded, not lost."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware, RedirectMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest, StopDownload
from scrapy.http import Request, Response
from scrapy.robotstxt import RobotParser
from scrapy.utils.asyncio import sleep
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler

from crawler.clock import utc_now
from crawler.crawl.items import FetchErrorItem
from crawler.crawl.ledger import open_store, release_store
from crawler.page.urls import canonicalize, same_site
from crawler.record.store import Store

LOGGER = logging.getLogger(__name__)


class RetryBackoffMiddleware:
    """Delays each retry of a request: as the server asks, else exponentially (Scrapy
    retries at once otherwise).

    Scrapy's RetryMiddleware marks a retry with meta["retry_times"]; this one waits
    VEILLE_RETRY_BACKOFF * 2**(n-1) seconds before the n-th retry goes out, or the
    `Retry-After` of the 429 or 503 answer (seconds or an HTTP date) when that is longer.
    A server that asks for more than VEILLE_RETRY_AFTER_MAX seconds is not retried in this
    crawl: its answer is the page's failure, and the next crawl tries again.
    """

    def __init__(self, base_delay: float, retry_after_max: float = 120.0):
        self.base_delay = base_delay
        self.retry_after_max = retry_after_max

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryBackoffMiddleware:
        return cls(crawler.settings.getfloat("VEILLE_RETRY_BACKOFF", 1.0),
                   crawler.settings.getfloat("VEILLE_RETRY_AFTER_MAX", 120.0))

    async def process_request(self, request: Request) -> None:
        retries = request.meta.get("retry_times", 0)
        if not retries:
            return
        delay = max(self.base_delay * 2 ** (retries - 1) if self.base_delay > 0 else 0.0,
                    request.meta.get("veille_retry_after", 0.0))
        if delay > 0:
            await sleep(delay)

    def process_response(self, request: Request, response: Response) -> Response:
        # Runs before RetryMiddleware sees the answer (a higher order, nearer the download).
        if response.status not in (429, 503):
            return response
        asked = retry_after(response.headers.get("Retry-After"))
        if asked is None:
            return response
        if asked > self.retry_after_max:
            request.meta["dont_retry"] = True
            LOGGER.warning("%s answered %d with Retry-After %.0f s, over the %.0f s a crawl "
                           "waits: left to the next crawl", request.url, response.status,
                           asked, self.retry_after_max)
        else:
            request.meta["veille_retry_after"] = asked  # copied into the retry request
        return response


def retry_after(value: bytes | None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP date), or None."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - utc_now()).total_seconds())


class RedirectRefused(IgnoreRequest):
    """A redirect Veille does not follow: off the source's domains, to another port of the
    same host, or back to a URL of its own chain (a loop). The page's failure, recorded."""


class GuardedRedirectMiddleware(RedirectMiddleware):
    """Scrapy's redirects, refused with a reason instead of dropped in silence.

    Scrapy drops a redirect off the allowed domains (its offsite filter) and the second
    visit of a loop (its duplicate filter) without a word: the page was simply missing
    from the record. A redirect to another port of the same host (another service) was
    followed. Each is now a `RedirectRefused`, which the spider records as the page's
    failure (`redirect` in fetch_errors).
    """

    def process_response(self, request: Request, response: Response,
                         spider: Any = None) -> Request | Response:
        result = super().process_response(request, response)
        if isinstance(result, Request) and result is not request:
            self._check(request, result.url)
        elif 300 <= response.status < 400 and (location := response.headers.get("Location")):
            # Scrapy passes a redirect to ftp:, file:, javascript:... on as the answer.
            target = location.decode("latin-1").strip()
            if urlsplit(target).scheme.lower() not in ("", "http", "https"):
                raise RedirectRefused(f"redirect to a non-http(s) URL: {request.url} -> "
                                      f"{target[:200]}")
        return result

    def _check(self, request: Request, target: str) -> None:
        chain = [canonicalize(url) for url in (*request.meta.get("redirect_urls", ()),
                                               request.url)]
        to = canonicalize(target)
        if to in chain:
            raise RedirectRefused(f"redirect loop: {request.url} leads back to {target}")
        # Canonical URLs carry no default port: another port is another service.
        first, moved = urlsplit(chain[0]), urlsplit(to)
        if (moved.scheme, moved.hostname) == (first.scheme, first.hostname) \
                and moved.port != first.port:
            raise RedirectRefused(f"redirect to another port of the host: {request.url} -> "
                                  f"{target}")
        # The source's domains: a `veille worker`'s spider crawls for many sources.
        spider = self.crawler.spider
        domains = tuple(spider.domains_of(request.meta["veille_source"])
                        if "veille_source" in request.meta and hasattr(spider, "domains_of")
                        else getattr(spider, "allowed_domains", None) or ())
        if domains and not same_site(target, domains):
            raise RedirectRefused(f"redirect off the source's domains ({', '.join(domains)}): "
                                  f"{request.url} -> {target}")


class CutOffMiddleware:
    """Keeps what arrived of a listing, feed or sitemap that is larger than
    DOWNLOAD_MAXSIZE, or whose connection broke before its end, instead of none of it.

    Scrapy cancels an over-size download (on its Content-Length alone, before any byte)
    and fails a body cut short by the server: a 1 GB sitemap, or a feed whose connection
    drops after 900 entries, cost every entry. A poll carries meta["veille_cut_at"] (the
    spiders set it to DOWNLOAD_MAXSIZE): its download is stopped once that many bytes have
    arrived, with what arrived (flag "download_stopped"), and a body cut short is kept
    (flag "dataloss"). The spider reads the entries of the part it has and records the
    document as cut off: the run is partial. Article pages keep Scrapy's limits: half an
    article is not stored. Decompression still stops at the limit (a gzip bomb is refused).
    """

    # Its place, 595 (crawl/process.py), is between the redirects (600) and decompression (590):
    # it gives the limit back to the request before HttpCompressionMiddleware reads it.

    def __init__(self, crawler: Crawler):
        crawler.signals.connect(self.bytes_received, signal=signals.bytes_received)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CutOffMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Any = None) -> None:
        # Bytes received, of every request: a download Scrapy cancels for its size says
        # nothing else about why (see spiders.base.describe_failure).
        request.meta["veille_received"] = 0
        if request.meta.get("veille_cut_at"):
            request.meta["download_maxsize"] = 0  # else the handler drops the whole body
            request.meta["download_fail_on_dataloss"] = False

    def bytes_received(self, data: bytes, request: Request, spider: Any) -> None:
        received = request.meta.get("veille_received", 0) + len(data)
        request.meta["veille_received"] = received
        cap = request.meta.get("veille_cut_at")
        if cap and received >= cap:
            raise StopDownload(fail=False)

    def process_response(self, request: Request, response: Response,
                         spider: Any = None) -> Response:
        cap = request.meta.get("veille_cut_at")
        if cap:
            request.meta["download_maxsize"] = cap
        return response


def cut_off(response: Response) -> str | None:
    """Why a listing, feed or sitemap response holds only the start of its document (see
    `CutOffMiddleware`), or None when it is whole."""
    if "download_stopped" in response.flags:
        return f"larger than max_response_kb ({response.meta['veille_cut_at'] // 1024} KB)"
    if "dataloss" in response.flags:
        return "the server closed the connection before its end"
    return None


class FetchedElsewhere(IgnoreRequest):
    """An article page left to the run of another source, which fetches it this crawl."""


class OneFetchMiddleware:
    """One fetch per article per crawl, checked again as each article request goes out.

    A source's spider claims each new link when it reads its listing (`Store.list_links`).
    By the time the request is downloaded, or when a redirect leads elsewhere, another
    source's run may have stored the same article under another URL (a canonical or AMP
    alias), or may hold the claim on the URL the redirect leads to: the request is then
    dropped with `FetchedElsewhere`, which the spider counts, and no page is downloaded.
    Only on a single machine: `veille worker`s share a duplicate filter instead.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> OneFetchMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        link = request.meta.get("veille_link")
        spider = self.crawler.spider
        if link is None or getattr(spider, "local", None) is None:
            return
        # The listed link's request goes out under its canonical URL; a redirect's may not.
        url = link.url if request.url == link.url else canonicalize(request.url)
        run_id = self.crawler.stats.get_value("veille/run_id")
        if spider.local.fetched_elsewhere(url, spider.source.id, run_id,
                                            claimed=url == link.key):
            raise FetchedElsewhere(f"another source fetches {url} in this crawl")


# Scrapy looks for a meta refresh in the first 4,096 characters of a page: at most this
# many bytes in any encoding whose markup is ASCII-compatible.
META_REFRESH_HEAD_BYTES = 4096 * 4


class HeadMetaRefreshMiddleware(MetaRefreshMiddleware):
    """Scrapy's meta-refresh redirects, without decoding every page whole to look for one.

    Scrapy's middleware reads `response.text`, which decodes the whole body and keeps the
    text on the response, beside its bytes, until the page is parsed: a second copy of
    every page in flight (a third, with the spider's own decoding). A page whose first
    bytes do not say "refresh" cannot have a meta refresh where Scrapy looks for one, so
    it is passed on untouched. The others, and pages in an encoding whose markup is not
    ASCII (a NUL byte in the head: UTF-16 or UTF-32), go to Scrapy's middleware.
    """

    def process_response(self, request: Request, response: Response,
                         spider: Any = None) -> Request | Response:
        head = response.body[:META_REFRESH_HEAD_BYTES]
        if b"\x00" not in head and b"refresh" not in head.lower():
            return response
        return super().process_response(request, response)


class CachedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, with each origin's robots.txt kept in `robots_cache`.

    Every crawl is a fresh process, so Scrapy alone fetches robots.txt on every poll. A
    copy fetched less than VEILLE_ROBOTS_TTL seconds ago (default a day) is used instead.
    A fetched robots.txt is saved with its status; a 4xx one means "allow all" (RFC 9309)
    and is cached as such; a network error, a 429 or a 5xx answer is not cached.
    """

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)  # NotConfigured when ROBOTSTXT_OBEY is off
        self.ttl = crawler.settings.getfloat("VEILLE_ROBOTS_TTL", 86400)
        # The crawl's one connection (shared with the spiders and pipelines), taken at
        # the first lookup, not one opened for every origin's lookup and save; none in
        # a `veille worker`, whose subclass keeps robots.txt in Redis.
        self._store: Store | None = None
        crawler.signals.connect(self.closed, signal=signals.spider_closed)

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.crawler.settings)
        return self._store

    def closed(self) -> None:
        if self._store is not None:
            release_store(self._store)
            self._store = None

    async def robot_parser(self, request: Request) -> RobotParser | None:
        url = urlparse_cached(request)
        if url.netloc not in self._parsers:
            cached = self.cached(f"{url.scheme}://{url.netloc}")
            if cached is not None:
                self._stats.inc_value("veille/robots_cached")
                rp = self._parser(*cached)
                self._parsers[url.netloc] = rp
                await self.crawler.signals.send_catch_log_async(
                    signal=signals.robots_parsed, robotparser=rp, request=request
                )
        return await super().robot_parser(request)

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        if response.status < 500 and response.status != 429:
            url = urlparse_cached(request)
            self.save(f"{url.scheme}://{netloc}", response.status, response.body)
        if response.status >= 400:
            # What a 4xx page says is no rule: build the parser from nothing.
            response = response.replace(body=b"")
        await super()._parse_robots(response, netloc, request)

    def cached(self, origin: str) -> tuple[int, bytes] | None:
        """(status, body) of a robots.txt fetched less than the TTL ago, if any."""
        return self.store.cached_robots(origin, self.ttl)

    def save(self, origin: str, status: int, body: bytes) -> None:
        self.store.save_robots(origin, status, body)

    def _parser(self, status: int, body: bytes) -> RobotParser:
        return build_from_crawler(self._parserimpl, self.crawler, body if status < 400 else b"")


class ParseErrorMiddleware:
    """A callback that raises on a page records the failure instead of vanishing in a log."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ParseErrorMiddleware:
        return cls(crawler)

    def process_spider_exception(
        self, response: Response, exception: Exception
    ) -> Iterable[Any] | None:
        spider = self.crawler.spider
        # One line, as for any page's defect; the traceback is for -vv (a bug to report).
        LOGGER.error("%s: failed to parse %s: %s: %s", spider.name, response.url,
                     type(exception).__name__, exception)
        LOGGER.debug("%s: parse failure on %s", spider.name, response.url, exc_info=exception)
        source_id = response.meta.get(
            "veille_source", getattr(getattr(spider, "source", None), "id", spider.name))
        return [
            FetchErrorItem(
                source_id, response.url, "parse",
                f"could not parse the page: {type(exception).__name__}: {exception}",
                run_id=response.meta.get("veille_run"),
            )
        ]
