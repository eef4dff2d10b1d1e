"""Run one crawl of some sources in this process: Scrapy settings from the config, one
Scrapy crawler per source, a summary per source read back from crawl_runs.

Twisted's reactor runs once per process: call `crawl` once, from a fresh process
(the `veille crawl` command is one).
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from scrapy.crawler import CrawlerProcess
from scrapy.settings import default_settings
from twisted.internet.task import LoopingCall

from crawler.config.model import Config, Source
from crawler.crawl.pipelines import NO_TEXT
from crawler.processes import pid_alive
from crawler.record.pages import PageArchive
from crawler.record.store import Store
from crawler.record.stories import prune
from spiders import SPIDERS

LOGGER = logging.getLogger(__name__)
# The cyclic collector's thresholds during a crawl (Python's defaults: 700, 10, 10).
CRAWL_GC_THRESHOLDS = (10_000, 20, 20)


@dataclass(frozen=True)
class RunSummary:
    """One source's run, as recorded in crawl_runs."""

    source_id: str
    status: str
    requests: int
    pages_fetched: int
    new: int
    updated: int
    unchanged: int
    errors: int
    warnings: int
    message: str | None
    seconds: float
    alerts: int = 0
    no_text: int = 0  # of the warnings, pages without article text (see crawler.crawl.pipelines)
    # Links this source listed that another source's run fetched in the same crawl.
    fetched_elsewhere: int = 0
    # What this run noticed about its source (`source_events`): (kind, message), kind
    # "broken" or "recovered" (crawler.crawl.breakage), or "gap" (crawler.crawl.gaps).
    events: tuple[tuple[str, str], ...] = ()

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "interrupted", "missing")

    @property
    def other_warnings(self) -> int:
        """The warnings besides "no article text" (broken JSON-LD, feed defects...)."""
        return self.warnings - self.no_text


# Libraries that log about the pages they read (trafilatura "discarding data", extruct's
# traceback for a broken JSON-LD block...). A page's defects are Veille's to report, one
# line each in fetch_errors; their own lines reach stderr only with -vv (DEBUG).
CHATTY_LIBRARIES = ("trafilatura", "htmldate", "justext", "courlan", "extruct", "readability")
# Scrapy's own lines about a request that failed for good (retries given up, a robots.txt
# that could not be downloaded): Veille records the failure itself, one line per source in
# fetch_errors and on stderr, so these say it a second time; shown from -v (INFO) on.
SCRAPY_FAILURE_LOGGERS = ("scrapy.downloadermiddlewares.retry",
                          "scrapy.downloadermiddlewares.robotstxt")


class _WithoutTraceback(logging.Filter):
    """Keeps the record's message, drops its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info or record.exc_text:
            exc = record.exc_info[1] if record.exc_info else None
            record.exc_info, record.exc_text = None, None
            if exc is not None and str(exc) not in record.getMessage():
                record.msg, record.args = f"{record.getMessage()} ({type(exc).__name__}: " \
                    f"{exc})", None
        return True


_ONE_LINE = _WithoutTraceback()


def quiet_libraries(log_level: str) -> None:
    """Below DEBUG, no library line about a page and no traceback for a failed request;
    below INFO (no -v), no traceback at all on stderr and none of Scrapy's lines about a
    failed request (Veille records each failure as one line in fetch_errors and logs it).
    Veille's own loggers are left as they are. Called once the crawl's logging is set up
    (`CrawlerProcess` does it)."""
    debug = log_level == "DEBUG"
    verbose = log_level in ("DEBUG", "INFO")
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.NOTSET if debug else logging.CRITICAL)
    for name in SCRAPY_FAILURE_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.NOTSET if verbose else logging.CRITICAL)
        # At INFO (-v, and `veille worker`'s log) one line each; their tracebacks at DEBUG.
        if debug:
            logger.removeFilter(_ONE_LINE)
        else:
            logger.addFilter(_ONE_LINE)
    for handler in logging.getLogger().handlers:
        if verbose:
            handler.removeFilter(_ONE_LINE)
        else:
            handler.addFilter(_ONE_LINE)


# Scrapy's extensions less the ones a crawl never uses: the remote-control server (it
# alone imports aiohttp: 7 MB of a crawl's memory) and the telnet console (both opened
# by default in Scrapy 2.19, and reachable by anyone on the machine), the feed exporter
# (Veille writes SQLite, not feed exports), job-state persistence (no JOBDIR) and the
# memory debugger. Setting them to None in EXTENSIONS would still import them: Scrapy
# loads every key of the base list to merge it, so the base list itself is replaced.
_UNUSED_EXTENSIONS = {"remote_control.RemoteControl", "telnet.TelnetConsole",
                      "feedexport.FeedExporter", "spiderstate.SpiderState",
                      "memdebug.MemoryDebugger"}
# Scrapy's HTTP/1.1 handler, its close made safe for crawls of many sources.
HTTP_HANDLER = "crawler.crawl.download_handler.HTTPDownloadHandler"
# Seconds a crawl asked to stop (a signal, its deadline) gets before the process ends.
STOP_GRACE = 5.0

EXTENSIONS_BASE: dict[str, int] = {
    path: order for path, order in default_settings.EXTENSIONS_BASE.items()
    if path.removeprefix("scrapy.extensions.") not in _UNUSED_EXTENSIONS
}


def scrapy_settings(config: Config, db_path: Path, log_level: str = "WARNING") -> dict[str, Any]:
    """Scrapy settings derived from the config: polite by default, nothing remote-controlled."""
    crawl = config.crawl
    return {
        "BOT_NAME": "veille",
        "USER_AGENT": crawl.user_agent,
        "ROBOTSTXT_OBEY": crawl.obey_robots,
        "AUTOTHROTTLE_ENABLED": crawl.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(crawl.download_delay, 0.1),
        "DOWNLOAD_DELAY": crawl.download_delay,
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrency_per_domain,
        "DOWNLOAD_TIMEOUT": crawl.timeout,
        "RETRY_TIMES": crawl.retries,
        "VEILLE_RETRY_BACKOFF": crawl.retry_backoff,
        "VEILLE_RETRY_AFTER_MAX": crawl.retry_after_max_seconds,
        "VEILLE_MAX_LINKS_PER_LISTING": crawl.max_links_per_listing,
        "VEILLE_GAP_PAGES": crawl.gap_pages,
        "DOWNLOAD_MAXSIZE": crawl.max_response_kb * 1024,
        "DOWNLOAD_WARNSIZE": crawl.max_response_kb * 1024 // 2,
        "COOKIES_ENABLED": False,
        # Only http and https are ever fetched: an ftp:// link opened an FTP connection
        # that outlived the download timeout; file:, data: and s3: are no article pages.
        "DOWNLOAD_HANDLERS": {"http": HTTP_HANDLER, "https": HTTP_HANDLER, "ftp": None,
                              "file": None, "data": None, "s3": None},
        # Scrapy 2.19 opens a code-running HTTP server and a telnet console by default.
        "REMOTE_CONTROL_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": log_level,
        "LOG_FORMAT": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        "VEILLE_DB": str(db_path),
        "VEILLE_TIMEZONE": crawl.timezone,
        "VEILLE_CONFLICTS": list(config.conflicts),
        "VEILLE_SUBSCRIPTIONS": list(config.subscriptions),
        "VEILLE_ALERT_MAX_AGE": config.alerts.max_age_seconds or 0,
        "VEILLE_STORIES": config.stories,
        "ITEM_PIPELINES": {
            "crawler.crawl.pipelines.NormalizePipeline": 100,
            "crawler.crawl.pipelines.StorePipeline": 300,
        },
        "EXTENSIONS_BASE": EXTENSIONS_BASE,
        "EXTENSIONS": {"crawler.crawl.runs.RunRecorder": 0},
        "SPIDER_MIDDLEWARES": {"crawler.crawl.middlewares.ParseErrorMiddleware": 45},
        # robots.txt kept between crawls (each crawl is a fresh process): a day by default.
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "crawler.crawl.middlewares.OneFetchMiddleware": 50,
            "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
            "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
            "crawler.crawl.middlewares.GuardedRedirectMiddleware": 600,
            "crawler.crawl.middlewares.CutOffMiddleware": 595,
            "crawler.crawl.middlewares.HeadMetaRefreshMiddleware": 580,
            "crawler.crawl.middlewares.CachedRobotsTxtMiddleware": 100,
            "crawler.crawl.middlewares.RetryBackoffMiddleware": 560,
        },
        "VEILLE_ROBOTS_TTL": 86400,
    }


def crawl(
    config: Config,
    sources: tuple[Source, ...],
    db_path: Path,
    *,
    log_level: str = "WARNING",
    progress: TextIO | None = None,
) -> list[RunSummary]:
    """Crawl `sources` into the database at `db_path`; one summary per source, in order."""
    with Store.open_for(config, db_path) as store:
        # Copies are looked for within the story window: older band rows only cost space.
        prune(store.db, store.now(), config.stories.window_days)
        store.prune_pending()
        stale = store.close_stale_runs(pid_alive)
        if stale:
            LOGGER.warning("%d earlier run(s) had been interrupted; marked as such", stale)
    process = CrawlerProcess(scrapy_settings(config, db_path, log_level))
    quiet_libraries(log_level)
    crawlers = []
    for source in sources:
        crawler = process.create_crawler(SPIDERS[source.kind])
        crawlers.append((source, crawler))
        process.crawl(crawler, source=source)
    # What is loaded by now (modules, config, Scrapy's components) lives as long as the
    # process: frozen out of the cyclic collector's sight, its full passes no longer walk
    # it again and again while pages are extracted. And the collector runs less often:
    # a page's extraction allocates hundreds of thousands of short-lived objects (tree
    # proxies, strings) and frees them itself. Measured on 1,000 real pages: 4.0 s of
    # collection (2,583 young, 22 full) became 1.3 s (77 young, 1 full), peak RSS the same.
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*CRAWL_GC_THRESHOLDS)
    started = time.monotonic()
    ticker = None
    if progress is not None:
        ticker = LoopingCall(_report_progress, progress, crawlers, started)
        ticker.start(2.0, now=False)
    stopper = Stopper(process, config.schedule.timeout_seconds)
    try:
        with stopper.on_signals():
            process.start(install_signal_handlers=False)
    finally:  # a caller that goes on (a test, a daemon) collects as before
        stopper.done()
        gc.set_threshold(*thresholds)
        gc.unfreeze()
    if ticker is not None and ticker.running:
        ticker.stop()
    elapsed = time.monotonic() - started
    # [crawl] keep_pages: raw pages older than that go (0 keeps them all).
    PageArchive.beside(db_path).prune(timedelta(seconds=config.crawl.keep_pages_seconds))
    with Store.open(db_path) as store:
        return [_summary(store, source, crawler, elapsed) for source, crawler in crawlers]


class Stopper:
    """Every crawl process ends: on SIGTERM or SIGINT, or at its deadline (`[schedule]
    timeout`), Scrapy is asked to stop (the runs end `interrupted`, their claims free, the
    summary printed); a crawl still running STOP_GRACE seconds later (a download that
    ignores its timeout, a stuck page) ends the process, as does a second signal. The
    source locks are file locks: the system releases them with the process."""

    def __init__(self, process: CrawlerProcess, deadline: float):
        from twisted.internet import reactor

        self.process = process
        self.reason: str | None = None
        self.watchdog: threading.Timer | None = None
        self.deadline = reactor.callLater(
            deadline, self.stop, f"the crawl ran for {deadline:.0f} s ([schedule] timeout)")

    @contextmanager
    def on_signals(self) -> Iterator[None]:
        previous = {signum: signal.signal(signum, self._signalled)
                    for signum in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _signalled(self, signum: int, _frame: Any) -> None:
        from twisted.internet import reactor

        name = signal.Signals(signum).name
        if self.reason is not None:  # a second signal: no more waiting
            self._force(f"a second {name}")
        reactor.callFromThread(self.stop, f"{name} received")

    def stop(self, reason: str) -> None:
        if self.reason is not None:
            return
        self.reason = reason
        LOGGER.warning("stopping the crawl: %s", reason)
        self.watchdog = threading.Timer(STOP_GRACE, self._force, [reason])
        self.watchdog.daemon = True
        self.watchdog.start()
        self.process.stop()

    def _force(self, reason: str) -> None:
        LOGGER.error("the crawl had not stopped %.0f s after %s: the process ends now",
                     STOP_GRACE, reason)
        logging.shutdown()
        os._exit(1)

    def done(self) -> None:
        if self.deadline.active():
            self.deadline.cancel()
        if self.watchdog is not None:
            self.watchdog.cancel()


def _summary(store: Store, source: Source, crawler: Any, elapsed: float) -> RunSummary:
    run_id = crawler.stats.get_value("veille/run_id") if crawler.stats else None
    if run_id is None:
        return RunSummary(source.id, "missing", 0, 0, 0, 0, 0, 1, 0,
                          "the crawl did not start (see the log above)", elapsed)
    unrecorded = crawler.stats.get_value("veille/unrecorded")
    if unrecorded:  # its end could not be written (disk full...): what the crawl knows
        stats = crawler.stats
        return RunSummary(
            source.id, "failed", stats.get_value("downloader/request_count", 0),
            stats.get_value("response_received_count", 0), stats.get_value("veille/new", 0),
            stats.get_value("veille/updated", 0), stats.get_value("veille/unchanged", 0),
            stats.get_value("veille/errors", 0), stats.get_value("veille/warnings", 0),
            unrecorded, elapsed)
    row = store.db["crawl_runs"].get(run_id)
    [no_text] = store.db.execute(
        "SELECT count(*) FROM fetch_errors WHERE run_id = ? AND kind = ?",
        [run_id, NO_TEXT]).fetchone()
    events = tuple(store.db.execute(
        "SELECT kind, message FROM source_events WHERE run_id = ? "
        "AND kind IN ('broken', 'recovered', 'gap') ORDER BY id", [run_id]).fetchall())
    return RunSummary(
        source.id, row["status"], row["requests"], row["pages_fetched"], row["new"],
        row["updated"], row["unchanged"], row["errors"], row["warnings"], row["message"],
        elapsed, row["alerts"], no_text, row["fetched_elsewhere"] or 0, events,
    )


def _report_progress(out: TextIO, crawlers: list, started: float) -> None:
    done = sum(1 for _, c in crawlers if c.stats and c.stats.get_value("veille/status"))
    pages = new = 0
    for _, c in crawlers:
        if c.stats:
            pages += int(c.stats.get_value("response_received_count", 0))
            new += int(c.stats.get_value("veille/new", 0))
    out.write(
        f"[{time.monotonic() - started:5.0f}s] {done}/{len(crawlers)} sources done, "
        f"{pages} pages fetched, {new} new articles\n"
    )
    out.flush()


def progress_stream(quiet: bool) -> TextIO | None:
    """Where progress lines go: stderr when it is a terminal and not --quiet."""
    return sys.stderr if (not quiet and sys.stderr.isatty()) else None
