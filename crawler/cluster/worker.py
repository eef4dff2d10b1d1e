"""`veille worker`: fetch and extract the shared queue's requests, hand the articles to
`veille ingest` through Redis. Any number of workers, on any number of machines.

One Scrapy crawler runs the `WorkerSpider`, fed by scrapy-redis's scheduler with a Redis
stream as its queue (`crawler.cluster.request_stream`). The worker holds no database: what the
single-machine spiders ask the SQLite record (validators, known articles, dead links) it
asks Redis (`RedisLedger`), and every article, failure and run end goes onto the
`P:articles` stream. A request's entry is acknowledged only once everything its page
produced is in Redis (`AckMiddleware`), so a worker killed at any point loses nothing:
its unacknowledged entries go to another worker when its heartbeat stops.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import redis
import scrapy
from scrapy import signals
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.exceptions import DontCloseSpider, DropItem, IgnoreRequest
from scrapy.http import Request, Response
from scrapy.utils.asyncio import sleep
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from crawler.cluster import wire
from crawler.cluster.shared import Cluster, RedisLedger
from crawler.config.model import Config
from crawler.crawl.items import ArticleItem, FetchErrorItem, NormalizedArticle
from crawler.crawl.middlewares import CachedRobotsTxtMiddleware
from crawler.crawl.pipelines import article_warnings
from crawler.crawl.process import quiet_libraries, scrapy_settings
from crawler.errors import ClusterError
from crawler.page.matching import Matcher
from crawler.record.article import StoredArticle
from crawler.record.store import TextAnalysis
from spiders import SPIDERS
from spiders.base import SourceSpider

LOGGER = logging.getLogger("veille.worker")

WAKE_SECONDS = 0.25  # how often an idle worker looks for new entries


def worker_name() -> str:
    """A consumer name unique to this process: host, pid and a random tag."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def worker_settings(config: Config, concurrency: int, log_level: str) -> dict[str, Any]:
    """The single-machine Scrapy settings, with Redis in place of SQLite."""
    assert config.redis is not None
    settings = scrapy_settings(config, None, log_level)
    del settings["VEILLE_DB"]
    settings.update({
        "REDIS_URL": config.redis.resolved_url(),
        "SCHEDULER": "crawler.cluster.request_stream.StreamScheduler",
        "SCHEDULER_QUEUE_CLASS": "crawler.cluster.request_stream.StreamQueue",
        "DUPEFILTER_CLASS": "crawler.cluster.request_stream.SharedDupeFilter",
        "CONCURRENT_REQUESTS": concurrency,
        # The delay between two requests to a site is kept by all workers together
        # (SharedDelayMiddleware); a local delay or AutoThrottle after it would reorder
        # requests that the shared one spaced.
        "VEILLE_SHARED_DELAY": config.crawl.download_delay,
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        # Items of one page go to Redis one after the other, so that when the page's
        # output is exhausted, all of it is in Redis and its entry can be acknowledged.
        "CONCURRENT_ITEMS": 1,
        "ITEM_PIPELINES": {
            "crawler.crawl.pipelines.NormalizePipeline": 100,
            "crawler.cluster.worker.StreamPipeline": 300,
        },
        "EXTENSIONS": {},  # runs are recorded by the ingester
        "SPIDER_MIDDLEWARES": {
            "crawler.crawl.middlewares.ParseErrorMiddleware": 45,
            "crawler.cluster.worker.AckMiddleware": 1,  # outermost: sees the page's final output
        },
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "crawler.cluster.worker.SharedRobotsTxtMiddleware": 100,
            "crawler.cluster.worker.SharedDelayMiddleware": 550,
            "crawler.crawl.middlewares.RetryBackoffMiddleware": 560,
            "crawler.crawl.middlewares.CutOffMiddleware": 595,
            "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
            "crawler.crawl.middlewares.GuardedRedirectMiddleware": 600,
        },
    })
    return settings


class WorkerSpider(scrapy.Spider):
    """Works on requests of every source: each carries its source and run in its meta.

    The per-kind spiders (`spiders.SPIDERS`) still do the parsing: one instance per
    source, made on first use, asking Redis instead of SQLite. Requests they yield are
    routed back through `route`/`route_error` (named in the queue, since a queued request
    names its callback as a method of the crawl's spider) with the original method name
    in their meta.
    """

    name = "veille-worker"

    def __init__(self, config: Config, consumer: str, drain: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        assert config.redis is not None
        self.config = config
        self.consumer = consumer
        self.drain = drain
        self.cluster: Cluster = Cluster.open(config.redis)
        self.ledger = RedisLedger(self.cluster)
        self.delegates: dict[str, SourceSpider] = {}
        self.broken: str | None = None  # set when Redis failed: stop, acknowledge nothing
        self.loops: list[LoopingCall] = []
        self.dupefilter: Any = None  # set by SharedDupeFilter.from_spider

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> WorkerSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.opened, signal=signals.spider_opened)
        crawler.signals.connect(spider.idle, signal=signals.spider_idle)
        crawler.signals.connect(spider.item_failed, signal=signals.item_error)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        """Nothing of its own: every request comes from the shared queue."""
        return
        yield  # an async generator

    # -- life cycle ----------------------------------------------------------------------

    def opened(self) -> None:
        beat = LoopingCall(self.beat)
        beat.start(self.cluster.settings.worker_timeout_seconds / 3)
        wake = LoopingCall(self.wake)
        wake.start(WAKE_SECONDS, now=False)
        self.loops = [beat, wake]
        LOGGER.info("worker %s started on %s (queue %s)", self.consumer,
                    self.cluster.keys.prefix, self.cluster.keys.requests)

    def beat(self) -> None:
        try:
            self.cluster.beat(self.consumer)
        except redis.RedisError as exc:
            self.fail(f"heartbeat failed: {exc}")

    def wake(self) -> None:
        # Scrapy asks the scheduler for requests every 5 s when idle; new entries should
        # not wait that long. The engine exposes no public way to ask sooner.
        slot = getattr(self.crawler.engine, "_slot", None)
        if slot is not None:
            slot.nextcall.schedule()

    def idle(self) -> None:
        """The queue is empty: a --drain worker stops; others wait for more."""
        if not self.drain and not self.broken:
            raise DontCloseSpider

    def closed(self, reason: str) -> None:
        for loop in self.loops:
            if loop.running:
                loop.stop()
        if not self.broken:
            # Stop beating at once: whatever this worker leaves goes to another one now.
            try:
                self.cluster.client.delete(self.cluster.keys.worker(self.consumer))
            except redis.RedisError:
                pass

    def fail(self, problem: str) -> None:
        """Redis is failing: stop taking work and acknowledge nothing more."""
        if self.broken:
            return
        self.broken = f"Redis at {self.cluster.where}: {problem}"
        LOGGER.error("worker %s stops: %s. Its unacknowledged requests stay in the queue "
                     "for another worker.", self.consumer, self.broken)
        deferred_from_coro(self.crawler.stop_async())

    def item_failed(self, item: Any, response: Response, failure: Failure) -> None:
        # A pipeline raised: that article never reached Redis. Record it, so that its
        # run is not clean and its listing is read again next time.
        exception = failure.value
        if isinstance(exception, DropItem) or self.broken:
            return
        source_id = getattr(item, "source_id", response.meta.get("veille_source", "?"))
        self.cluster.push_event("error", response.meta.get("veille_run"), FetchErrorItem(
            source_id, response.url, "pipeline",
            f"could not process the article: {type(exception).__name__}: {exception}",
        ))

    # -- routing -------------------------------------------------------------------------

    def delegate(self, source_id: str) -> SourceSpider:
        spider = self.delegates.get(source_id)
        if spider is None:
            source = self.config.source(source_id)
            spider = SPIDERS[source.kind](source)
            spider.crawler = self.crawler
            spider.settings = self.settings
            if spider.tz is None:
                spider.tz = ZoneInfo(self.config.crawl.timezone)
            spider.ledger = self.ledger
            self.delegates[source_id] = spider
        return spider

    def domains_of(self, source_id: str) -> tuple[str, ...]:
        return tuple(self.delegate(source_id).allowed_domains)

    def first_request(self, source_id: str, run_id: int) -> Request:
        """The start request of a run the scheduler queued (see `StreamQueue`)."""
        request = self.delegate(source_id).first_request()
        return self.adopt(request, {"veille_source": source_id, "veille_run": run_id})

    def adopt(self, output: Any, meta: dict) -> Any:
        """Tag a delegate's output with its source and run; route its requests here."""
        if isinstance(output, Request):
            output.meta["veille_source"] = meta["veille_source"]
            output.meta["veille_run"] = meta["veille_run"]
            output.meta["veille_callback"] = output.callback.__name__
            output.meta["veille_errback"] = output.errback.__name__
            return output.replace(callback=self.route, errback=self.route_error)
        if isinstance(output, (ArticleItem, FetchErrorItem)):
            output.run_id = meta["veille_run"]
        return output

    def route(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        meta = response.meta
        delegate = self.delegate(meta["veille_source"])
        outputs = getattr(delegate, meta["veille_callback"])(response, **kwargs)
        for output in outputs or ():
            output = self.adopt(output, meta)
            if isinstance(output, FetchErrorItem):
                # Sent now, as in `route_error`: the item pipeline runs items beside the
                # spider's output, so a failure sent from there could reach the ingester
                # after the run's end, which `AckMiddleware` may send first (a listing
                # with no link, a feed that is no feed: the run recorded "ok").
                self._send_now(output)
            else:
                yield output
        self._save_validators(delegate, meta["veille_run"])

    def _send_now(self, item: FetchErrorItem) -> None:
        if self.broken:
            return
        try:
            self.send_error(item)
        except redis.RedisError as exc:
            self.fail(f"could not send to {self.cluster.keys.articles}: {exc}")

    def route_error(self, failure: Failure) -> Iterator[Any]:
        request = failure.request
        meta = request.meta
        # A failed request may be made again by a later poll.
        if self.dupefilter is not None and not self.broken:
            try:
                self.dupefilter.forget(request)
            except redis.RedisError as exc:
                self.fail(f"could not update the duplicate filter: {exc}")
        try:
            delegate = self.delegate(meta["veille_source"])
            for output in getattr(delegate, meta["veille_errback"])(failure) or ():
                output = self.adopt(output, meta)
                if not isinstance(output, FetchErrorItem):
                    yield output
                else:
                    # Sent now, before the request is acknowledged below: through the item
                    # pipeline it could reach the ingester after its run's end, and a run
                    # whose start URL failed would be recorded "ok".
                    self._send_now(output)
        finally:
            # Errback output skips the spider middlewares, AckMiddleware included.
            self.acknowledge(request)

    def send_error(self, item: FetchErrorItem) -> None:
        """A failure to the ingester, logged as a crawl on one machine logs it."""
        self.cluster.push_event("error", item.run_id, item)
        self.crawler.stats.inc_value(f"veille/{item.level}s")
        log = LOGGER.error if item.level == "error" else LOGGER.warning
        log("%s: %s", item.source_id, item.message)

    def _save_validators(self, delegate: SourceSpider, run_id: int) -> None:
        if delegate.polled:
            self.ledger.save_run_validators(run_id, delegate.polled)
            delegate.polled.clear()

    def acknowledge(self, request: Request) -> None:
        entry = request.meta.get("veille_entry")
        if entry is not None:
            self.acknowledge_entry(entry, request.meta.get("veille_run"))

    def acknowledge_entry(self, entry: str, run_id: int | None) -> None:
        if self.broken:
            return
        try:
            self.cluster.done(entry, run_id)
        except redis.RedisError as exc:
            self.fail(f"could not acknowledge {entry}: {exc}")


class AckMiddleware:
    """Acknowledges a request's entry once the page's whole output went through: the
    articles and failures onto P:articles, the new requests into the queue."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AckMiddleware:
        return cls(crawler)

    async def process_spider_output(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        try:
            async for output in result:
                yield output
        finally:
            self.crawler.spider.acknowledge(response.request)


class StreamPipeline:
    """Sends each article and each failure to the ingester, on P:articles."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.matcher: Matcher | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StreamPipeline:
        return cls(crawler)

    def analyse(self, article: StoredArticle) -> TextAnalysis:
        """Story fingerprint and conflict matches, computed here rather than by the
        ingester, the one writer: workers scale with machines, the ingester does not."""
        if self.matcher is None:
            self.matcher = Matcher(self.crawler.spider.config.conflicts)
        return TextAnalysis.of(article, self.matcher)

    def process_item(self, item: Any) -> Any:
        spider: WorkerSpider = self.crawler.spider
        stats = self.crawler.stats
        try:
            if isinstance(item, FetchErrorItem):
                spider.send_error(item)
            elif isinstance(item, NormalizedArticle):
                run_id = item.fetched.run_id
                spider.cluster.push_event("article", run_id, item.article,
                                          analysis=self.analyse(item.article))
                stats.inc_value("veille/sent")
                # Its defects go as warnings, as a single-machine crawl records them.
                for warning in article_warnings(item):
                    spider.cluster.push_event("error", run_id, warning)
                    stats.inc_value("veille/warnings")
        except redis.RedisError as exc:
            spider.fail(f"could not send to {spider.cluster.keys.articles}: {exc}")
            raise DropItem(f"not sent: {exc}") from exc
        return item


class SharedDelayMiddleware:
    """`[crawl] download_delay` between two requests to a site from all workers together.

    Scrapy spaces requests per crawler; N workers alone would send a site N times as many.
    Each request first reserves its moment in Redis (`Cluster.reserve`) and waits for it.
    """

    def __init__(self, crawler: Crawler, delay: float):
        self.crawler = crawler
        self.delay = delay

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedDelayMiddleware:
        return cls(crawler, crawler.settings.getfloat("VEILLE_SHARED_DELAY"))

    async def process_request(self, request: Request) -> None:
        if self.delay <= 0:
            return
        spider: WorkerSpider = self.crawler.spider
        try:
            wait = spider.cluster.reserve(urlparse_cached(request).netloc, self.delay)
        except redis.RedisError as exc:
            spider.fail(f"could not reserve a moment for {request.url}: {exc}")
            raise IgnoreRequest("Redis is failing") from exc
        if wait > 0:
            self.crawler.stats.inc_value("veille/shared_delay_waits")
            await sleep(wait)


class SharedRobotsTxtMiddleware(CachedRobotsTxtMiddleware):
    """robots.txt files kept in Redis for every worker, and re-read after the TTL even by
    a worker that runs for weeks (Scrapy keeps a parsed robots.txt for a crawl's life)."""

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self.loaded_at: dict[str, float] = {}

    async def robot_parser(self, request: Request) -> Any:
        netloc = urlparse_cached(request).netloc
        loaded = self.loaded_at.get(netloc)
        if loaded is not None and time.monotonic() - loaded > self.ttl:
            self._parsers.pop(netloc, None)
            del self.loaded_at[netloc]
        if netloc not in self.loaded_at:
            self.loaded_at[netloc] = time.monotonic()
        return await super().robot_parser(request)

    def cached(self, origin: str) -> tuple[int, bytes] | None:
        cluster: Cluster = self.crawler.spider.cluster
        raw = cluster.client.get(cluster.keys.robots(origin))
        return tuple(wire.loads(raw)) if raw else None

    def save(self, origin: str, status: int, body: bytes) -> None:
        cluster: Cluster = self.crawler.spider.cluster
        cluster.client.set(cluster.keys.robots(origin), wire.dumps((status, body)),
                           px=int(self.ttl * 1000))


def run_worker(config: Config, *, concurrency: int = 16, drain: bool = False,
               log_level: str = "INFO") -> int:
    """Work until stopped (SIGTERM/SIGINT), or with `drain` until the queue is empty.
    Returns the exit status: 1 if Redis failed under it or the crawl could not start."""
    if config.redis is None:
        raise ClusterError(f"{config.path}: no [redis] table: a worker needs one")
    Cluster.open(config.redis)  # fail now, with a clear message, if Redis is unreachable
    process = CrawlerProcess(worker_settings(config, concurrency, log_level))
    quiet_libraries(log_level)
    crawler = process.create_crawler(WorkerSpider)
    process.crawl(crawler, config=config, consumer=worker_name(), drain=drain)
    process.start()
    spider = crawler.spider
    if spider is not None and spider.broken:
        print(f"veille worker: {spider.broken}", file=sys.stderr)
        return 1
    if crawler.stats is None or crawler.stats.get_value("start_time") is None:
        # A component that failed to set up (Scrapy logs why): no request was taken.
        print("veille worker: the crawl did not start (see the log above)", file=sys.stderr)
        return 1
    return 0
