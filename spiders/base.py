"""What every source spider shares: conditional polls of listing and feed URLs, article
requests, known-article checks, error items."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import scrapy
from scrapy import signals
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.gz import gunzip
from twisted.internet.error import (
    ConnectionRefusedError,
    DNSLookupError,
    TCPTimedOutError,
    TimeoutError,
)
from twisted.python.failure import Failure

from crawler.clock import stamp
from crawler.config.model import Source
from crawler.crawl.items import ArticleItem, FetchErrorItem
from crawler.crawl.ledger import (
    Ledger,
    LocalLedger,
    PageKeeper,
    open_store,
    page_keeper,
    release_store,
)
from crawler.crawl.middlewares import FetchedElsewhere, RedirectRefused, cut_off
from crawler.errors import BadLink
from crawler.page.charset import decode_html
from crawler.page.extract import extract_article
from crawler.page.links import DEAD, ELSEWHERE, FETCH, UNCHANGED, HttpValidators, Link
from crawler.page.listing import ListingHint
from crawler.page.sitemaps import parse_sitemap
from crawler.page.urls import amp_to_canonical_guess, canonicalize, entry_link, same_site


class SourceSpider(scrapy.Spider):
    """A spider for one configured source; subclasses parse their kind of start page.

    Listing, feed and sitemap URLs are polled with a conditional GET (`poll_request`): the
    ETag and Last-Modified saved by the last clean poll go out as If-None-Match and
    If-Modified-Since. A 304, or a 200 whose body hashes as the saved one, ends that URL
    without parsing it (`unchanged`). The validators a run sees are written only when it
    closes "finished" with no fatal failure, no error recorded (fetch, parse or store): a
    run killed or failing after reading a new listing, and before storing its articles,
    keeps the old validators, so the next poll reads that listing again.
    """

    name = "source"
    # The end tags of one entry of this spider's documents: where a cut-off one is read to.
    entry_ends: tuple[bytes, ...] = ()

    def __init__(self, source: Source, **kwargs: Any):
        super().__init__(name=source.id, **kwargs)
        self.source = source
        self.allowed_domains = list(source.domains)
        self.tz = ZoneInfo(source.timezone) if source.timezone else None
        # What this spider asks before it fetches (`crawler.crawl.ledger`): the crawl's
        # store on one machine, set by `from_crawler`; a `veille worker` sets its Redis
        # ledger, and leaves `local` (what only a database answers) and `pages` None.
        self.ledger: Ledger | None = None
        self.local: LocalLedger | None = None
        # Where fetched article pages are kept (WARC files beside the database).
        self.pages: PageKeeper | None = None
        # Validators of the URLs polled in this run, saved by `spider_closed` if it was clean.
        self.polled: dict[str, HttpValidators] = {}
        # The article URLs this run's listings named so far (each is decided once), and
        # how many of the last listing page's links were not stored before this crawl.
        self.listed: set[str] = set()
        self.unseen = 0
        self.fresh = 0  # the links of the last listing page not on an earlier page
        self.fresh_keys: list[str] = []  # their claim keys (`Link.key`)

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> SourceSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        if spider.tz is None:
            spider.tz = ZoneInfo(crawler.settings.get("VEILLE_TIMEZONE", "UTC"))
        spider.ledger = spider.local = open_store(crawler.settings)
        spider.pages = page_keeper(crawler.settings)
        crawler.signals.connect(spider.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(spider.item_failed, signal=signals.item_error)
        return spider

    def domains_of(self, source_id: str) -> tuple[str, ...]:
        """The domains of the source an item came from (this spider's: it crawls one)."""
        return tuple(self.allowed_domains)

    def item_failed(self) -> None:
        # A pipeline raised: that article was not stored (Scrapy only logs it).
        self.crawler.stats.inc_value("veille/item_errors")

    def spider_closed(self, reason: str) -> None:
        """Save the run's validators if the run was clean (see the class docstring)."""
        if self.local is None:
            return
        try:
            if self.polled and self.clean_run(reason):
                self.local.save_validators(self.source.id, self.polled)
        finally:
            release_store(self.local)
            self.ledger = self.local = None

    def clean_run(self, reason: str) -> bool:
        """Whether every listing this run read had all its articles stored or skipped.

        Per-crawler counts only: log_count/* is shared by the crawlers of one process.
        """
        stats = self.crawler.stats
        return reason == "finished" and not any(
            stats.get_value(key) for key in (
                "veille/fatal", "veille/errors", "veille/item_errors", "spider_exceptions/count",
            )
        )

    def start_request(self, callback: Any) -> scrapy.Request:
        return self.poll_request(self.source.url, callback, errback=self.on_start_error)

    def first_request(self) -> scrapy.Request:
        """The poll of the source's own URL that starts a run (subclasses say which
        callback reads it). `veille worker` calls it for each run it is handed."""
        raise NotImplementedError

    async def start(self) -> AsyncIterator[scrapy.Request]:
        yield self.first_request()

    # -- polls of listing, feed and sitemap URLs ---------------------------------------

    def poll_request(
        self, url: str, callback: Any, errback: Any = None, **cb_kwargs: Any
    ) -> scrapy.Request:
        """A GET of a listing, feed or sitemap URL, conditional on its saved validators."""
        assert self.ledger is not None
        known = self.ledger.validators(url)
        headers = {}
        if known is not None and known.etag:
            headers["If-None-Match"] = known.etag
        if known is not None and known.last_modified:
            headers["If-Modified-Since"] = known.last_modified
        return scrapy.Request(
            url, callback=callback, errback=errback or self.on_error, headers=headers,
            cb_kwargs=cb_kwargs,
            # HttpErrorMiddleware drops a 304 unless allowed. Scrapy's HTTP cache stays off:
            # it would answer with its stored copy instead of asking the site.
            # A document over DOWNLOAD_MAXSIZE, or cut short, is read as far as it came
            # (`CutOffMiddleware`): its entries are not all lost.
            meta={"handle_httpstatus_list": [304], "veille_poll": (url, known),
                  "veille_cut_at": self.max_bytes},
        )

    def unchanged(self, response: Response) -> bool:
        """Whether a polled URL shows what the last clean poll read (a 304 or the same
        body), in which case it needs no parsing. Keeps its validators for the run's end."""
        url, known = response.meta["veille_poll"]
        etag, modified = _header(response, b"ETag"), _header(response, b"Last-Modified")
        if response.status == 304:
            self.crawler.stats.inc_value("veille/not_modified")
            if known is not None:
                self.polled[url] = HttpValidators(
                    etag or known.etag, modified or known.last_modified, known.body_hash
                )
            return True
        body_hash = hashlib.sha256(response.body).hexdigest()
        self.polled[url] = HttpValidators(etag, modified, body_hash)
        if known is not None and known.body_hash == body_hash:
            self.crawler.stats.inc_value("veille/unchanged_body")
            return True
        return False

    @property
    def max_bytes(self) -> int:
        """The largest response a crawl reads (DOWNLOAD_MAXSIZE, from max_response_kb)."""
        return self.settings.getint("DOWNLOAD_MAXSIZE")

    def document(self, response: Response, body: bytes | None = None
                 ) -> tuple[bytes, FetchErrorItem | None]:
        """The listing, feed or sitemap to read (`body`, unpacked, else the response's),
        and the error row when only its start arrived (`CutOffMiddleware`): it is then
        read up to its last whole entry (`entry_ends`), since the entry the cut fell in
        may hold half a URL; the run is partial, and its validators not kept."""
        body = response.body if body is None else body
        why = cut_off(response)
        if why is None:
            return body, None
        self.crawler.stats.inc_value("veille/cut_off")
        size = len(response.body)
        size_text = f"{size // 1024} KB" if size >= 10240 else f"{size} bytes"
        return whole_entries(body, self.entry_ends), FetchErrorItem(
            self.source.id, response.url, "cut-off",
            f"document cut off after {size_text} ({why}); its entries up to there were read",
            level="error")

    def sitemap_document(self, response: Response) -> tuple[Any, str, FetchErrorItem | None]:
        """A sitemap response read: (its root element, or None; the root's name, or the
        problem; the error row if it was cut off, see `document`). A gzipped sitemap is
        unpacked up to max_response_kb (a bad gzip member raises OSError or EOFError)."""
        body = response.body
        if body[:2] == b"\x1f\x8b":
            body = gunzip(body, max_size=self.max_bytes)
        body, cut = self.document(response, body)
        root, name = parse_sitemap(body)
        return root, name, cut

    # -- articles ------------------------------------------------------------------------

    def article_requests(self, hints: list[ListingHint], response: Response
                         ) -> Iterator[scrapy.Request]:
        """Requests for the articles that the listing, feed or sitemap `response` links to,
        after recording that this source lists them all (`Store.list_links`).

        One fetch per article per crawl: a link another source's run has claimed, or has
        stored since this run started, is left to it (counted "fetched elsewhere"); its
        article gains this source when stored. A stored article is fetched again only when
        the listing shows a time later than any the site showed for it before (its
        published and updated times, and the times listed beside its links).
        """
        assert self.ledger is not None
        run_id = response.meta.get("veille_run") or self.crawler.stats.get_value("veille/run_id")
        cap = self.settings.getint("VEILLE_MAX_LINKS_PER_LISTING", 1000)
        if len(hints) > cap > 0:
            self.crawler.stats.inc_value("veille/listings_capped")
            yield FetchErrorItem(
                self.source.id, response.url, "listing-capped",
                f"{len(hints)} article links; the first {cap} are followed "
                f"(max_links_per_listing)", level="warning")
            hints = hints[:cap]
        # What the document says of all its links: read for a gap; the whole site's (its
        # links do not take the source's topic label).
        gap, site_wide = bool(response.meta.get("veille_gap")), self.site_wide(response)
        fallback = None if site_wide else self.source.topic
        fresh = []
        for hint in hints:
            try:
                url = self.resolve(hint, response.url)
            except BadLink as exc:  # one bad entry is recorded and skipped, never the rest
                yield self.skipped_entry(response, hint, str(exc))
                continue
            if not same_site(url, self.source.domains):
                yield self.skipped_entry(
                    response, hint, f"{url} is on another host than the source's domains "
                    f"({', '.join(self.source.domains)}, its allowed_domains)")
                continue
            if url in self.listed:  # on an earlier page of this run: decided already
                continue
            self.listed.add(url)
            hint.gap, hint.site_wide = gap, site_wide
            fresh.append((hint, Link(url, amp_to_canonical_guess(url),
                                     hint.topic or fallback, stamp(hint.listed_at))))
        verdicts = self.ledger.list_links(self.source.id, run_id, [link for _, link in fresh])
        stats = self.crawler.stats
        # Links not stored before this crawl (fetched by this run or another): a topic
        # listing's pagination goes on while a page has some; a poll where all are is a gap.
        self.unseen, self.fresh = 0, len(fresh)
        self.fresh_keys = [link.key for _, link in fresh]
        for (hint, link), (verdict, known_time) in zip(fresh, verdicts, strict=True):
            self.unseen += verdict in (FETCH, ELSEWHERE)
            if verdict == FETCH:
                yield self.article_request(hint, link, known_time)
            else:
                stats.inc_value(f"veille/{_VERDICT_STATS[verdict]}")

    def site_wide(self, response: Response) -> bool:
        """Whether `response` lists the whole site's articles rather than the source's
        (a sitemap a gap led to): their topic label is not the source's."""
        return False

    @staticmethod
    def resolve(hint: ListingHint, document_url: str) -> str:
        """The canonical URL of an entry's link, made absolute against its document and
        canonicalized once (a listing page's hints arrive canonical already); kept on
        the hint for the article's record. Raises BadLink for a link no page can have."""
        if hint.canonical is None:
            hint.url, hint.canonical = entry_link(hint.url, document_url)
        return hint.canonical

    def skipped_entry(self, response: Response, hint: ListingHint, why: str
                      ) -> FetchErrorItem:
        """The warning row of an entry not fetched: which entry of which document, and why."""
        self.crawler.stats.inc_value("veille/entries_skipped")
        title = f" {' '.join(hint.title.split())[:80]!r}" if hint.title else ""
        return FetchErrorItem(self.source.id, response.url, "entry-skipped",
                              f"{hint.via} entry{title} skipped: {why}", level="warning")

    def article_request(self, hint: ListingHint, link: Link,
                        known_time: str | None) -> scrapy.Request:
        return scrapy.Request(
            link.url, callback=self.parse_article, errback=self.on_article_error,
            cb_kwargs={"hint": hint},
            # The claimed link, which `OneFetchMiddleware` checks again before each
            # download; the version held (None: none), which tells the shared duplicate
            # filter of `veille worker`s an update from a second link to the same article.
            meta={"veille_link": link, "veille_known_time": known_time},
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
            html, response.url, selectors=self.source.selectors, default_tz=self.tz,
            default_language=self.source.language,
        )
        yield ArticleItem(
            source_id=self.source.id, hint=hint, response_url=response.url,
            redirect_urls=tuple(response.meta.get("redirect_urls", ())),
            extracted=extracted, fallback_topic=None if hint.site_wide else self.source.topic,
            default_language=self.source.language,
            page=self.pages.keep_response(response) if self.pages is not None else None,
        )

    # -- failures ------------------------------------------------------------------------

    def on_error(self, failure: Failure) -> Iterator[FetchErrorItem]:
        kind, message, level = describe_failure(failure, self.max_bytes)
        yield FetchErrorItem(self.source.id, failure.request.url, kind, message, level=level)

    def on_article_error(self, failure: Failure) -> Iterator[FetchErrorItem]:
        if failure.check(FetchedElsewhere):
            # Another source's run fetches this page (where a redirect led, or under
            # another URL of its article): this source's listing of it waits for that.
            self.crawler.stats.inc_value("veille/fetched_elsewhere")
            link: Link = failure.request.meta["veille_link"]
            target = canonicalize(failure.request.url)
            if target != link.url and self.local is not None:
                run_id = self.crawler.stats.get_value("veille/run_id")
                self.local.redirected(self.source.id, run_id, link, target)
            return
        yield from self.on_error(failure)

    def on_start_error(self, failure: Failure) -> Iterator[FetchErrorItem]:
        kind, message, _ = describe_failure(failure, self.max_bytes)
        yield FetchErrorItem(self.source.id, failure.request.url, kind, message, fatal=True)


def whole_entries(body: bytes, closers: tuple[bytes, ...]) -> bytes:
    """A cut-off document up to the end of its last whole entry (`closers`: the end tags of
    an entry, such as b"</item>"): the entry the cut fell in may hold half a URL."""
    end, closer = max(((body.rfind(c), c) for c in closers), default=(-1, b""))
    return body[:end + len(closer)] if end >= 0 else body


def too_large(failure: Failure, max_bytes: int) -> bool:
    """Whether Scrapy gave up a download for its size: announced (Content-Length), reached
    while it arrived, or reached while unpacking it (a gzip bomb)."""
    exc = failure.value
    if failure.check(DownloadCancelledError):
        return "max size" in str(exc) or 0 < max_bytes < failure.request.meta.get(
            "veille_received", 0)
    return bool(failure.check(IgnoreRequest)) and "DOWNLOAD_MAXSIZE" in str(exc)


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


_VERDICT_STATS = {UNCHANGED: "known_skipped", ELSEWHERE: "fetched_elsewhere",
                  DEAD: "dead_link_skipped"}


def describe_failure(failure: Failure, max_bytes: int = 0) -> tuple[str, str, str]:
    """(kind, message, level) for a failed request, in words a desk editor can act on.

    `max_bytes` is the crawl's DOWNLOAD_MAXSIZE, which Scrapy's cancellations do not name.
    """
    exc = failure.value
    if too_large(failure, max_bytes):
        unpacked = " once unpacked" if failure.check(IgnoreRequest) else ""
        return ("too-large", f"not fetched: larger than max_response_kb "
                f"({max_bytes // 1024} KB){unpacked}: {failure.request.url}", "error")
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
    if failure.check(RedirectRefused):
        return "redirect", f"not fetched: {exc}", "error"
    if failure.check(IgnoreRequest):
        # Robots.txt exclusions and over-size responses land here.
        return "ignored", f"not fetched: {exc or 'request ignored'}", "warning"
    return type(exc).__name__, f"{type(exc).__name__}: {exc}", "error"
