"""Crontab text as an APScheduler trigger: read once when the config is checked, and again
by the scheduler, the same way (crontab's weekdays: 0 or 7 is Sunday)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def cron_trigger(expression: str, timezone: str = "UTC", jitter: int | None = None) -> CronTrigger:
    """A five-field crontab expression as an APScheduler trigger (crontab's weekdays)."""
    minute, hour, day, month, day_of_week = expression.split()
    return CronTrigger(minute=minute, hour=hour, day=day, month=month,
                       day_of_week=crontab_weekdays(day_of_week), timezone=ZoneInfo(timezone),
                       jitter=jitter)


def crontab_weekdays(field: str) -> str:
    """Crontab's weekday field (0 or 7 = Sunday) as a list of names, which APScheduler 3
    reads unambiguously (its own numbers start at Monday). Ranges and steps are expanded
    here: "0-4" or "*/2" translated name for name would be a range APScheduler refuses."""
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.lower().split(","):
        span, _, step = part.partition("/")
        first, _, last = span.partition("-")
        if span == "*":
            first, last = "0", "6"
        start = _weekday_number(first)
        stop = _weekday_number(last) if last else (6 if step else start)
        days.update(day % 7 for day in range(start, stop + 1, int(step or 1)))
    return ",".join(_DAYS[day] for day in sorted(days))


def _weekday_number(token: str) -> int:
    return int(token) if token.isdigit() else _DAYS.index(token)
