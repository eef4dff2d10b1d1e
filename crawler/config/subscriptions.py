"""Tracked conflicts and newsroom subscriptions, as read from the config's
`[[conflict]]` and `[[subscription]]` tables.

Secrets (webhook secrets, SMTP passwords) are never in these values: only the names of the
environment variables that hold them, read when an alert is sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawler.config.redaction import redact_url
from crawler.config.validation import (
    SLUG,
    check_numbers,
    check_timezone,
    check_types,
    check_url,
    seconds,
    strings,
)
from crawler.errors import ConfigError


@dataclass(frozen=True)
class AlertSettings:
    """How the dispatcher retries: `[alerts]` in the config."""

    max_attempts: int = 12  # with the backoff below, about 5 hours of retries
    backoff_seconds: float = 30.0  # first retry; doubles each time
    backoff_cap_seconds: float = 1800.0
    lease_seconds: float = 300.0  # a batch being sent is not taken by another dispatcher
    # No alert for an article published longer ago than this (a new source's backlog).
    max_age_seconds: float | None = None


@dataclass(frozen=True)
class Conflict:
    """A tracked conflict: the names that flag an article as being about it."""

    id: str
    name: str
    aliases: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()


@dataclass(frozen=True)
class WebhookChannel:
    """POST a signed JSON document to a URL."""

    url: str
    secret_env: str | None = None
    timeout: float = 10.0


@dataclass(frozen=True)
class EmailChannel:
    """Send mail through an SMTP server."""

    host: str
    sender: str
    to: tuple[str, ...]
    port: int = 587
    security: str = "starttls"  # "starttls", "tls" or "none"
    username: str | None = None
    password_env: str | None = None
    timeout: float = 30.0
    # a CA bundle to trust instead of the system's, for a relay with a private certificate
    ca_file: Path | None = None
    # security = "none" with a login sends the password in clear: only when said so
    allow_plaintext_login: bool = False


@dataclass(frozen=True)
class FeedChannel:
    """Keep an Atom file up to date."""

    path: Path
    title: str | None = None
    max_entries: int = 50


@dataclass(frozen=True)
class AppriseChannel:
    """Notify every service Apprise supports (Slack, Teams, Telegram, Matrix, ntfy...).

    The URLs hold the services' tokens, so the config names only the environment variable
    that holds them (one or more, separated by spaces, commas or new lines).
    """

    urls_env: str


Channel = WebhookChannel | EmailChannel | FeedChannel | AppriseChannel


@dataclass(frozen=True)
class Subscription:
    """A newsroom's subscription: what it follows, how often, and where alerts go."""

    id: str
    name: str
    conflicts: tuple[str, ...]
    channel: Channel
    sources: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    mode: str = "immediate"  # "immediate" or "digest"
    every_minutes: int | None = None  # digest every N minutes
    at: tuple[str, ...] = ()  # or digest at these local times ("08:00")
    timezone: str = "UTC"
    updates: bool = False
    # Also told what goes wrong with Veille itself (crawler/alerts/operators.py): sources
    # broken and recovered, deliveries given up on, polling stopped and resumed.
    operators: bool = False

    @property
    def channel_kind(self) -> str:
        return {WebhookChannel: "webhook", EmailChannel: "email", FeedChannel: "feed",
                AppriseChannel: "apprise"}[type(self.channel)]


_ALERT_KEYS = {"max_attempts": int, "backoff": (str, int), "backoff_cap": (str, int),
               "lease": (str, int), "max_age": (str, int)}
_CONFLICT_KEYS = {"id": str, "name": str, "aliases": list, "exclude": list, "topics": list}
_SUBSCRIPTION_KEYS = {
    "id": str, "name": str, "conflicts": list, "sources": list, "languages": list,
    "mode": str, "every": (str, int), "at": list, "timezone": str, "updates": bool,
    "operators": bool, "webhook": dict, "email": dict, "feed": dict, "apprise": dict,
}
_WEBHOOK_KEYS = {"url": str, "secret_env": str, "timeout": (int, float)}
_EMAIL_KEYS = {
    "host": str, "port": int, "security": str, "username": str, "password_env": str,
    "sender": str, "to": list, "timeout": (int, float), "ca_file": str,
    "allow_plaintext_login": bool,
}
_FEED_KEYS = {"path": str, "title": str, "max_entries": int}
_APPRISE_KEYS = {"urls_env": str}
# Secrets live in the environment, never in the config or the published database.
_SECRET_KEYS = {"secret": "secret_env", "password": "password_env", "token": "secret_env"}
# Apprise URLs carry the services' tokens: written in the file, they are refused too.
_APPRISE_SECRET_KEYS = ("urls", "url", "token")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")



def parse_all(raw: Mapping[str, Any], key: str, path: Path, parse: Callable[..., Any]) -> tuple:
    """Parse every `[[key]]` table with `parse(entry, where)`; ids must be unique slugs."""
    entries = raw.get(key, [])
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: {key!r} must be an array of tables ([[{key}]])")
    parsed, seen = [], set()
    for index, entry in enumerate(entries, start=1):
        where = f"{path}: {key} #{index}"
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            where = f"{path}: {key} {entry['id']!r}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: must be a table")
        if not isinstance(entry.get("id"), str) or not SLUG.match(entry["id"]):
            raise ConfigError(f"{where}: id must be a lowercase slug (letters, digits, - and _)")
        value = parse(entry, where)
        if value.id in seen:
            raise ConfigError(f"{where}: duplicate id")
        seen.add(value.id)
        parsed.append(value)
    return tuple(parsed)


def parse_conflict(entry: Mapping[str, Any], where: str) -> Conflict:
    check_types(entry, _CONFLICT_KEYS, where)
    aliases, topics = strings(entry, "aliases", where), strings(entry, "topics", where)
    if not aliases and not topics:
        raise ConfigError(f"{where}: give at least one alias (or a topic label)")
    return Conflict(
        id=entry["id"], name=entry.get("name", entry["id"]), aliases=aliases,
        exclude=strings(entry, "exclude", where), topics=topics,
    )


def parse_subscription(
    entry: Mapping[str, Any], where: str, known: Mapping[str, set[str]], base: Path,
    default_timezone: str,
) -> Subscription:
    for table in ("webhook", "email"):
        for key in _SECRET_KEYS.keys() & set(entry.get(table) or {}):
            raise ConfigError(
                f"{where}: {table}.{key} must not be written in the config; put it in an "
                f"environment variable and name the variable with {_SECRET_KEYS[key]}"
            )
    apprise = entry.get("apprise")
    for key in _APPRISE_SECRET_KEYS:
        if isinstance(apprise, dict) and key in apprise:
            raise ConfigError(
                f"{where}: apprise.{key} must not be written in the config (Apprise URLs hold "
                "the services' tokens); put the URLs in an environment variable and name the "
                "variable with urls_env"
            )
    check_types(entry, _SUBSCRIPTION_KEYS, where)
    conflicts = strings(entry, "conflicts", where)
    operators = entry.get("operators", False)
    if not conflicts and not operators:
        raise ConfigError(f"{where}: conflicts must name at least one [[conflict]] id "
                          "(or operators = true for a subscription to operator notices only)")
    if not conflicts:
        for key in ("sources", "languages", "updates", "mode", "every", "at"):
            if key in entry:
                raise ConfigError(
                    f"{where}: {key} applies to article alerts, and this subscription has no "
                    "conflicts: operator notices cover every source and are sent at once")
    for kind, values in (("conflict", conflicts), ("source", strings(entry, "sources", where))):
        for value in values:
            if value not in known[kind]:
                listed = ", ".join(sorted(known[kind])) or "none"
                raise ConfigError(f"{where}: unknown {kind} {value!r} (known: {listed})")
    channels = [k for k in ("webhook", "email", "feed", "apprise") if k in entry]
    if len(channels) != 1:
        raise ConfigError(
            f"{where}: needs exactly one channel table: [subscription.webhook], "
            f"[subscription.email], [subscription.feed] or [subscription.apprise]"
            + (f" (found {', '.join(channels)})" if channels else "")
        )
    channel = _parse_channel(channels[0], entry[channels[0]], f"{where}: {channels[0]}",
                             entry["id"], base)
    mode = entry.get("mode", "immediate")
    if mode not in ("immediate", "digest"):
        raise ConfigError(f"{where}: mode {mode!r} is not \"immediate\" or \"digest\"")
    every = None
    if "every" in entry:
        every = int(seconds("subscription.every", entry["every"], where) // 60)
    at = strings(entry, "at", where)
    for clock in at:
        if not _CLOCK.match(clock):
            raise ConfigError(f"{where}: at {clock!r} is not a time such as \"08:00\"")
    if mode == "digest" and not (every or at):
        raise ConfigError(f"{where}: a digest needs every = \"30m\" or at = [\"08:00\", ...]")
    if mode == "immediate" and (every or at):
        raise ConfigError(f"{where}: every/at only apply to mode = \"digest\"")
    timezone = entry.get("timezone", default_timezone)
    check_timezone(timezone, where)
    return Subscription(
        id=entry["id"], name=entry.get("name", entry["id"]), conflicts=conflicts,
        channel=channel, sources=strings(entry, "sources", where),
        languages=tuple(v.lower() for v in strings(entry, "languages", where)),
        mode=mode, every_minutes=every, at=tuple(sorted(at)), timezone=timezone,
        updates=entry.get("updates", False), operators=operators,
    )


def _parse_channel(kind: str, table: Any, where: str, sub_id: str, base: Path) -> Channel:
    schema = {"webhook": _WEBHOOK_KEYS, "email": _EMAIL_KEYS, "feed": _FEED_KEYS,
              "apprise": _APPRISE_KEYS}[kind]
    check_types(table, schema, where)
    check_numbers(f"subscription.{kind}", table, where)
    for key in ("secret_env", "password_env"):
        if key in table and not _ENV_NAME.match(table[key]):
            raise ConfigError(f"{where}: {key} {table[key]!r} is not an environment variable name")
    if kind == "apprise":
        return _apprise_channel(table, where)
    if kind == "webhook":
        if not table.get("url"):
            raise ConfigError(f"{where}: missing 'url'")
        shown = redact_url(table["url"])
        parts = check_url(table["url"], where, shown)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{where}: url {shown!r} is not an absolute http(s) URL")
        if "@" in parts.netloc:
            raise ConfigError(
                f"{where}: url {shown!r} holds a user name or password: remove it; the "
                "receiver can check the X-Veille-Signature header instead, signed with the "
                "secret in the environment variable named by secret_env"
            )
        return WebhookChannel(url=table["url"], secret_env=table.get("secret_env"),
                              timeout=float(table.get("timeout", 10.0)))
    if kind == "email":
        for key in ("host", "sender", "to"):
            if not table.get(key):
                raise ConfigError(f"{where}: missing {key!r}")
        to = strings(table, "to", where)
        for address in (table["sender"], *to):
            if "@" not in address:
                raise ConfigError(f"{where}: {address!r} is not an e-mail address")
        security = table.get("security", "starttls")
        if security not in ("starttls", "tls", "none"):
            raise ConfigError(f"{where}: security {security!r} is not starttls, tls or none")
        if table.get("username") and not table.get("password_env"):
            raise ConfigError(f"{where}: username given without password_env")
        plaintext = table.get("allow_plaintext_login", False)
        if plaintext and security != "none":
            raise ConfigError(f"{where}: allow_plaintext_login only applies to security = "
                              "\"none\"")
        if security == "none" and table.get("username") and not plaintext:
            raise ConfigError(
                f"{where}: security = \"none\" would send the password of "
                f"{table['username']!r} in clear: use starttls or tls, or set "
                "allow_plaintext_login = true for a relay on this machine"
            )
        ca_file: Path | None = None
        if "ca_file" in table:
            ca_file = Path(table["ca_file"])
            ca_file = ca_file if ca_file.is_absolute() else base / ca_file
            if not ca_file.exists():
                raise ConfigError(f"{where}: ca_file {str(ca_file)!r} does not exist")
            if not ca_file.is_file():
                raise ConfigError(f"{where}: ca_file {str(ca_file)!r} is not a file")
        default_port = {"starttls": 587, "tls": 465, "none": 25}[security]
        return EmailChannel(
            host=table["host"], sender=table["sender"], to=to,
            port=table.get("port", default_port), security=security,
            username=table.get("username"), password_env=table.get("password_env"),
            timeout=float(table.get("timeout", 30.0)), ca_file=ca_file,
            allow_plaintext_login=plaintext,
        )
    path = Path(table.get("path", f"feeds/{sub_id}.xml"))
    return FeedChannel(path=path if path.is_absolute() else base / path,
                       title=table.get("title"), max_entries=table.get("max_entries", 50))


def _apprise_channel(table: Mapping[str, Any], where: str) -> AppriseChannel:
    name = table.get("urls_env")
    if not name:
        raise ConfigError(f"{where}: missing 'urls_env' (the environment variable that holds "
                          "the Apprise URLs)")
    if not _ENV_NAME.match(name):
        # never repeat the value: it may be the URLs themselves, tokens and all
        shown = "a URL" if "://" in name else repr(name)
        raise ConfigError(f"{where}: urls_env must name an environment variable (such as "
                          f"VEILLE_APPRISE_URLS), not {shown}")
    return AppriseChannel(urls_env=name)


def parse_alert_settings(raw: Any, where: str) -> AlertSettings:
    """The `[alerts]` table: max_attempts, and the backoff, backoff_cap, lease and max_age
    durations."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    check_types(raw, _ALERT_KEYS, where)
    check_numbers("alerts", raw, where)
    defaults = AlertSettings()

    def duration(key: str, default: float) -> float:
        return seconds(f"alerts.{key}", raw[key], where) if key in raw else default

    return AlertSettings(
        max_attempts=raw.get("max_attempts", defaults.max_attempts),
        backoff_seconds=duration("backoff", defaults.backoff_seconds),
        backoff_cap_seconds=duration("backoff_cap", defaults.backoff_cap_seconds),
        lease_seconds=duration("lease", defaults.lease_seconds),
        max_age_seconds=duration("max_age", 0) or None,
    )
