"""Checks shared by every part of the configuration: types, names, durations, time zones.

Every check raises `ConfigError` with a message that names the file, the table and the
problem, so that a user can fix the file without reading code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cssselect import SelectorError
from parsel.csstranslator import css2xpath

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_DURATION = re.compile(
    r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*(?:(\d+)\s*s)?\s*$"
)


class ConfigError(ValueError):
    """The configuration file cannot be used; the message names the file, source and problem."""


def parse_duration(text: str | int, where: str) -> timedelta:
    """ "90s", "5m", "2h", "1h30m", "1d" (or a number of minutes) as a timedelta."""
    if isinstance(text, int):
        minutes = text
        if minutes <= 0:
            raise ConfigError(f"{where}: {text!r} must be a positive number of minutes")
        return timedelta(minutes=minutes)
    match = _DURATION.match(text)
    if not text.strip() or not match or not any(match.groups()):
        raise ConfigError(f"{where}: {text!r} is not a duration such as \"90s\", \"5m\", "
                          f"\"2h\", \"1h30m\" or \"1d\"")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    delta = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if delta <= timedelta(0):
        raise ConfigError(f"{where}: {text!r} must be longer than zero")
    return delta


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
        if isinstance(value, bool) and expected is not bool:
            raise ConfigError(f"{where}: {key} must be {_type_name(expected)}, not a boolean")
        if not isinstance(value, expected):
            raise ConfigError(f"{where}: {key} must be {_type_name(expected)}")


def _type_name(expected: Any) -> str:
    names = {str: "a string", int: "an integer", bool: "true or false", dict: "a table",
             list: "a list"}
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
    from scheduler.schedules import cron_trigger

    if len(expression.split()) != 5:
        raise ConfigError(f"{where}: {expression!r} is not a cron expression "
                          f"(it needs 5 fields: minute hour day month weekday)")
    try:
        cron_trigger(expression)
    except ValueError as exc:
        raise ConfigError(f"{where}: {expression!r} is not a cron expression ({exc})") from None
