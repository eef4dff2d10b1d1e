"""The crawl_runs record: one row per source per run, opened and closed with the spider."""

from __future__ import annotations

import logging
import os

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.spiders import Spider

from crawler.crawl.breakage import RunFindings, record_breakage
from crawler.crawl.gaps import RECOVERED, record_gap
from crawler.crawl.ledger import open_store, release_store
from crawler.record.store import STORAGE_ERRORS, one_line
from crawler.wording import plural

LOGGER = logging.getLogger(__name__)

# Stats keys (set by the pipelines and spiders) copied into the run's row.
COUNTS = {
    "new": "veille/new", "updated": "veille/updated", "errors": "veille/errors",
    "warnings": "veille/warnings", "requests": "downloader/request_count",
    "pages_fetched": "response_received_count", "alerts": "veille/alerts",
    "fetched_elsewhere": "veille/fetched_elsewhere",
}


class RunRecorder:
    """Writes the run's row when its spider opens, and its counts and status when it closes."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.run_id: int | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunRecorder:
        recorder = cls(crawler)
        crawler.signals.connect(recorder.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(recorder.spider_closed, signal=signals.spider_closed)
        return recorder

    def spider_opened(self, spider: Spider) -> None:
        store = open_store(self.crawler.settings)  # the crawl's one connection
        try:
            self.run_id = store.start_run(spider.name, os.getpid())
        finally:
            release_store(store)
        self.crawler.stats.set_value("veille/run_id", self.run_id)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.run_id is None:
            return
        stats = self.crawler.stats
        counts = {column: int(stats.get_value(key, 0)) for column, key in COUNTS.items()}
        counts["unchanged"] = int(stats.get_value("veille/unchanged", 0)) + int(
            stats.get_value("veille/known_skipped", 0)
        )
        unstored = int(stats.get_value("veille/store_errors", 0))
        status, message = run_outcome(
            errors=counts["errors"], cut_off=int(stats.get_value("veille/cut_off", 0)),
            skipped=int(stats.get_value("veille/entries_skipped", 0)),
            fatal=stats.get_value("veille/fatal"), reason=reason,
            # The record is missing what the site had: never a clean run.
            unstored=(f"{plural(unstored, 'write')} to the database failed: "
                      f"{stats.get_value('veille/store_error')}") if unstored else None)
        stats.set_value("veille/status", status)
        try:
            store = open_store(self.crawler.settings)
            try:
                store.finish_run(self.run_id, status, counts, message)
                gap = getattr(spider, "gap", None)  # a gap its poll found (spiders.gaps)
                if gap is not None:
                    record_gap(store, self.run_id, spider.name, gap,
                               int(stats.get_value(RECOVERED, 0)))
                source = getattr(spider, "source", None)  # a worker's spider has none
                if source is not None:
                    record_breakage(store, self.run_id, source,
                                    RunFindings.from_stats(stats, status))
            finally:
                release_store(store)
        except STORAGE_ERRORS as exc:
            # The summary reads the run from these stats instead (crawler/crawl/process.py).
            LOGGER.error("%s: the end of its run was not recorded: %s", spider.name,
                         one_line(exc))
            stats.set_value("veille/status", "failed")
            stats.set_value("veille/unrecorded", f"run not recorded: {one_line(exc)}")


def run_outcome(*, errors: int, cut_off: int = 0, skipped: int = 0, fatal: str | None = None,
                unstored: str | None = None, reason: str = "finished") -> tuple[str, str | None]:
    """A closing run's status and message, on one machine or through the ingester:
    `failed` (a fatal failure, or writes lost), `interrupted` (stopped early), `partial`
    with what it missed ("2 page(s) could not be fetched; 1 document(s) cut off; 3 entries
    skipped"), or `ok`: the record holds all the source offered.

    `errors` counts every error row, `cut_off` those of documents read only in part.
    Entries skipped (a link that cannot be fetched, or on another host than the source's
    domains) are warnings of their own, but the record lacks them: the run is partial.
    """
    if fatal or unstored:
        return "failed", fatal or unstored
    if reason != "finished":
        return "interrupted", f"crawl stopped early: {reason}"
    parts = []
    if errors - cut_off > 0:
        parts.append(f"{plural(errors - cut_off, 'page')} could not be fetched")
    if cut_off:
        parts.append(f"{plural(cut_off, 'document')} cut off")
    if skipped:
        parts.append(f"{plural(skipped, 'entry', 'entries')} skipped")
    return ("partial", "; ".join(parts)) if parts else ("ok", None)
