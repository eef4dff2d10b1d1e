"""`veille ingest`: the one process that writes the SQLite record when workers crawl.

It reads `P:articles` (see `crawler.cluster.shared`) through the consumer group "ingest" and
hands each article to `Store.save_article`: the deduplication, story clustering, conflict
matching and alert outbox of a single-machine crawl, in one transaction per article. An
event is acknowledged only after its transaction commits; an ingester killed before
that reads it again when it restarts (its pending entries come first), and saving an
article twice stores it once, since the store recognises the same URL and text.

After each commit it tells the workers what the record now holds (`P:known`, `P:dead`,
`P:validators`), so they skip stored articles as a single-machine crawl does.
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from crawler.cluster import wire
from crawler.cluster.shared import INGEST, Cluster
from crawler.config.model import Config
from crawler.crawl.breakage import RunFindings, record_breakage
from crawler.crawl.items import FetchErrorItem
from crawler.crawl.runs import run_outcome
from crawler.errors import ClusterError
from crawler.page.links import HttpValidators, Link
from crawler.processes import holder_alive, this_process
from crawler.record.article import StoredArticle
from crawler.record.outbox import Outbox
from crawler.record.store import KNOWN_SQL, Store, TextAnalysis
from crawler.record.stories import StoryIndex

LOGGER = logging.getLogger("veille.ingest")

CONSUMER = "ingester"  # one ingester: a fixed name, so a restart finds its pending entries
BATCH = 100
LOCK_SECONDS = 30


@dataclass
class IngestReport:
    """What one `Ingester.run` did."""

    outcomes: Counter[str] = field(default_factory=Counter)  # "new", "updated", "unchanged"
    errors: int = 0
    runs: int = 0
    rejected: int = 0
    alerts: int = 0

    @property
    def articles(self) -> int:
        return self.outcomes.total()

    @property
    def new(self) -> int:
        return self.outcomes["new"]

    @property
    def updated(self) -> int:
        return self.outcomes["updated"]


class Ingester:
    """Consumes P:articles into the database at `db_path`."""

    def __init__(self, config: Config, db_path: Path, cluster: Cluster,
                 after_batch: Callable[[], None] | None = None):
        self.config = config
        self.db_path = db_path
        self.cluster = cluster
        self.keys = cluster.keys
        self.after_batch = after_batch
        self.stop = threading.Event()
        self.report = IngestReport()
        self.lock_value = this_process()

    # -- the loop ------------------------------------------------------------------------

    def run(self, drain: bool = False) -> IngestReport:
        """Ingest until `stop` is set, or with `drain` until workers and stream are idle."""
        self._lock()
        outbox = Outbox(self.config.conflicts, self.config.subscriptions,
                        self.config.alerts.max_age_seconds,
                        update_threshold=self.config.stories.update_threshold)
        try:
            with Store.open_for(self.config, self.db_path, outbox=outbox,
                                stories=StoryIndex(self.config.stories)) as store:
                self.publish_record(store)
                self._loop(store, drain)
        finally:
            self._unlock()
        return self.report

    def _loop(self, store: Store, drain: bool) -> None:
        client = self.cluster.client
        start = "0"  # first what this ingester read before a restart, then new events
        while not self.stop.is_set():
            self._lock()
            got = client.xreadgroup(INGEST, CONSUMER, {self.keys.articles: start},
                                    count=BATCH, block=None if start == "0" else 500)
            entries = got[0][1] if got else []
            if start == "0" and not entries:
                start = ">"
                continue
            for entry_id, fields in entries:
                self.handle(store, entry_id.decode(), fields)
                if self.stop.is_set():
                    break
            if entries and self.after_batch is not None:
                self.after_batch()
            if drain and not entries and start == ">" and self.cluster.queued() == 0 \
                    and self.cluster.backlog() == 0:
                return

    def handle(self, store: Store, entry_id: str, fields: dict | None) -> None:
        """Write one event, then acknowledge (and delete) it."""
        if fields:
            fields = {k.decode(): v for k, v in fields.items()}
            kind = fields.get("kind", b"").decode()
            run = fields.get("run", b"").decode()
            run_id = int(run) if run.isdigit() else None
            try:
                if kind == "article":
                    analysis = wire.loads(fields["analysis"]) if "analysis" in fields else None
                    self.save_article(store, run_id, wire.loads(fields["data"]), analysis)
                elif kind == "error":
                    self.save_error(store, run_id, wire.loads(fields["data"]))
                elif kind == "listing":
                    self.save_listing(store, wire.loads(fields["data"]))
                elif kind == "run-done":
                    self.finish_run(store, run_id, json.loads(fields["data"]))
                else:
                    raise ValueError(f"unknown event kind {kind!r}")
            except (wire.WireError, ValueError, TypeError, KeyError) as exc:
                self.report.rejected += 1
                self.cluster.reject(self.keys.articles, entry_id, fields,
                                    f"{type(exc).__name__}: {exc}")
        pipe = self.cluster.client.pipeline(transaction=True)
        pipe.xack(self.keys.articles, INGEST, entry_id)
        pipe.xdel(self.keys.articles, entry_id)
        pipe.execute()

    # -- events --------------------------------------------------------------------------

    def save_article(self, store: Store, run_id: int | None, article: Any,
                     analysis: Any = None) -> None:
        if not isinstance(article, StoredArticle):
            raise TypeError(f"an article event holds a {type(article).__name__}")
        if analysis is not None and not isinstance(analysis, TextAnalysis):
            raise TypeError(f"an article's analysis part holds a {type(analysis).__name__}")
        result = store.save_article(article, analysis)
        LOGGER.info("%s: %s article #%d %s", article.source_id, result.outcome,
                    result.article_id, article.canonical_url)
        self.report.outcomes[result.outcome] += 1
        self.report.alerts += result.alerts
        if note := result.canonical_warning():
            store.record_error(run_id, article.source_id, article.canonical_url,
                               "canonical-refused", note, "warning")
        if run_id is not None:
            store.count_saved(run_id, result.outcome, result.alerts)
        self.publish_known(store, result.article_id)

    def save_listing(self, store: Store, listing: Any) -> None:
        """A listing page's links, for provenance (`Store.record_listing`)."""
        source_id, links = listing
        if not isinstance(source_id, str) or not all(isinstance(x, Link) for x in links):
            raise TypeError("a listing event holds something else than (source, links)")
        store.record_listing(source_id, links)

    def save_error(self, store: Store, run_id: int | None, error: Any) -> None:
        if not isinstance(error, FetchErrorItem):
            raise TypeError(f"an error event holds a {type(error).__name__}")
        store.record_error(run_id, error.source_id, error.url, error.kind, error.message,
                           error.level)
        self.report.errors += error.level == "error"
        if error.fatal and run_id is not None:
            store.note_run_failure(run_id, error.message)
        if error.url and error.kind in ("gone", "ignored"):
            self.cluster.client.zadd(self.keys.dead, {error.url: time.time()})

    def finish_run(self, store: Store, run_id: int | None, counts: dict[str, int]) -> None:
        row = store.db["crawl_runs"].get(run_id) if run_id is not None else None
        if row is None or row["status"] != "queued":
            return  # already finished (this event was read twice), or not ours
        # A run's errors and warnings are its rows in fetch_errors.
        errors, warnings, cut_off, skipped = (n or 0 for n in store.db.execute(
            "SELECT sum(level = 'error'), sum(level = 'warning'), sum(kind = 'cut-off'), "
            "sum(kind = 'entry-skipped') FROM fetch_errors WHERE run_id = ?",
            [run_id]).fetchone())
        status, message = run_outcome(errors=errors, cut_off=cut_off, skipped=skipped,
                                      fatal=row["message"])
        totals = {
            "requests": int(counts.get("requests", 0)), "new": row["new"] or 0,
            "updated": row["updated"] or 0, "unchanged": row["unchanged"] or 0,
            "errors": errors, "warnings": warnings, "alerts": row["alerts"] or 0,
            "pages_fetched": int(counts.get("requests", 0)),
        }
        validators_key = self.keys.run_validators(run_id)
        raw = self.cluster.client.hgetall(validators_key)
        if status == "ok" and raw:
            # The single-machine rule: a listing is marked read only by a clean run.
            validators = {k.decode(): wire.loads(v) for k, v in raw.items()}
            store.save_validators(row["source_id"], validators)
            self.cluster.client.hset(self.keys.validators,
                                     mapping={u: wire.dumps(v) for u, v in validators.items()})
        store.finish_run(run_id, status, totals, message)
        source = next((s for s in self.config.sources if s.id == row["source_id"]), None)
        if source is not None:  # the checks of docs/operating.md, on the run's rows
            record_breakage(store, run_id, source,
                            RunFindings.from_record(store, run_id, status))
        self.cluster.client.delete(validators_key)
        self.report.runs += 1
        LOGGER.info("%s: run %d %s, %d new, %d updated, %d errors", row["source_id"], run_id,
                    status, totals["new"], totals["updated"], errors)

    # -- what workers read instead of SQLite ---------------------------------------------

    def publish_known(self, store: Store, article_id: int) -> None:
        """Tell the workers every URL of a saved article, and the latest time it showed."""
        self._publish_known(store, "WHERE u.article_id = ?", [article_id])

    def publish_record(self, store: Store) -> None:
        """Copy the record's known URLs and validators into Redis (the record wins)."""
        count = self._publish_known(store)
        validators = {
            url: wire.dumps(HttpValidators(etag, modified, body_hash))
            for url, etag, modified, body_hash in store.db.execute(
                "SELECT url, etag, last_modified, body_hash FROM http_validators")
        }
        if validators:
            self.cluster.client.hset(self.keys.validators, mapping=validators)
        LOGGER.info("record published to Redis: %d article URLs, %d validators", count,
                    len(validators))

    def _publish_known(self, store: Store, where: str = "", params: list | None = None) -> int:
        """`P:known` for the article URLs `where` selects: what `Store.known` answers."""
        rows = store.db.execute(f"{KNOWN_SQL} {where}", params or [])
        count = 0
        while batch := rows.fetchmany(5000):
            self.cluster.client.hset(self.keys.known, mapping={
                url: json.dumps([article_id, canonical, latest or None])
                for url, article_id, canonical, latest in batch})
            count += len(batch)
        return count

    # -- one ingester at a time ----------------------------------------------------------

    def _lock(self) -> None:
        client = self.cluster.client
        key = self.keys.ingester
        if client.set(key, self.lock_value, nx=True, ex=LOCK_SECONDS):
            return
        holder = client.get(key)
        if holder is not None and holder.decode() == self.lock_value:
            client.expire(key, LOCK_SECONDS)
            return
        host, _, pid = (holder or b"").decode().rpartition(":")
        if host == socket.gethostname() and pid.isdigit() and not holder_alive(holder.decode()):
            # An ingester of this machine that was killed: its lock is ours to take.
            if client.set(key, self.lock_value, ex=LOCK_SECONDS, get=True) == holder:
                LOGGER.warning("took over the lock of ingester %s, which is gone",
                               holder.decode())
                return
        raise ClusterError(
            f"another veille ingest ({holder.decode() if holder else '?'}) is consuming "
            f"{self.keys.articles}: there must be only one (it is the database's only writer)")

    def _unlock(self) -> None:
        try:
            if self.cluster.client.get(self.keys.ingester) == self.lock_value.encode():
                self.cluster.client.delete(self.keys.ingester)
        except redis.RedisError:
            pass


def stop_on_signals(ingester: Ingester) -> None:
    """SIGTERM/SIGINT: finish the event in hand, then stop (nothing half-written)."""
    def handler(signum: int, frame: object) -> None:
        LOGGER.info("received %s: stopping after the current event",
                    signal.Signals(signum).name)
        ingester.stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
