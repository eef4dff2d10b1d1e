"""Checks shared by every part of the configuration: types, names, numbers and their
ranges, durations, URLs, time zones.

Every check raises `ConfigError` with a message that names the file, the table and the
problem, so that a user can fix the file without reading code. `RANGES` is the one table of
the values each number of the configuration may take; README's configuration reference
shows the same ranges (a test compares them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import SplitResult, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cssselect import SelectorError
from parsel.csstranslator import css2xpath

from crawler.errors import ConfigError

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_DURATION = re.compile(
    r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*(?:(\d+)\s*s)?\s*$"
)


def parse_duration(text: str | int, where: str) -> timedelta:
    """ "90s", "5m", "2h", "1h30m", "1d" (or a number of minutes) as a timedelta."""
    if isinstance(text, int):
        minutes = text
        if minutes <= 0:
            raise ConfigError(f"{where}: {text!r} must be a positive number of minutes")
        return _delta(where, text, minutes=minutes)
    match = _DURATION.match(text)
    if not text.strip() or not match or not any(match.groups()):
        raise ConfigError(f"{where}: {text!r} is not a duration such as \"90s\", \"5m\", "
                          f"\"2h\", \"1h30m\" or \"1d\"")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    delta = _delta(where, text, days=days, hours=hours, minutes=minutes, seconds=seconds)
    if delta <= timedelta(0):
        raise ConfigError(f"{where}: {text!r} must be longer than zero")
    return delta


@dataclass(frozen=True)
class Range:
    """The values one number of the configuration may take, `low` to `high` inclusive.

    `unit` is how the key is written: "duration" ("90s", "2h", or a number of minutes; the
    bounds are then seconds), "s", "KB" or "days" for a plain number in that unit, "" for a
    count or a share. `note` says what the key does, and what 0 means where 0 is allowed;
    `zero` allows 0 below a range that starts higher ("0 or 1h to 3650d").
    """

    low: float
    high: float
    unit: str = ""
    note: str = ""
    zero: bool = False

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high or (value == 0 and self.zero)

    def __str__(self) -> str:
        """As README shows it: "1 to 64", "0 to 60 s", "0 or 1s to 1d"."""
        return self.describe("{} to {}")

    def describe(self, span: str) -> str:
        """`span` ("between {} and {}") filled with the bounds, with the unit and the 0."""
        text = span.format(self.show(self.low), self.show(self.high))
        if self.unit not in ("", "duration"):
            text += f" {self.unit}"
        return f"0 or {text}" if self.zero else text

    def show(self, value: float) -> str:
        if self.unit == "duration":
            return show_duration(value)
        return str(int(value)) if value == int(value) else str(value)


_DAY = 86400
# Every number of the configuration: "table.key" -> its range. A duration is in seconds.
RANGES: dict[str, Range] = {
    "crawl.download_delay": Range(0, 60, "s", "pause between two requests to one site; "
                                  "0: none (AutoThrottle still slows down for a slow site)"),
    "crawl.concurrency_per_domain": Range(1, 64, "", "requests at once to one site"),
    "crawl.timeout": Range(1, 600, "s", "a fetch taking longer fails"),
    "crawl.retries": Range(0, 10, "", "retries of a failed fetch; 0: none"),
    "crawl.retry_backoff": Range(0, 600, "s", "wait before the first retry, doubled for each "
                                 "next one; 0: retry at once"),
    "crawl.max_response_kb": Range(16, 1024 * 1024, "KB", "a larger response is cut off, an "
                                   "error: of a listing, feed or sitemap the entries that "
                                   "came are read, an article page is not stored (1 GB: "
                                   "Scrapy's own ceiling)"),
    "crawl.keep_pages": Range(3600, 3650 * _DAY, "duration", "raw pages older than this are "
                              "deleted; 0: kept for ever", zero=True),
    "crawl.retry_after_max": Range(1, 3600, "duration", "longest Retry-After (of a 429 or "
                                   "503 answer) waited before a retry; a server asking for "
                                   "more is tried again by the next crawl"),
    "crawl.max_links_per_listing": Range(1, 100_000, "", "article links followed per "
                                         "listing page, feed or sitemap (the first ones; a "
                                         "warning says when there are more)"),
    "crawl.gap_pages": Range(0, 100, "", "documents read further to fill a gap (next pages, "
                             "sitemaps); 0: gaps are recorded, not filled"),
    "source.max_pages": Range(1, 100, "", "listing pages followed (topic only)"),
    "source.gap_pages": Range(0, 100, "", "the source's own crawl.gap_pages"),
    "source.max_age_days": Range(0, 3650, "days", "sitemap entries older than this are "
                                 "skipped; 0: no limit"),
    "source.every": Range(1, 30 * _DAY, "duration", "the source's polling interval"),
    "source.jitter": Range(1, _DAY, "duration", "random delay added to each poll; 0: none",
                           zero=True),
    "source.min_every": Range(1, 30 * _DAY, "duration", "adaptive polling's shortest interval"),
    "source.max_every": Range(1, 30 * _DAY, "duration", "adaptive polling's longest interval"),
    "schedule.every": Range(1, 30 * _DAY, "duration", "polling interval of a source that "
                            "gives none"),
    "schedule.jitter": Range(1, _DAY, "duration", "random delay added to each poll; 0: none",
                             zero=True),
    "schedule.backoff": Range(1, _DAY, "duration", "wait after a failed poll, doubled for each "
                              "next failure"),
    "schedule.backoff_cap": Range(1, 30 * _DAY, "duration", "the longest backoff"),
    "schedule.timeout": Range(1, _DAY, "duration", "a crawl process running longer is stopped"),
    "schedule.grace": Range(1, 3600, "duration", "on SIGTERM, running crawls get this long"),
    "schedule.dispatch_every": Range(1, _DAY, "duration", "how often due alerts are sent"),
    "schedule.min_every": Range(1, 30 * _DAY, "duration", "adaptive polling's shortest "
                                "interval"),
    "schedule.max_every": Range(1, 30 * _DAY, "duration", "adaptive polling's longest "
                                "interval"),
    "schedule.failing_alarm": Range(60, 30 * _DAY, "duration", "a source failing this long "
                                    "is flagged FAILING"),
    "schedule.processes": Range(1, 64, "", "crawl processes the daemon runs at once"),
    "stories.threshold": Range(0.01, 1, "", "share of a text found in another that makes "
                               "them one story"),
    "stories.update_threshold": Range(0.01, 1, "", "share of words changed that makes an "
                                      "update worth an alert"),
    "stories.window": Range(3600, 365 * _DAY, "duration", "copies are looked for among "
                            "articles seen this recently"),
    "alerts.max_attempts": Range(1, 100, "", "deliveries tried before an alert is given up"),
    "alerts.backoff": Range(1, _DAY, "duration", "wait before the first retry, doubled for "
                            "each next one"),
    "alerts.backoff_cap": Range(1, 7 * _DAY, "duration", "the longest wait between retries"),
    "alerts.lease": Range(10, _DAY, "duration", "a batch being sent is not taken by another "
                          "sender for this long"),
    "alerts.max_age": Range(60, 3650 * _DAY, "duration", "no alert for an article published "
                            "longer ago (default: no limit)"),
    "subscription.every": Range(60, 7 * _DAY, "duration", "a digest's interval"),
    "subscription.webhook.timeout": Range(1, 300, "s", "a delivery taking longer fails"),
    "subscription.email.port": Range(1, 65535, "", "the SMTP server's port"),
    "subscription.email.timeout": Range(1, 300, "s", "a delivery taking longer fails"),
    "subscription.feed.max_entries": Range(1, 10000, "", "entries kept in the Atom file"),
    "redis.worker_timeout": Range(1, 3600, "duration", "a worker silent this long is presumed "
                                  "dead"),
    "redis.seen_ttl": Range(60, 365 * _DAY, "duration", "how long the shared duplicate filter "
                            "remembers a URL"),
}


def check_range(name: str, value: float, where: str, written: Any = None) -> None:
    """Refuse `value` outside `RANGES[name]`; `written` is the value as the file gives it
    (a duration such as "40d"), when it is not `value` itself."""
    allowed = RANGES[name]
    if value in allowed:
        return
    written = value if written is None else written
    shown = f'"{written}"' if isinstance(written, str) else written
    raise ConfigError(f"{where}: {name.rsplit('.', 1)[1]} = {shown}: must be "
                      f"{allowed.describe('between {} and {}')}")


def check_numbers(table: str, entry: Mapping[str, Any], where: str) -> None:
    """Every plain number of `entry` (a table already type-checked) within its range in
    `RANGES`, where its name is "<table>.<key>"; durations are checked by `seconds`."""
    for key, value in entry.items():
        allowed = RANGES.get(f"{table}.{key}")
        if allowed is not None and allowed.unit != "duration":
            check_range(f"{table}.{key}", value, where)


def seconds(name: str, written: str | int, where: str) -> float:
    """The duration key `name` of `RANGES` ("schedule.every") in seconds, within its range;
    0 only where the range gives 0 a meaning."""
    if RANGES[name].zero and written in (0, "0", "0s"):
        return 0.0
    key = name.rsplit(".", 1)[1]
    value = parse_duration(written, f"{where}: {key}").total_seconds()
    check_range(name, value, where, written)
    return value


def show_duration(value: float) -> str:
    """Seconds as a duration the configuration accepts: 90 -> "1m30s", 86400 -> "1d"."""
    parts, rest = [], int(value)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts) or "0s"


def check_url(url: str, where: str, shown: str | None = None) -> SplitResult:
    """`url` split, or a `ConfigError` if it cannot be ("http://[::1", a port that is not a
    number). `shown` is the URL as a message may show it, without its secrets; Python's
    reason, which may quote the URL, is then left out."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        reason = f" ({exc})" if shown is None else ""
        raise ConfigError(f"{where}: url {shown or url!r} is not a valid URL{reason}") from None
    try:
        parts.port  # noqa: B018 (raises on a port that is not a number or out of range)
    except ValueError:
        raise ConfigError(f"{where}: url {shown or url!r} has an invalid port") from None
    return parts


def _delta(where: str, text: str | int, **parts: int) -> timedelta:
    try:
        return timedelta(**parts)
    except OverflowError:  # beyond a million days
        raise ConfigError(f"{where}: {text!r} is too long a duration") from None


def strings(entry: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    """A list of non-empty strings, stripped."""
    values = entry.get(key, [])
    if not all(isinstance(v, str) and v.strip() for v in values):
        raise ConfigError(f"{where}: {key} must be a list of non-empty strings")
    return tuple(v.strip() for v in values)


def check_types(entry: Mapping[str, Any], schema: Mapping[str, Any], where: str) -> None:
    for key, value in entry.items():
        if key not in schema:
            raise ConfigError(f"{where}: unknown key {key!r}")
        expected = schema[key]
        # bool is an int in Python; never accept true for a number or a number for a flag
        flags = expected is bool or (isinstance(expected, tuple) and bool in expected)
        if isinstance(value, bool) and not flags:
            raise ConfigError(f"{where}: {key} must be {_type_name(expected)}, not a boolean")
        if not isinstance(value, expected):
            raise ConfigError(f"{where}: {key} must be {_type_name(expected)}")


def _type_name(expected: Any) -> str:
    names = {str: "a string", int: "an integer", bool: "true or false", dict: "a table",
             list: "a list"}
    if expected == (str, bool):
        return "a string or false"
    if isinstance(expected, tuple):
        return "a number"
    return names.get(expected, expected.__name__)


def check_selector(css: str, where: str) -> None:
    try:
        css2xpath(css)
    except SelectorError as exc:
        raise ConfigError(f"{where}: bad CSS selector {css!r}: {exc}") from None


def check_timezone(name: str, where: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}: unknown time zone {name!r}") from None


def check_cron(expression: str, where: str) -> None:
    """A five-field crontab expression ("*/10 * * * *"), read as the scheduler will read it
    (crontab's weekdays: 0 or 7 is Sunday)."""
    from crawler.config.cron import cron_trigger  # APScheduler: loaded when a cron is written

    if len(expression.split()) != 5:
        raise ConfigError(f"{where}: {expression!r} is not a cron expression "
                          f"(it needs 5 fields: minute hour day month weekday)")
    try:
        cron_trigger(expression)
    except ValueError as exc:
        raise ConfigError(f"{where}: {expression!r} is not a cron expression ({exc})") from None
