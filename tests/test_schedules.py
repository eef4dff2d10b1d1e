"""When sources are polled: triggers, due times, backoff, adaptive intervals, the failing
alarm, cron mode against the database, and the schedule keys of the config file."""

from __future__ import annotations

import json
import tomllib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from conftest import Clock

from crawler.clock import stamp
from crawler.config.cron import crontab_weekdays
from crawler.config.model import Config, ScheduleSettings, Source, parse_config
from crawler.errors import ConfigError
from crawler.record.store import Store
from scheduler.schedules import (
    SourceState,
    adaptive_interval,
    backoff,
    backoff_until,
    due_sources,
    failing_for_long,
    interval_seconds,
    is_due,
    next_due,
    timetable,
    trigger_for,
    update_timing,
)

BEIRUT = ZoneInfo("Asia/Beirut")
MONDAY_8_BEIRUT = datetime(2026, 11, 16, 8, 0, tzinfo=BEIRUT)  # 06:00 UTC (no DST in November)
T0 = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)
SETTINGS = ScheduleSettings()
CONFIG_PATH = Path("/srv/veille/veille.toml")


def source(**timing) -> Source:
    return Source(id="s1", name="Source one", kind="feed", url="https://news.example/feed.xml",
                  **timing)


def ran(at: datetime, **state) -> SourceState:
    return SourceState(last_run_at=at, **state)


def toml_source(source_id: str, **keys) -> str:
    lines = ["[[source]]", f'id = "{source_id}"', 'kind = "feed"',
             f'url = "https://{source_id}.example/feed.xml"']
    lines += [f"{key} = {json.dumps(value)}" for key, value in keys.items()]
    return "\n".join(lines) + "\n"


def config(text: str) -> Config:
    return parse_config(tomllib.loads(text), CONFIG_PATH)


# -- interval sources ------------------------------------------------------------------------


def test_interval_source_that_never_ran_is_due_now():
    assert next_due(source(every_seconds=900), SETTINGS, SourceState()) is None
    assert is_due(source(every_seconds=900), SETTINGS, SourceState(), T0)


def test_interval_source_is_due_exactly_every_after_its_last_run():
    every = source(every_seconds=900)
    assert next_due(every, SETTINGS, ran(T0)) == T0 + timedelta(seconds=900)
    assert not is_due(every, SETTINGS, ran(T0), T0 + timedelta(seconds=899))
    assert is_due(every, SETTINGS, ran(T0), T0 + timedelta(seconds=900))


def test_interval_defaults_to_schedule_every():
    settings = ScheduleSettings(every_seconds=1200)
    assert interval_seconds(source(), settings) == 1200
    assert next_due(source(), settings, ran(T0)) == T0 + timedelta(seconds=1200)
    trigger = trigger_for(source(), settings)
    assert isinstance(trigger, IntervalTrigger)
    assert trigger.interval == timedelta(seconds=1200)
    # the source's own interval wins over the default
    assert trigger_for(source(every_seconds=60), settings).interval == timedelta(seconds=60)


# -- cron sources ----------------------------------------------------------------------------


def test_cron_every_ten_minutes():
    cron = source(schedule="*/10 * * * *")
    trigger = trigger_for(cron, SETTINGS)
    assert isinstance(trigger, CronTrigger)
    assert trigger.get_next_fire_time(None, T0 + timedelta(minutes=3)) == T0 + timedelta(minutes=10)
    assert next_due(cron, SETTINGS, ran(T0 + timedelta(minutes=3))) == T0 + timedelta(minutes=10)
    # a run that started on a fire time is not due again at once
    assert next_due(cron, SETTINGS, ran(T0)) == T0 + timedelta(minutes=10)
    assert not is_due(cron, SETTINGS, ran(T0), T0 + timedelta(minutes=9, seconds=59))


def test_weekday_cron_uses_crontab_numbers_in_the_config_time_zone():
    weekdays = source(schedule="0 8 * * 1-5")
    trigger = trigger_for(weekdays, SETTINGS, "Asia/Beirut")
    # Monday 08:00 in Beirut is a fire time (APScheduler's own 1-5 would be Tuesday-Saturday)
    assert trigger.get_next_fire_time(None, MONDAY_8_BEIRUT) == MONDAY_8_BEIRUT
    assert MONDAY_8_BEIRUT.astimezone(UTC) == datetime(2026, 11, 16, 6, 0, tzinfo=UTC)
    # Sunday 08:00 is not: the next fire time is Monday's
    sunday = MONDAY_8_BEIRUT - timedelta(days=1)
    assert trigger.get_next_fire_time(None, sunday) == MONDAY_8_BEIRUT
    # after Friday's run (at noon), the next poll is on Monday (times in UTC work as well)
    friday_run = datetime(2026, 11, 13, 10, 0, tzinfo=UTC)
    assert next_due(weekdays, SETTINGS, ran(friday_run), "Asia/Beirut") == MONDAY_8_BEIRUT
    # the same expression read in UTC fires two hours later
    assert next_due(weekdays, SETTINGS, ran(friday_run)) == MONDAY_8_BEIRUT + timedelta(hours=2)


@pytest.mark.parametrize(("field", "days"), [
    ("1-5", "mon,tue,wed,thu,fri"),
    ("0", "sun"),
    ("7", "sun"),
    ("0-4", "sun,mon,tue,wed,thu"),  # the working week of much of the Middle East
    ("0-6", "sun,mon,tue,wed,thu,fri,sat"),
    ("5-7", "sun,fri,sat"),
    ("*/2", "sun,tue,thu,sat"),
    ("1-5/2", "mon,wed,fri"),
    ("6,0", "sun,sat"),
    ("MON-FRI", "mon,tue,wed,thu,fri"),
    ("sun-thu", "sun,mon,tue,wed,thu"),
    ("*", "*"),
])
def test_crontab_weekdays(field, days):
    assert crontab_weekdays(field) == days


@pytest.mark.parametrize(("field", "fire_days"), [
    ("0", {"Sun"}),
    ("7", {"Sun"}),
    ("0-4", {"Sun", "Mon", "Tue", "Wed", "Thu"}),
    ("*/2", {"Sun", "Tue", "Thu", "Sat"}),
    ("1-5/2", {"Mon", "Wed", "Fri"}),
])
def test_weekday_fields_fire_on_crontab_days(field, fire_days):
    trigger = trigger_for(source(schedule=f"0 8 * * {field}"), SETTINGS, "Asia/Beirut")
    fires, previous = [], None
    for _ in range(14):
        previous = trigger.get_next_fire_time(previous, previous or MONDAY_8_BEIRUT)
        fires.append(previous)
    assert {f.strftime("%a") for f in fires} == fire_days
    assert all(f.astimezone(BEIRUT).hour == 8 for f in fires)


# -- jitter ----------------------------------------------------------------------------------


@pytest.mark.parametrize("timing", [{"schedule": "*/10 * * * *"}, {"every_seconds": 600}],
                         ids=["cron", "interval"])
def test_jitter_is_in_the_trigger(timing):
    settings = ScheduleSettings(jitter_seconds=45)
    assert trigger_for(source(**timing), settings).jitter == 45  # the default
    assert trigger_for(source(jitter_seconds=20, **timing), settings).jitter == 20  # its own
    assert trigger_for(source(**timing), SETTINGS).jitter is None  # none at all


def test_next_due_leaves_jitter_out():
    cron = source(schedule="*/10 * * * *", jitter_seconds=300)
    assert next_due(cron, SETTINGS, ran(T0)) == T0 + timedelta(minutes=10)
    interval = source(every_seconds=600, jitter_seconds=300)
    assert next_due(interval, SETTINGS, ran(T0)) == T0 + timedelta(minutes=10)


# -- backoff ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("failures", "minutes"), [
    (0, 0), (1, 5), (2, 10), (3, 20), (4, 40), (5, 60), (6, 60), (1000, 60),
])
def test_backoff_doubles_up_to_the_cap(failures, minutes):
    settings = ScheduleSettings(backoff_seconds=300, backoff_cap_seconds=3600)
    assert backoff(failures, settings) == timedelta(minutes=minutes)


def test_no_backoff_without_failures():
    assert backoff_until(ran(T0, last_error_at=T0), SETTINGS) is None
    assert backoff_until(ran(T0, failure_count=2, last_error_at=T0),
                         SETTINGS) == T0 + timedelta(minutes=10)


def test_next_due_is_the_later_of_schedule_and_backoff():
    settings = ScheduleSettings(backoff_seconds=300, backoff_cap_seconds=3600)
    every = source(every_seconds=600)
    error_at = T0 + timedelta(seconds=10)
    # one failure: 5 min of backoff ends before the 10 min interval
    assert next_due(every, settings, ran(T0, failure_count=1, last_error_at=error_at)) == (
        T0 + timedelta(minutes=10))
    # three failures: 20 min of backoff from the error
    assert next_due(every, settings, ran(T0, failure_count=3, last_error_at=error_at)) == (
        error_at + timedelta(minutes=20))
    cron = source(schedule="*/10 * * * *")
    assert next_due(cron, settings, ran(T0, failure_count=3, last_error_at=error_at)) == (
        error_at + timedelta(minutes=20))


# -- adaptive intervals ----------------------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def store(tmp_path, clock):
    with Store.open(tmp_path / "veille.db", clock) as store:
        yield store


def add_runs(store: Store, source_id: str, *runs: tuple[datetime, int]) -> None:
    """crawl_runs rows (start time, new articles), written directly."""
    store.db["crawl_runs"].insert_all(
        {"source_id": source_id, "started_at": stamp(at), "ended_at": stamp(at), "status": "ok",
         "new": new} for at, new in runs)


ADAPTIVE = source(adaptive=True)


@pytest.fixture
def adaptive_store(store):
    store.sync_sources([ADAPTIVE, replace(ADAPTIVE, id="other")])
    return store


def test_adaptive_without_new_articles_polls_at_the_maximum(adaptive_store):
    assert adaptive_interval(adaptive_store.db, ADAPTIVE, SETTINGS, T0) == 2 * 3600
    # runs without news, news older than the 48 h window and another source's news don't count
    add_runs(adaptive_store, "s1", (T0 - timedelta(hours=1), 0),
             (T0 - timedelta(hours=48, seconds=1), 500))
    add_runs(adaptive_store, "other", (T0 - timedelta(hours=1), 500))
    assert adaptive_interval(adaptive_store.db, ADAPTIVE, SETTINGS, T0) == 2 * 3600


def test_adaptive_busy_source_polls_at_the_minimum(adaptive_store):
    # 2 000 articles in 48 h: one every 86 s, more often than the minimum allows
    add_runs(adaptive_store, "s1", *[(T0 - timedelta(minutes=10 * i), 20) for i in range(100)])
    assert adaptive_interval(adaptive_store.db, ADAPTIVE, SETTINGS, T0) == 120


def test_adaptive_interval_is_half_the_average_gap(adaptive_store):
    # 48 new articles in 48 h: one an hour, polled every 30 minutes
    add_runs(adaptive_store, "s1", (T0 - timedelta(hours=48), 20), (T0 - timedelta(hours=5), 28))
    assert adaptive_interval(adaptive_store.db, ADAPTIVE, SETTINGS, T0) == 1800


def test_adaptive_source_bounds_override_the_defaults(adaptive_store):
    bounded = replace(ADAPTIVE, min_every_seconds=600, max_every_seconds=3600)
    assert adaptive_interval(adaptive_store.db, bounded, SETTINGS, T0) == 3600
    add_runs(adaptive_store, "s1", (T0 - timedelta(hours=1), 1000))
    assert adaptive_interval(adaptive_store.db, bounded, SETTINGS, T0) == 600


@pytest.mark.parametrize("new", [0, 1000])
def test_adaptive_source_bound_beyond_the_other_default(adaptive_store, new):
    add_runs(adaptive_store, "s1", (T0 - timedelta(hours=1), new))
    slow = replace(ADAPTIVE, min_every_seconds=3 * 3600)  # above the default max (2 h)
    assert adaptive_interval(adaptive_store.db, slow, SETTINGS, T0) == 3 * 3600
    fast = replace(ADAPTIVE, max_every_seconds=60)  # below the default min (2 min)
    assert adaptive_interval(adaptive_store.db, fast, SETTINGS, T0) == 60


def test_adaptive_interval_is_used_only_by_adaptive_sources():
    state = ran(T0, interval_seconds=1800)
    assert interval_seconds(ADAPTIVE, SETTINGS, state) == 1800
    assert next_due(ADAPTIVE, SETTINGS, state) == T0 + timedelta(minutes=30)
    assert interval_seconds(source(every_seconds=900), SETTINGS, state) == 900
    # not computed yet: the source's interval, else the default
    assert interval_seconds(ADAPTIVE, SETTINGS, ran(T0)) == 600


# -- the failing alarm -----------------------------------------------------------------------


def test_failing_for_a_day():
    def state(hours: float) -> SourceState:
        return ran(T0, failure_count=9, failing_since=T0 - timedelta(hours=hours))

    assert not failing_for_long(state(23 + 59 / 60), SETTINGS, T0)
    assert failing_for_long(state(24), SETTINGS, T0)
    assert not failing_for_long(ran(T0), SETTINGS, T0)


# -- timetables ------------------------------------------------------------------------------


@pytest.mark.parametrize("base", [
    source(every_seconds=600), source(schedule="*/10 * * * *"), ADAPTIVE,
], ids=["interval", "cron", "adaptive"])
def test_timetable_unchanged_by_what_does_not_move_the_timetable(base):
    same = timetable(base, SETTINGS, ran(T0))
    assert timetable(replace(base, name="Renamed", url="https://news.example/rss",
                               max_age_days=5), SETTINGS, ran(T0 + timedelta(hours=1),
                                                              failure_count=3)) == same
    assert timetable(base, replace(SETTINGS, backoff_seconds=1), SourceState()) == same
    assert timetable(base, SETTINGS, ran(T0), "UTC") == same
    assert timetable(replace(base, jitter_seconds=30), SETTINGS, ran(T0)) != same
    assert timetable(base, replace(SETTINGS, jitter_seconds=30), ran(T0)) != same


def test_timetable_follows_interval_and_cron_expression():
    every = timetable(source(every_seconds=600), SETTINGS)
    assert timetable(source(every_seconds=900), SETTINGS) != every
    # the default interval matters only to a source that gives none
    assert timetable(source(every_seconds=600), replace(SETTINGS, every_seconds=60)) == every
    assert timetable(source(), replace(SETTINGS, every_seconds=60)) != timetable(
        source(), SETTINGS)
    cron = timetable(source(schedule="*/10 * * * *"), SETTINGS)
    assert timetable(source(schedule="*/15 * * * *"), SETTINGS) != cron
    assert timetable(source(schedule="*/10 * * * *"), SETTINGS, timezone="Asia/Beirut") != cron
    # an adaptive source's computed interval is its timetable; another source ignores it
    assert timetable(ADAPTIVE, SETTINGS, ran(T0, interval_seconds=1800)) != timetable(
        ADAPTIVE, SETTINGS, ran(T0, interval_seconds=900))
    assert timetable(source(every_seconds=600), SETTINGS,
                       ran(T0, interval_seconds=1800)) == every


# -- cron mode against the database ----------------------------------------------------------


TIMETABLE = config(
    '[crawl]\ntimezone = "Asia/Beirut"\n'
    '[schedule]\nevery = "10m"\nbackoff = "5m"\nbackoff_cap = "6h"\n'
    + toml_source("fresh")
    + toml_source("hourly", every="1h")
    + toml_source("failing", every="10m")
    + toml_source("weekdays", schedule="0 8 * * 1-5")
    + toml_source("busy", adaptive=True)
)


def crawl(store: Store, source_id: str, status: str = "ok", new: int = 0) -> None:
    run = store.start_run(source_id, pid=1)
    store.finish_run(run, status, {"new": new}, "HTTP 503" if status == "failed" else None)


def timing(store: Store) -> dict[str, tuple[str | None, str | None]]:
    return {r["id"]: (r["next_run_at"], r["backoff_until"]) for r in store.db.query(
        "SELECT id, next_run_at, backoff_until FROM sources")}


def test_due_sources_and_update_timing(store, clock):
    store.sync_sources(TIMETABLE.sources)
    clock.now = datetime(2026, 11, 13, 7, 0, tzinfo=UTC)  # Friday 09:00 in Beirut
    crawl(store, "weekdays")
    clock.now = T0 - timedelta(minutes=40)
    for _ in range(3):
        crawl(store, "failing", "failed")
        clock.advance(10)
    crawl(store, "hourly")
    crawl(store, "busy", new=48)  # one article an hour: polled every 30 minutes
    clock.now = T0

    due = [s.id for s in due_sources(TIMETABLE, store.db, T0)]
    # busy: every 10 minutes (the default) until its adaptive interval is computed
    assert due == ["fresh", "failing", "weekdays", "busy"]
    update_timing(TIMETABLE, store.db, [s.id for s in TIMETABLE.sources], T0)
    assert timing(store) == {
        "fresh": (None, None),  # never ran: due at once
        "hourly": ("2026-11-16T10:50:00Z", None),
        # failed at 09:20, 09:30, 09:40: 4 x 5 minutes after the last error
        "failing": ("2026-11-16T10:00:00Z", "2026-11-16T10:00:00Z"),
        "weekdays": ("2026-11-16T06:00:00Z", None),  # Monday 08:00 in Beirut
        "busy": ("2026-11-16T10:20:00Z", None),
    }
    assert store.db["sources"].get("busy")["interval_seconds"] == 1800
    assert [s.id for s in due_sources(TIMETABLE, store.db, T0)] == [
        "fresh", "failing", "weekdays"]

    # a success clears the backoff; Monday's run moves the weekday source to Tuesday
    crawl(store, "failing")
    crawl(store, "weekdays")
    update_timing(TIMETABLE, store.db, ["failing", "weekdays"], T0)
    assert timing(store)["failing"] == ("2026-11-16T10:10:00Z", None)
    assert timing(store)["weekdays"] == ("2026-11-17T06:00:00Z", None)
    assert [s.id for s in due_sources(TIMETABLE, store.db, T0)] == ["fresh"]


def test_update_timing_takes_the_daemons_fire_time_but_not_before_the_backoff(store, clock):
    store.sync_sources(TIMETABLE.sources)
    for _ in range(2):
        crawl(store, "failing", "failed")  # backoff: 10 minutes
    soon, later = T0 + timedelta(minutes=3), T0 + timedelta(minutes=25, seconds=7)
    update_timing(TIMETABLE, store.db, ["failing", "hourly"], T0,
                  {"failing": soon, "hourly": later})
    assert timing(store)["failing"] == ("2026-11-16T10:10:00Z", "2026-11-16T10:10:00Z")
    assert timing(store)["hourly"] == ("2026-11-16T10:25:07Z", None)


# -- the config file -------------------------------------------------------------------------


@pytest.mark.parametrize(("keys", "message"), [
    ({"schedule": "61 * * * *"}, "source 'bad': schedule: '61 * * * *' is not a cron expression"),
    ({"schedule": "*/10 * * *"}, "source 'bad': schedule: '*/10 * * *' is not a cron expression"),
    ({"schedule": "*/10 * * * *", "every": "10m"},
     "source 'bad': give either schedule (cron) or every, not both"),
    ({"adaptive": True, "min_every": "2h", "max_every": "1h"},
     "source 'bad': min_every is longer than max_every"),
    ({"min_every": "5m"}, "source 'bad': min_every/max_every only apply with adaptive = true"),
    ({"max_every": "5m"}, "source 'bad': min_every/max_every only apply with adaptive = true"),
    ({"adaptive": True, "schedule": "*/10 * * * *"},
     "source 'bad': adaptive polling needs an interval, not a cron schedule"),
    ({"every": "10 minutes"}, "source 'bad': every: '10 minutes' is not a duration"),
    ({"every": 0}, "source 'bad': every: 0 must be a positive number of minutes"),
    ({"jitter": True}, "source 'bad': jitter must be a number, not a boolean"),
])
def test_bad_source_timing_is_refused(keys, message):
    with pytest.raises(ConfigError) as error:
        config(toml_source("bad", **keys))
    assert str(error.value).startswith(f"{CONFIG_PATH}: ")
    assert message in str(error.value)


def test_source_timing_is_parsed():
    parsed = config(
        toml_source("daily", every="1d", jitter="90s")
        + toml_source("minutes", every=15)  # a bare number is minutes
        + toml_source("live", adaptive=True, min_every="1m", max_every="1h30m")
        + toml_source("cron", schedule="0 8 * * 1-5")
    )
    daily, minutes, live, cron = parsed.sources
    assert (daily.every_seconds, daily.jitter_seconds) == (86400, 90)
    assert minutes.every_seconds == 900
    assert (live.adaptive, live.min_every_seconds, live.max_every_seconds) == (True, 60, 5400)
    assert (cron.schedule, cron.every_seconds, cron.adaptive) == ("0 8 * * 1-5", None, False)


def test_schedule_table():
    parsed = config('[schedule]\nevery = "2m"\njitter = "30s"\nbackoff = "1m"\n'
                    'backoff_cap = "1d"\nfailing_alarm = "12h"\nprocesses = 2\n'
                    'jobs = "state/jobs.db"\n')
    assert parsed.schedule == replace(
        ScheduleSettings(), every_seconds=120, jitter_seconds=30, backoff_seconds=60,
        backoff_cap_seconds=86400, failing_alarm_seconds=43200, processes=2,
        jobs=Path("/srv/veille/state/jobs.db"))
    assert config("[schedule]\njitter = 0\n").schedule.jitter_seconds == 0
    assert config("").schedule == ScheduleSettings()


@pytest.mark.parametrize(("table", "message"), [
    ("processes = 0", "[schedule]: processes = 0: must be between 1 and 64"),
    ("processes = true", "[schedule]: processes must be an integer, not a boolean"),
    ("cron = \"* * * * *\"", "[schedule]: unknown key 'cron'"),
    ("every = \"soon\"", "[schedule]: every: 'soon' is not a duration"),
    ("backoff = 0", "[schedule]: backoff: 0 must be a positive number of minutes"),
])
def test_bad_schedule_table_is_refused(table, message):
    with pytest.raises(ConfigError, match=r"^/srv/veille/veille\.toml: ") as error:
        config(f"[schedule]\n{table}\n")
    assert message in str(error.value)
