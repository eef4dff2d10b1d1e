"""When each source is polled: its APScheduler trigger, its next due time, its backoff after
failures, and (for `adaptive = true`) an interval that follows its publishing rate.

The daemon (`scheduler.daemon`) and cron mode (`veille crawl --due`) both use these
functions, so a source is polled on the same timetable whichever runs it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler.clock import parse_time, stamp
from crawler.config.cron import cron_trigger
from crawler.config.model import Config, ScheduleSettings, Source
from crawler.record.events import gaps_since
from crawler.record.schema import write_transaction

LOGGER = logging.getLogger(__name__)

# How far back the adaptive interval looks at a source's new articles.
ADAPTIVE_WINDOW = timedelta(hours=48)


@dataclass(frozen=True)
class SourceState:
    """What the database knows about a source's past runs."""

    last_run_at: datetime | None = None
    last_error_at: datetime | None = None
    failure_count: int = 0
    interval_seconds: float | None = None  # the adaptive interval last computed
    failing_since: datetime | None = None

    @classmethod
    def load(cls, db: sqlite_utils.Database, source_id: str) -> SourceState:
        row = next(db.query(
            "SELECT last_run_at, last_error_at, failure_count, interval_seconds, failing_since "
            "FROM sources WHERE id = ?", [source_id]), None)
        return cls() if row is None else cls.from_row(row)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> SourceState:
        """The state in a row of the sources table (read already)."""
        return cls(
            last_run_at=parse_time(row["last_run_at"]),
            last_error_at=parse_time(row["last_error_at"]),
            failure_count=row["failure_count"] or 0,
            interval_seconds=row["interval_seconds"],
            failing_since=parse_time(row["failing_since"]),
        )


def interval_seconds(source: Source, settings: ScheduleSettings,
                     state: SourceState | None = None) -> float:
    """The source's polling interval: adaptive, its own `every`, or the default."""
    if source.adaptive and state is not None and state.interval_seconds:
        return state.interval_seconds
    return source.every_seconds or settings.every_seconds


def trigger_for(source: Source, settings: ScheduleSettings, timezone: str = "UTC",
                state: SourceState | None = None) -> BaseTrigger:
    """The APScheduler trigger of a source (cron expression or interval, with jitter).

    Jitter is given to the trigger itself: APScheduler 3 drops an `add_job(jitter=...)`
    when a trigger instance is passed.
    """
    jitter_arg = int(jitter(source, settings)) or None
    if source.schedule:
        return cron_trigger(source.schedule, timezone, jitter_arg)
    return IntervalTrigger(seconds=interval_seconds(source, settings, state), timezone=UTC,
                           jitter=jitter_arg)


def jitter(source: Source, settings: ScheduleSettings) -> float:
    """The source's jitter in seconds: its own, or the `[schedule]` default."""
    return source.jitter_seconds if source.jitter_seconds is not None else settings.jitter_seconds


def timetable(source: Source, settings: ScheduleSettings, state: SourceState | None = None,
                timezone: str = "UTC") -> str:
    """A short text that changes when the source's timetable changes (the daemon's job name)."""
    if source.schedule:
        timing = f"cron {source.schedule} {timezone}"
    else:
        timing = f"every {interval_seconds(source, settings, state):.0f}s"
    return f"{source.id}: {timing}, jitter {jitter(source, settings):.0f}s"


def backoff(failures: int, settings: ScheduleSettings) -> timedelta:
    """How long a source that failed `failures` times in a row waits before its next poll."""
    if failures <= 0:
        return timedelta(0)
    seconds = settings.backoff_seconds * 2 ** min(failures - 1, 30)
    return timedelta(seconds=min(seconds, settings.backoff_cap_seconds))


def backoff_until(state: SourceState, settings: ScheduleSettings) -> datetime | None:
    if not state.failure_count or state.last_error_at is None:
        return None
    return state.last_error_at + backoff(state.failure_count, settings)


def next_due(source: Source, settings: ScheduleSettings, state: SourceState,
             timezone: str = "UTC") -> datetime | None:
    """When the source is next due (None: now, it never ran). Jitter is left out here."""
    if state.last_run_at is None:
        return None
    last = state.last_run_at
    if source.schedule:
        trigger = cron_trigger(source.schedule, timezone)
        due = trigger.get_next_fire_time(None, last + timedelta(seconds=1))
    else:
        due = last + timedelta(seconds=interval_seconds(source, settings, state))
    until = backoff_until(state, settings)
    return max(due, until) if until and due else (due or until)


def is_due(source: Source, settings: ScheduleSettings, state: SourceState, now: datetime,
           timezone: str = "UTC") -> bool:
    due = next_due(source, settings, state, timezone)
    return due is None or due <= now


def adaptive_interval(db: sqlite_utils.Database, source: Source, settings: ScheduleSettings,
                      now: datetime) -> float:
    """An interval that follows the source's publishing rate, within its bounds.

    Poll about twice per average gap between new articles over the last 48 hours: a live
    section that publishes every 10 minutes is polled every 5, a quiet one at the maximum.
    A source with a gap in those 48 hours (a poll whose items were all new: it publishes
    faster than it is polled) is polled twice as often again, down to its minimum.
    """
    low = source.min_every_seconds or settings.min_every_seconds
    high = source.max_every_seconds or settings.max_every_seconds
    if low > high:  # a source's own bound beats the default on the other side
        low, high = (low, low) if source.min_every_seconds else (high, high)
    since = stamp(now - ADAPTIVE_WINDOW)
    new = db.execute(
        "SELECT coalesce(sum(new), 0) FROM crawl_runs WHERE source_id = ? AND started_at >= ?",
        [source.id, since],
    ).fetchone()[0]
    interval = high if not new else max(low, min(high, ADAPTIVE_WINDOW.total_seconds() / new / 2))
    if gaps_since(db, source.id, since or ""):
        interval = max(low, interval / 2)
    return interval


def failing_for_long(state: SourceState, settings: ScheduleSettings, now: datetime) -> bool:
    """Whether the source has been failing (no success) for longer than the alarm."""
    return (state.failing_since is not None and
            now - state.failing_since >= timedelta(seconds=settings.failing_alarm_seconds))


def due_sources(config: Config, db: sqlite_utils.Database, now: datetime) -> list[Source]:
    """The configured sources whose next poll is due at `now` (cron mode)."""
    zone = config.crawl.timezone
    return [s for s in config.sources
            if is_due(s, config.schedule, SourceState.load(db, s.id), now, zone)]


def update_timing(config: Config, db: sqlite_utils.Database, source_ids: Iterable[str],
                  now: datetime, next_runs: Mapping[str, datetime] | None = None) -> None:
    """After a poll: refresh each source's adaptive interval, backoff and next run time.

    `next_runs` gives the daemon's own next fire times; cron mode computes them.
    """
    with write_transaction(db):
        for source_id in source_ids:
            source = config.source(source_id)
            if source.adaptive:
                db.execute("UPDATE sources SET interval_seconds = ? WHERE id = ?",
                           [adaptive_interval(db, source, config.schedule, now), source_id])
            state = SourceState.load(db, source_id)
            until = backoff_until(state, config.schedule)
            due = (next_runs or {}).get(source_id) or next_due(
                source, config.schedule, state, config.crawl.timezone)
            if until and due:
                due = max(due, until)
            db.execute(
                "UPDATE sources SET next_run_at = ?, backoff_until = ? WHERE id = ?",
                [stamp(due), stamp(until), source_id],
            )
