"""The record's figures as Prometheus metrics, read from the SQLite file at each scrape.

Reading the record rather than counting in memory keeps the figures right whichever process
did the work (the daemon's crawl processes, cron, workers) and across restarts. Counters
(polls, articles, fetch errors) are sums of rows that no longer change once written: they
are kept here up to the last such row, so a scrape reads only the rows added since.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from crawler.clock import parse_time_or_none, stamp, utc_now
from crawler.errors import VeilleError
from crawler.record.schema import open_read_only

LOGGER = logging.getLogger(__name__)

# A run with one of these statuses may still change; every other status is final.
_OPEN_RUNS = ("running", "queued")
_OPEN = f"({', '.join(repr(status) for status in _OPEN_RUNS)})"  # the same, as SQL


class RecordCollector(Collector):
    """Collects `veille_*` metrics from the record at `db_path` (see docs/operating.md)."""

    def __init__(self, db_path: str | os.PathLike[str],
                 clock: Callable[[], datetime] = utc_now):
        self.db_path = Path(db_path)
        self.clock = clock
        self._lock = threading.Lock()  # two scrapes at once share the running sums
        self._runs_to = 0  # crawl_runs rows up to this id are in the sums below
        self._polls: Counter[tuple[str, str]] = Counter()
        self._articles: Counter[tuple[str, str]] = Counter()
        self._errors_to = 0
        self._errors: Counter[tuple[str, str, str]] = Counter()

    def collect(self) -> Iterator[Metric]:
        readable = GaugeMetricFamily(
            "veille_record_readable", "1 when the record could be read for this scrape")
        try:
            db = open_read_only(self.db_path)
        except (VeilleError, sqlite3.Error) as exc:
            LOGGER.warning("metrics: %s", exc)
            readable.add_metric([], 0)
            yield readable
            return
        try:
            with self._lock:
                families = list(self._families(db.conn))
        except sqlite3.Error as exc:
            LOGGER.warning("metrics: %s: %s", self.db_path, exc)
            families = []
        finally:
            db.close()
        readable.add_metric([], 1 if families else 0)
        yield readable
        yield from families

    def _families(self, conn: sqlite3.Connection) -> Iterator[Metric]:
        polls, articles, open_runs = self._runs(conn)
        family = CounterMetricFamily("veille_polls", "Polls (crawl runs) ended, by source and "
                                     "status", labels=["source", "status"])
        for (source, status), count in sorted(polls.items()):
            family.add_metric([source, status], count)
        yield family
        family = GaugeMetricFamily("veille_polls_open", "Polls running now, or queued for the "
                                   "workers (status running or queued)", labels=["status"])
        for status in _OPEN_RUNS:
            family.add_metric([status], open_runs.get(status, 0))
        yield family
        family = CounterMetricFamily("veille_articles", "Articles stored new, or stored again "
                                     "with a changed text, by the polls of each source",
                                     labels=["source", "change"])
        for (source, change), count in sorted(articles.items()):
            family.add_metric([source, change], count)
        yield family
        family = GaugeMetricFamily("veille_articles_stored", "Articles in the record, by the "
                                   "source that first stored them", labels=["source"])
        for source, count in conn.execute(
                "SELECT source_id, count(*) FROM articles GROUP BY source_id ORDER BY 1"):
            family.add_metric([source], count)
        yield family
        family = CounterMetricFamily("veille_fetch_errors", "Fetch failures and page warnings "
                                     "recorded (rows of fetch_errors), by source, level and kind",
                                     labels=["source", "level", "kind"])
        for (source, level, kind), count in sorted(self._fetch_errors(conn).items()):
            family.add_metric([source, level, kind], count)
        yield family
        yield from self._alerts(conn)
        yield from self._sources(conn)

    def _runs(self, conn: sqlite3.Connection) -> tuple[Counter, Counter, dict[str, int]]:
        """Ended polls by (source, status), articles by (source, change), and open polls."""
        first_open, last = conn.execute(
            f"SELECT (SELECT min(id) FROM crawl_runs WHERE status IN {_OPEN}), "
            "(SELECT max(id) FROM crawl_runs)").fetchone()
        settled = (first_open - 1) if first_open is not None else (last or 0)
        if settled > self._runs_to:  # rows that will not change again: summed once
            self._add_runs(conn, "id > ? AND id <= ?", [self._runs_to, settled],
                           self._polls, self._articles)
            self._runs_to = settled
        polls, articles = Counter(self._polls), Counter(self._articles)
        self._add_runs(conn, f"id > ? AND status NOT IN {_OPEN}", [self._runs_to],
                       polls, articles)
        open_runs = dict(conn.execute(
            f"SELECT status, count(*) FROM crawl_runs WHERE status IN {_OPEN} GROUP BY status"
        ).fetchall())
        return polls, articles, open_runs

    @staticmethod
    def _add_runs(conn: sqlite3.Connection, where: str, params: list, polls: Counter,
                  articles: Counter) -> None:
        for source, status, count, new, updated in conn.execute(
                "SELECT source_id, status, count(*), coalesce(sum(new), 0), "
                f"coalesce(sum(updated), 0) FROM crawl_runs WHERE {where} "
                f"AND status NOT IN {_OPEN} GROUP BY source_id, status", params):
            polls[source, status] += count
            articles[source, "new"] += new
            articles[source, "updated"] += updated

    def _fetch_errors(self, conn: sqlite3.Connection) -> Counter:
        # rows of fetch_errors are only ever added
        last = self._errors_to
        for source, level, kind, count, top in conn.execute(
                "SELECT source_id, coalesce(level, 'error'), kind, count(*), max(id) "
                "FROM fetch_errors WHERE id > ? GROUP BY 1, 2, 3", [self._errors_to]):
            self._errors[source, level, kind] += count
            last = max(last, top)
        self._errors_to = last
        return self._errors

    def _alerts(self, conn: sqlite3.Connection) -> Iterator[Metric]:
        family = GaugeMetricFamily("veille_alerts", "Alerts by delivery status (pending, "
                                   "sending, sent, failed, cancelled) and channel",
                                   labels=["channel", "status"])
        for channel, status, count in conn.execute(
                "SELECT coalesce(s.channel, 'removed'), a.status, count(*) FROM alerts a "
                "LEFT JOIN subscriptions s ON s.id = a.subscription_id GROUP BY 1, 2 "
                "ORDER BY 1, 2"):
            family.add_metric([channel, status], count)
        yield family
        now = self.clock()
        due, oldest = conn.execute(
            "SELECT sum(coalesce(next_attempt_at, '') <= ?), min(created_at) FROM alerts "
            "WHERE status IN ('pending', 'sending')",
            [stamp(now)]).fetchone()
        family = GaugeMetricFamily("veille_alerts_due", "Alerts waiting to be sent whose "
                                   "(next) attempt is due now: the dispatcher's queue")
        family.add_metric([], due or 0)
        yield family
        created = parse_time_or_none(oldest)
        family = GaugeMetricFamily("veille_alerts_oldest_waiting_seconds", "Age of the oldest "
                                   "alert not yet sent nor given up (0: none waiting)")
        family.add_metric([], max(0.0, (now - created).total_seconds()) if created else 0)
        yield family

    @staticmethod
    def _sources(conn: sqlite3.Connection) -> Iterator[Metric]:
        success = GaugeMetricFamily("veille_source_last_success_timestamp_seconds",
                                    "When each source's last successful poll ended (Unix "
                                    "time; absent until one succeeds)", labels=["source"])
        failures = GaugeMetricFamily("veille_source_failures", "Failed polls in a row of each "
                                     "source (0 after a success)", labels=["source"])
        broken = GaugeMetricFamily("veille_source_broken", "1 for each check a source fails "
                                   "now (no-links, short-bodies, rate-drop, feed-malformed, "
                                   "robots-forbidden: docs/operating.md), absent otherwise",
                                   labels=["source", "check"])
        for source, last_success, failure_count, checks in conn.execute(
                "SELECT id, last_success_at, failure_count, broken_check FROM sources "
                "ORDER BY id"):
            when = parse_time_or_none(last_success)
            if when is not None:
                success.add_metric([source], when.timestamp())
            failures.add_metric([source], failure_count or 0)
            for check in filter(None, (checks or "").split(",")):
                broken.add_metric([source, check.strip()], 1)
        yield success
        yield failures
        yield broken
        notices = GaugeMetricFamily("veille_operator_notices", "Operator notices by kind "
                                    "(broken, recovered, delivery-failed, polling-stopped...) "
                                    "and delivery status", labels=["kind", "status"])
        for kind, status, count in conn.execute(
                "SELECT kind, status, count(*) FROM operator_notices GROUP BY 1, 2 "
                "ORDER BY 1, 2"):
            notices.add_metric([kind, status], count)
        yield notices
