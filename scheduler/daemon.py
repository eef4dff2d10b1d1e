"""`veille run`: the daemon. APScheduler 3 fires one job per source and one for the alert
dispatcher; each poll is a `veille crawl --source ID` process with a time limit, or, with
`[schedule] distributed = true`, a run queued in Redis for `veille worker`s.

- The job store is its own SQLite file (never the database Datasette serves), so a restart
  keeps every job's next run time instead of crawling everything at once.
- A crawl runs in a child process: Twisted's reactor cannot restart, and a hung or leaking
  crawl can be killed. At most one run per source (`max_instances=1`, and the per-source
  lock that `veille crawl` takes); late runs are coalesced.
- SIGTERM/SIGINT: no new crawl starts, running ones get `grace` seconds (they receive
  SIGTERM, which Scrapy turns into a clean stop), then are killed. Articles are written one
  transaction each, so nothing is left half-written.
- SIGHUP, or a change of the config file, reloads the config: new sources start, removed
  ones stop, changed schedules apply.
- `--metrics HOST:PORT`: Prometheus metrics read from the record, and a health check that
  fails when no poll started or ended for twice the longest interval (`scheduler.monitor`).
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from crawler.clock import stamp, utc_now
from crawler.config.model import Config, load_config
from crawler.errors import ConfigError
from crawler.record.store import Store
from crawler.wording import plural
from scheduler.metrics import RecordCollector
from scheduler.monitor import Health, MonitorServer, longest_interval
from scheduler.schedules import (
    SourceState,
    backoff_until,
    failing_for_long,
    timetable,
    trigger_for,
    update_timing,
)

LOGGER = logging.getLogger("veille.daemon")
DISPATCH_JOB = "dispatch-alerts"
# The daemon this process runs; jobs are stored by reference (pickled), so they find it here.
_DAEMON: Daemon | None = None


def jobs_path(config: Config, db_path: Path) -> Path:
    """APScheduler's job store: `[schedule] jobs`, or `<db>-scheduler.db` beside the database."""
    return config.schedule.jobs or db_path.with_name(f"{db_path.stem}-scheduler.db")


class Daemon:
    """Runs the scheduler until told to stop."""

    def __init__(self, config_path: Path, db_path: Path, environ: dict[str, str] | None = None,
                 monitor: MonitorServer | None = None):
        self.config_path = config_path
        self.db_path = db_path
        self.environ = dict(os.environ if environ is None else environ)
        self.config = load_config(config_path)
        self.monitor = monitor
        self.health = Health(self._longest_interval)
        self._longest: tuple[Config | None, float | None] = (None, None)
        self.config_mtime = config_path.stat().st_mtime
        self.stopping = threading.Event()
        self.reload_requested = threading.Event()
        self.children: dict[str, subprocess.Popen] = {}
        self.children_lock = threading.Lock()
        self.dispatch_lock = threading.Lock()
        self.cluster = None  # Redis, for `distributed = true`: opened at the first poll
        # Jobs running now: shutdown waits for them before stopping APScheduler, whose
        # shutdown(wait=True) deadlocks with a job that is calling back into the scheduler.
        self.active_jobs = 0
        self.jobs_done = threading.Condition()
        # Creates the schema before any child does.
        Store.open_for(self.config, db_path).close()
        self.heartbeat(started=True)
        self.scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(
                url=f"sqlite:///{jobs_path(self.config, db_path)}")},
            # Polls wait in line for one of `processes` slots: a late poll runs late rather
            # than being dropped (misfire_grace_time=None), so no source starves when
            # polls take longer than intervals. The dispatcher has its own thread.
            executors={"default": ThreadPoolExecutor(max_workers=self.config.schedule.processes),
                       "dispatch": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone="UTC",
        )

    # -- life cycle ----------------------------------------------------------------------

    def run(self) -> int:
        """Start, serve until SIGTERM/SIGINT, stop cleanly. Returns the exit status."""
        global _DAEMON
        _DAEMON = self
        # Signals are read from a pipe in the main loop (signal.set_wakeup_fd), not acted
        # on inside handlers: a handler that touched a lock the main thread holds would
        # deadlock the daemon.
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        signal.set_wakeup_fd(wake_write)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, _noted)
        self.scheduler.start(paused=True)
        self.sync_jobs()
        self.scheduler.resume()
        if self.monitor is not None:
            self.monitor.start(self.health, RecordCollector(self.db_path))
        LOGGER.info("veille daemon started: %d sources, config %s, database %s, jobs %s",
                    len(self.config.sources), self.config_path, self.db_path,
                    jobs_path(self.config, self.db_path))
        while not self.stopping.is_set():
            # Wake at once on a signal; otherwise look at the config file every 2 seconds.
            ready, _, _ = select.select([wake_read], [], [], 2.0)
            received = set(os.read(wake_read, 64)) if ready else set()
            if received & {signal.SIGTERM, signal.SIGINT}:
                name = signal.Signals(min(received & {signal.SIGTERM, signal.SIGINT})).name
                LOGGER.info("received %s: stopping", name)
                self.stopping.set()
            elif signal.SIGHUP in received:
                LOGGER.info("received SIGHUP: reloading %s", self.config_path)
                self.reload()
            elif self._config_changed():
                LOGGER.info("%s changed: reloading", self.config_path)
                self.reload()
        self.shutdown()
        signal.set_wakeup_fd(-1)
        os.close(wake_read)
        os.close(wake_write)
        _DAEMON = None
        return 0

    def _config_changed(self) -> bool:
        try:
            mtime = self.config_path.stat().st_mtime
        except OSError:
            return False
        return mtime != self.config_mtime

    def shutdown(self) -> None:
        """No new crawl; running ones get the grace period, then are killed."""
        self.health.stopping = True
        self.heartbeat(stopped=True)
        self.scheduler.pause()
        grace = self.config.schedule.grace_seconds
        with self.children_lock:
            running = dict(self.children)
        for source_id, child in running.items():
            LOGGER.info("%s: asking the running crawl (pid %d) to stop", source_id, child.pid)
            child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for source_id, child in running.items():
            try:
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                LOGGER.warning("%s: crawl still running after %.0f s: killed", source_id, grace)
                child.kill()
                child.wait()
        with self.jobs_done:
            if not self.jobs_done.wait_for(lambda: self.active_jobs == 0, timeout=grace + 30):
                LOGGER.warning("%d job(s) still running at exit", self.active_jobs)
        self.scheduler.shutdown(wait=False)
        if self.monitor is not None:
            self.monitor.stop()
        LOGGER.info("veille daemon stopped")

    def reload(self) -> None:
        if self.stopping.is_set():
            return
        try:
            self.config_mtime = self.config_path.stat().st_mtime
            config = load_config(self.config_path)
        except (ConfigError, OSError) as exc:
            LOGGER.error("config not reloaded, keeping the previous one: %s", exc)
            return
        self.config = config
        Store.open_for(config, self.db_path).close()
        self.sync_jobs()

    def heartbeat(self, *, started: bool = False, stopped: bool = False) -> None:
        """Record in the database that a poll starts or ends (or the daemon starts or
        stops): any process that sends alerts tells the operators when it goes stale."""
        from crawler.alerts.operators import write_heartbeat

        try:
            with Store.open(self.db_path) as store:
                write_heartbeat(store.db, utc_now(), os.getpid(), started=started,
                                stopped=stopped)
        except sqlite3.Error as exc:  # a busy database: the next poll writes it again
            LOGGER.warning("heartbeat not recorded: %s", exc)

    def polled(self) -> None:
        """A poll starts or ends: told to the health check and recorded as a heartbeat."""
        self.health.polled()
        self.heartbeat()

    def _longest_interval(self) -> float | None:
        """The health check's interval, found once per config (only when it is asked: a
        cron timetable's longest gap takes some work)."""
        config = self.config
        if self._longest[0] is not config:
            self._longest = (config, longest_interval(config))
        return self._longest[1]

    # -- jobs ----------------------------------------------------------------------------

    def sync_jobs(self) -> None:
        """Make the stored jobs match the config; keep the next run time of unchanged ones."""
        config = self.config
        with Store.open(self.db_path) as store:
            states = {s.id: SourceState.load(store.db, s.id) for s in config.sources}
        wanted = set()
        for source in config.sources:
            job_id = f"source:{source.id}"
            wanted.add(job_id)
            state = states[source.id]
            name = timetable(source, config.schedule, state, config.crawl.timezone)
            trigger = trigger_for(source, config.schedule, config.crawl.timezone, state)
            job = self.scheduler.get_job(job_id)
            if job is None:
                # A new source is polled at once; a known one resumes its timetable.
                self.scheduler.add_job(
                    run_source, trigger, args=[source.id], id=job_id, name=name,
                    next_run_time=utc_now(),
                )
                LOGGER.info("%s: scheduled (%s)", source.id, name)
            elif job.name != name:
                job.modify(name=name)
                job.reschedule(trigger)
                LOGGER.info("%s: schedule changed (%s)", source.id, name)
        for job in self.scheduler.get_jobs():
            if job.id.startswith("source:") and job.id not in wanted:
                job.remove()
                LOGGER.info("%s: removed from the config, no longer polled", job.id[7:])
        every = config.schedule.dispatch_every_seconds
        dispatch = self.scheduler.get_job(DISPATCH_JOB)
        name = f"dispatch every {every:.0f}s"
        if dispatch is None:
            self.scheduler.add_job(dispatch_alerts, IntervalTrigger(seconds=every),
                                   id=DISPATCH_JOB, name=name, executor="dispatch")
        elif dispatch.name != name:
            dispatch.modify(name=name)
            dispatch.reschedule(IntervalTrigger(seconds=every))
        with Store.open(self.db_path) as store:
            self._record_next_runs(store.db, [s.id for s in config.sources])

    def _record_next_runs(self, db, ids: list[str]) -> None:
        """Write the sources' timing, with the scheduler's own next fire times."""
        next_runs = {
            job.id[7:]: job.next_run_time for job in self.scheduler.get_jobs()
            if job.id.startswith("source:") and job.next_run_time is not None
        }
        update_timing(self.config, db, ids, utc_now(), next_runs)

    @contextmanager
    def job(self) -> Iterator[None]:
        """Count a running job, so that shutdown can wait for it."""
        with self.jobs_done:
            self.active_jobs += 1
        try:
            yield
        finally:
            with self.jobs_done:
                self.active_jobs -= 1
                self.jobs_done.notify_all()

    # -- one poll ------------------------------------------------------------------------

    def poll(self, source_id: str) -> None:
        """Crawl one source in a child process with a time limit; log one line."""
        if self.stopping.is_set():
            return
        self.polled()
        config = self.config
        try:
            source = config.source(source_id)
        except ConfigError:
            return
        now = utc_now()
        with Store.open(self.db_path) as store:
            state = SourceState.load(store.db, source_id)
        until = backoff_until(state, config.schedule)
        if until and now < until:
            LOGGER.info("%s: backing off after %d failure(s) until %s", source_id,
                        state.failure_count, stamp(until))
            return
        if config.schedule.distributed:
            self.queue(source)
            return
        command = [sys.executable, "-m", "crawler", "--config", str(self.config_path),
                   "--db", str(self.db_path), "crawl", "--source", source_id,
                   "--no-progress", "--quiet"]
        started = time.monotonic()
        child = subprocess.Popen(command, env=self.environ, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
        with self.children_lock:
            self.children[source_id] = child
        try:
            output, _ = child.communicate(timeout=config.schedule.timeout_seconds)
        except subprocess.TimeoutExpired:
            child.kill()
            output, _ = child.communicate()
            LOGGER.error("%s: crawl killed after %.0f s (the [schedule] timeout)", source_id,
                         config.schedule.timeout_seconds)
        finally:
            with self.children_lock:
                self.children.pop(source_id, None)
        seconds = time.monotonic() - started
        self._report(source, seconds, output or "")
        self._after_poll(source)

    def queue(self, source) -> None:
        """`distributed = true`: hand the poll to the workers through Redis."""
        from crawler.cluster.shared import Cluster
        from crawler.errors import ClusterError
        from scheduler.handoff import queue_sources

        try:
            # One connection for every poll, made again after a reload or a failure.
            with self.children_lock:
                if self.cluster is None or self.cluster.settings != self.config.redis:
                    self.cluster = Cluster.open(self.config.redis)
                cluster = self.cluster
            (queued,) = queue_sources(self.config, self.db_path, [source], cluster)
        except ClusterError as exc:
            self.cluster = None
            LOGGER.error("%s: %s", source.id, exc)
            return
        if queued.run_id is None:
            LOGGER.info("%s: not queued again: %s", source.id, queued.note)
        else:
            LOGGER.info("%s: queued for the workers (run %d)", source.id, queued.run_id)
        self._after_poll(source)

    def _report(self, source, seconds: float, output: str) -> None:
        with Store.open(self.db_path) as store:
            run = next(store.db.query(
                "SELECT * FROM crawl_runs WHERE source_id = ? ORDER BY id DESC LIMIT 1",
                [source.id]), None)
            state = SourceState.load(store.db, source.id)
        if run is None or run["status"] == "running":
            LOGGER.error("%s: the crawl process ended without recording its run: %s",
                         source.id, output.strip()[-500:])
            return
        log = LOGGER.info if run["status"] in ("ok", "partial") else LOGGER.error
        log("%s: %s in %.1f s, %d new, %d updated, %d errors, %s, %s%s",
            source.id, run["status"], seconds, run["new"], run["updated"], run["errors"],
            plural(run["alerts"] or 0, "alert"), plural(run["requests"] or 0, "request"),
            f" ({run['message']})" if run["message"] else "")
        if failing_for_long(state, self.config.schedule, utc_now()):
            LOGGER.warning("%s: FAILING since %s (%d failures in a row); last error: %s",
                           source.id, stamp(state.failing_since), state.failure_count,
                           run["message"])

    def _after_poll(self, source) -> None:
        if self.stopping.is_set():
            return
        job = self.scheduler.get_job(f"source:{source.id}")
        with Store.open(self.db_path) as store:
            queued = store.db.execute(
                "SELECT count(*) FROM alerts WHERE status = 'pending'").fetchone()[0]
            if source.adaptive and job is not None:
                # The new interval first: the job's next fire time follows from it.
                update_timing(self.config, store.db, [source.id], utc_now())
                state = SourceState.load(store.db, source.id)
                name = timetable(source, self.config.schedule, state,
                                   self.config.crawl.timezone)
                if job.name != name:
                    job.modify(name=name)
                    job.reschedule(trigger_for(source, self.config.schedule,
                                               self.config.crawl.timezone, state))
                    LOGGER.info("%s: adaptive interval now %s", source.id, name)
            self._record_next_runs(store.db, [source.id])
        if queued:
            self.dispatch()

    def dispatch(self) -> None:
        """Send the due alerts (one dispatcher at a time in this process)."""
        from crawler.alerts.dispatch import send_due

        if not self.dispatch_lock.acquire(blocking=False):
            return
        try:
            report = send_due(self.config, self.db_path, environ=self.environ,
                              polling_limit=self._longest_interval)
            if report.notices:
                LOGGER.info("operator notices: %d sent", report.notices)
            if report.batches:
                LOGGER.info("alerts: %d sent, %d to retry, %d failed", report.sent,
                            report.retrying, report.failed)
            for error in report.errors:
                LOGGER.warning("alerts: %s", error)
        finally:
            self.dispatch_lock.release()


def _noted(signum: int, frame: object) -> None:
    """Signal handler: nothing to do here, the main loop reads the signal from its pipe."""


def run_source(source_id: str) -> None:
    """The job of one source (module-level: APScheduler stores jobs by reference)."""
    daemon = _DAEMON
    if daemon is None:
        LOGGER.error("job for %s fired outside the daemon", source_id)
        return
    with daemon.job():
        daemon.poll(source_id)
        daemon.polled()


def dispatch_alerts() -> None:
    """The alert dispatcher's job: digests and retries become due on their own."""
    daemon = _DAEMON
    if daemon is not None and not daemon.stopping.is_set():
        with daemon.job():
            daemon.dispatch()
