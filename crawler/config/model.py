"""Read and validate Veille's TOML configuration into frozen, typed values.

The file is read once; everything else (Scrapy settings, spiders) is derived from
the `Config` returned here, so no value is defined twice.
"""

from __future__ import annotations

import logging
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler.config.redaction import redact_url
from crawler.config.selectors import Selectors
from crawler.config.subscriptions import (
    AlertSettings,
    Channel,
    Conflict,
    EmailChannel,
    FeedChannel,
    Subscription,
    WebhookChannel,
    parse_alert_settings,
    parse_all,
    parse_conflict,
    parse_subscription,
)
from crawler.config.validation import (
    SLUG,
    check_cron,
    check_numbers,
    check_selector,
    check_timezone,
    check_types,
    check_url,
    parse_duration,
    seconds,
    strings,
)
from crawler.errors import ConfigError

__all__ = [
    "AlertSettings", "Channel", "Config", "ConfigError", "Conflict", "CrawlSettings",
    "EmailChannel", "FeedChannel", "RedisSettings", "ScheduleSettings", "Source",
    "StorySettings", "Subscription", "WebhookChannel", "config_path", "db_path",
    "load_config", "parse_config", "parse_duration",
]

LOGGER = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _shipped_data() -> Path:
    """What ships with Veille: the demo site, the Datasette metadata and templates, the
    example configuration. An installed wheel carries the checkout's top-level data/
    folder as `crawler/data` (pyproject.toml's package-dir); a checkout reads it in place."""
    packaged = Path(__file__).resolve().parents[1] / "data"
    return packaged if packaged.is_dir() else PROJECT_ROOT / "data"


SHIPPED_DATA = _shipped_data()
# The example configuration (real newsrooms' pages and feeds, the tracked conflicts), which
# `veille init` copies as a starter.
SHIPPED_CONFIG = SHIPPED_DATA / "veille.toml"
# The files a command works on, in the folder it runs in (as `datasette` and `sqlite-utils`
# take their files), unless --config/--db or $VEILLE_CONFIG/$VEILLE_DB say otherwise.
DEFAULT_CONFIG = Path("data") / "veille.toml"
DEFAULT_DB = Path("data") / "veille.db"

SOURCE_KINDS = ("topic", "feed", "sitemap")


@dataclass(frozen=True)
class CrawlSettings:
    """Politeness and limits shared by every crawl."""

    user_agent: str = "Veille/0.1 (news monitor; +https://github.com/veille/veille)"
    obey_robots: bool = True
    autothrottle: bool = True
    download_delay: float = 0.5
    concurrency_per_domain: int = 4
    timeout: float = 30.0
    retries: int = 2
    retry_backoff: float = 1.0
    max_response_kb: int = 10 * 1024
    timezone: str = "UTC"
    # Raw article pages (WARC day files beside the database) older than this are deleted
    # at the end of a crawl; 0: kept forever.
    keep_pages_seconds: float = 30 * 86400.0
    # A 429 or 503 answer's Retry-After is waited up to this long; a longer one is not
    # retried in this crawl.
    retry_after_max_seconds: float = 120.0
    # Article links followed per listing page, feed or sitemap (the first ones); a warning
    # says when a listing has more.
    max_links_per_listing: int = 1000
    # A gap (a poll whose items were all new) reads up to this many documents more: next
    # pages of a feed or topic page, sitemaps; 0: gaps are recorded, not filled.
    gap_pages: int = 10


@dataclass(frozen=True)
class StorySettings:
    """`[stories]`: when two texts are one story, and when an update is worth an alert."""

    threshold: float = 0.5  # containment above which two texts are one story
    window_days: float = 30.0  # copies are looked for among articles seen this recently
    update_threshold: float = 0.2  # share of words changed that makes an update "substantial"


@dataclass(frozen=True)
class ScheduleSettings:
    """`[schedule]`: defaults for scheduled polls (`veille run`, `veille crawl --due`)."""

    every_seconds: float = 600.0  # a source's interval when it gives neither schedule nor every
    jitter_seconds: float = 0.0
    backoff_seconds: float = 300.0  # after a failure; doubles per consecutive failure
    backoff_cap_seconds: float = 6 * 3600.0
    timeout_seconds: float = 15 * 60.0  # a crawl process running longer is killed
    grace_seconds: float = 30.0  # on SIGTERM, running crawls get this long to finish
    dispatch_every_seconds: float = 60.0  # the alert dispatcher's own job
    min_every_seconds: float = 120.0  # adaptive polling bounds, unless a source sets its own
    max_every_seconds: float = 2 * 3600.0
    failing_alarm_seconds: float = 24 * 3600.0  # a source failing this long is flagged
    jobs: Path | None = None  # APScheduler's job store; default: beside the database
    processes: int = 4  # crawl processes the daemon runs at once
    distributed: bool = False  # queue due sources in Redis for `veille worker`s instead


@dataclass(frozen=True)
class RedisSettings:
    """`[redis]`: the server that `veille worker`s, `veille ingest` and a distributed
    scheduler share. The URL may carry a password: give it in an environment variable
    (`url_env`) rather than in the file."""

    url: str = "redis://127.0.0.1:6379/0"
    url_env: str | None = None
    prefix: str = "veille"  # every key Veille writes starts with "<prefix>:"
    worker_timeout_seconds: float = 30.0  # a worker silent this long is presumed dead
    seen_ttl_seconds: float = 86400.0  # how long the shared duplicate filter remembers a URL

    def resolved_url(self, environ: Mapping[str, str] | None = None) -> str:
        environ = os.environ if environ is None else environ
        if self.url_env:
            value = environ.get(self.url_env)
            if not value:
                raise ConfigError(f"[redis] url_env: ${self.url_env} is not set")
            return value
        return self.url


@dataclass(frozen=True)
class Source:
    """One configured source: a topic listing page, a feed or a news sitemap."""

    id: str
    name: str
    kind: str
    url: str
    topic: str | None = None
    max_pages: int = 3
    links: str | None = None
    next: str | None = None
    selectors: Selectors = field(default_factory=Selectors)
    timezone: str | None = None
    language: str | None = None
    encoding: str | None = None
    allowed_domains: tuple[str, ...] = ()
    max_age_days: float = 2.0
    # A gap's extra documents ([crawl] gap_pages unless set); the sitemap read for a gap:
    # a URL, else robots.txt's Sitemap: lines or /sitemap.xml, and False for none.
    gap_pages: int | None = None
    sitemap: str | bool | None = None
    # When to poll: a cron expression, or an interval in seconds (else [schedule] every).
    schedule: str | None = None
    every_seconds: float | None = None
    jitter_seconds: float | None = None
    # adaptive: the interval follows the source's publishing rate, within these bounds.
    adaptive: bool = False
    min_every_seconds: float | None = None
    max_every_seconds: float | None = None

    @property
    def domains(self) -> tuple[str, ...]:
        """Hosts this source may fetch from: its own, plus any configured."""
        host = urlsplit(self.url).hostname or ""
        return tuple(dict.fromkeys((host, *self.allowed_domains)))


@dataclass(frozen=True)
class Config:
    """The whole configuration, as read from one file."""

    path: Path
    crawl: CrawlSettings
    sources: tuple[Source, ...]
    conflicts: tuple[Conflict, ...] = ()
    subscriptions: tuple[Subscription, ...] = ()
    alerts: AlertSettings = field(default_factory=AlertSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    stories: StorySettings = field(default_factory=StorySettings)
    redis: RedisSettings | None = None  # `[redis]`, for workers and the ingester

    def subscription(self, subscription_id: str) -> Subscription:
        for sub in self.subscriptions:
            if sub.id == subscription_id:
                return sub
        known = ", ".join(s.id for s in self.subscriptions) or "none"
        raise ConfigError(
            f"{self.path}: no subscription with id {subscription_id!r} (known: {known})"
        )

    def source(self, source_id: str) -> Source:
        for source in self.sources:
            if source.id == source_id:
                return source
        known = ", ".join(s.id for s in self.sources) or "none"
        raise ConfigError(f"{self.path}: no source with id {source_id!r} (known: {known})")

    def select(self, source_ids: tuple[str, ...] | list[str] = ()) -> tuple[Source, ...]:
        """The sources named, in the order given, or all of them."""
        if not source_ids:
            return self.sources
        return tuple(self.source(i) for i in source_ids)


_SOURCE_KEYS = {
    "id": str, "name": str, "kind": str, "url": str, "topic": str, "max_pages": int,
    "links": str, "next": str, "selectors": dict, "timezone": str, "language": str,
    "encoding": str, "allowed_domains": list, "max_age_days": (int, float),
    "schedule": str, "every": (str, int), "jitter": (str, int), "adaptive": bool,
    "min_every": (str, int), "max_every": (str, int), "gap_pages": int,
    "sitemap": (str, bool),
}
_CRAWL_KEYS = {
    "user_agent": str, "obey_robots": bool, "autothrottle": bool,
    "download_delay": (int, float), "concurrency_per_domain": int, "timeout": (int, float),
    "retries": int, "retry_backoff": (int, float), "max_response_kb": int, "timezone": str,
    "keep_pages": (str, int), "retry_after_max": (str, int), "max_links_per_listing": int,
    "gap_pages": int,
}
_TOP_KEYS = {
    "crawl", "source", "conflict", "subscription", "alerts", "schedule", "stories", "redis",
}
_REDIS_KEYS = {
    "url": str, "url_env": str, "prefix": str, "worker_timeout": (str, int),
    "seen_ttl": (str, int),
}
_STORY_KEYS = {"threshold": (int, float), "window": (str, int), "update_threshold": (int, float)}
_SCHEDULE_KEYS = {
    "every": (str, int), "jitter": (str, int), "backoff": (str, int),
    "backoff_cap": (str, int), "timeout": (str, int), "grace": (str, int),
    "dispatch_every": (str, int), "min_every": (str, int), "max_every": (str, int),
    "failing_alarm": (str, int), "jobs": str, "processes": int, "distributed": bool,
}


def config_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The config file to use: the argument, else $VEILLE_CONFIG, else data/veille.toml."""
    return Path(path or os.environ.get("VEILLE_CONFIG") or DEFAULT_CONFIG)


def db_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The database to use: the argument, else $VEILLE_DB, else data/veille.db."""
    return Path(path or os.environ.get("VEILLE_DB") or DEFAULT_DB)


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read, validate and return the configuration.

    Raises:
        ConfigError: the file is missing, is not a readable file of UTF-8 TOML, or holds
            an invalid value; the message names the file, the source and the problem.
    """
    path = config_path(path)
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise ConfigError(f"{path}: is a directory, not a configuration file")
        if not stat.S_ISREG(mode):  # a device or a pipe: /dev/zero would be read for ever
            raise ConfigError(f"{path}: is not a regular file, so not a configuration file")
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        hint = ("`veille init` writes a starter one there" if path == DEFAULT_CONFIG
                else f"`veille --config {path} init` writes a starter one")
        raise ConfigError(f"{path}: no such configuration file: {hint}, or pass --config "
                          "FILE (or set $VEILLE_CONFIG)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
                          f"offset {exc.start}); TOML files are UTF-8") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib reads nested arrays and inline tables recursively
        raise ConfigError(f"{path}: not valid TOML: arrays or tables nested too deeply") from None
    return parse_config(raw, path)


def parse_config(raw: Mapping[str, Any], path: Path) -> Config:
    """Validate an already-parsed TOML document (see `load_config`)."""
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown table or key {sorted(unknown)[0]!r}")
    crawl_raw = raw.get("crawl", {})
    if not isinstance(crawl_raw, dict):
        raise ConfigError(f"{path}: [crawl] must be a table")
    check_types(crawl_raw, _CRAWL_KEYS, f"{path}: [crawl]")
    check_numbers("crawl", crawl_raw, f"{path}: [crawl]")
    crawl_values = dict(crawl_raw)
    for key in ("keep_pages", "retry_after_max"):
        if key in crawl_values:
            crawl_values[f"{key}_seconds"] = seconds(
                f"crawl.{key}", crawl_values.pop(key), f"{path}: [crawl]")
    crawl = CrawlSettings(**crawl_values)
    check_timezone(crawl.timezone, f"{path}: [crawl]")
    sources_raw = raw.get("source", [])
    if not isinstance(sources_raw, list):
        raise ConfigError(f"{path}: 'source' must be an array of tables ([[source]])")
    sources: list[Source] = []
    seen: set[str] = set()
    for index, entry in enumerate(sources_raw, start=1):
        source = _parse_source(entry, f"{path}: source #{index}")
        if source.id in seen:
            raise ConfigError(f"{path}: source {source.id!r}: duplicate id")
        seen.add(source.id)
        sources.append(source)
    conflicts = parse_all(raw, "conflict", path, parse_conflict)
    known = {"conflict": {c.id for c in conflicts}, "source": seen}
    subscriptions = parse_all(
        raw, "subscription", path,
        lambda entry, where: parse_subscription(entry, where, known, path.parent, crawl.timezone),
    )
    alerts = parse_alert_settings(raw.get("alerts", {}), f"{path}: [alerts]")
    schedule = _parse_schedule(raw.get("schedule", {}), f"{path}: [schedule]", path.parent)
    stories = _parse_stories(raw.get("stories", {}), f"{path}: [stories]")
    redis = _parse_redis(raw["redis"], f"{path}: [redis]") if "redis" in raw else None
    if schedule.distributed and redis is None:
        raise ConfigError(f"{path}: [schedule] distributed = true needs a [redis] table")
    return Config(path=path, crawl=crawl, sources=tuple(sources), conflicts=conflicts,
                  subscriptions=subscriptions, alerts=alerts, schedule=schedule, stories=stories,
                  redis=redis)


def _parse_redis(raw: Any, where: str) -> RedisSettings:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    check_types(raw, _REDIS_KEYS, where)
    if "url" in raw and "url_env" in raw:
        raise ConfigError(f"{where}: give either url or url_env, not both")
    values: dict[str, Any] = {}
    if "url" in raw:
        url = check_url(raw["url"], where, redact_url(raw["url"]))
        if url.scheme not in ("redis", "rediss", "unix"):
            raise ConfigError(f"{where}: url must start with redis://, rediss:// or unix://")
        if url.password:
            raise ConfigError(f"{where}: url holds a password: put the URL in an environment "
                              "variable and name it with url_env")
        values["url"] = raw["url"]
    if "url_env" in raw:
        values["url_env"] = raw["url_env"]
    if "prefix" in raw:
        if not SLUG.match(raw["prefix"]):
            raise ConfigError(f"{where}: prefix must be letters, digits, '-' or '_'")
        values["prefix"] = raw["prefix"]
    for key in ("worker_timeout", "seen_ttl"):
        if key in raw:
            values[f"{key}_seconds"] = seconds(f"redis.{key}", raw[key], where)
    return RedisSettings(**values)


def _parse_stories(raw: Any, where: str) -> StorySettings:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    check_types(raw, _STORY_KEYS, where)
    check_numbers("stories", raw, where)
    values: dict[str, Any] = {}
    for key in ("threshold", "update_threshold"):
        if key in raw:
            values[key] = float(raw[key])
    if "window" in raw:
        values["window_days"] = seconds("stories.window", raw["window"], where) / 86400
    return StorySettings(**values)


def _parse_schedule(raw: Any, where: str, base: Path) -> ScheduleSettings:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    check_types(raw, _SCHEDULE_KEYS, where)
    check_numbers("schedule", raw, where)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "jobs":
            jobs = Path(value)
            values["jobs"] = jobs if jobs.is_absolute() else base / jobs
        elif key in ("distributed", "processes"):
            values[key] = value
        else:
            values[f"{key}_seconds"] = seconds(f"schedule.{key}", value, where)
    return ScheduleSettings(**values)


def _parse_timing(entry: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A source's schedule keys, checked: cron or interval, jitter, adaptive bounds."""
    if "schedule" in entry and "every" in entry:
        raise ConfigError(f"{where}: give either schedule (cron) or every, not both")
    if "schedule" in entry:
        check_cron(entry["schedule"], f"{where}: schedule")
    timing: dict[str, Any] = {}
    for key in ("every", "jitter", "min_every", "max_every"):
        if key in entry:
            timing[f"{key}_seconds"] = seconds(f"source.{key}", entry[key], where)
    low, high = timing.get("min_every_seconds"), timing.get("max_every_seconds")
    if (low or high) and not entry.get("adaptive"):
        raise ConfigError(f"{where}: min_every/max_every only apply with adaptive = true")
    if entry.get("adaptive") and "schedule" in entry:
        raise ConfigError(f"{where}: adaptive polling needs an interval, not a cron schedule")
    if low and high and low > high:
        raise ConfigError(f"{where}: min_every is longer than max_every")
    return timing


def _parse_source(entry: Any, where: str) -> Source:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: must be a table")
    if "id" in entry and isinstance(entry["id"], str):
        where = f"{where.rsplit(':', 1)[0]}: source {entry['id']!r}"
    check_types(entry, _SOURCE_KEYS, where)
    for key in ("id", "url", "kind"):
        if not entry.get(key):
            raise ConfigError(f"{where}: missing {key!r}")
    if not SLUG.match(entry["id"]):
        raise ConfigError(f"{where}: id must be a lowercase slug (letters, digits, - and _)")
    if entry["kind"] not in SOURCE_KINDS:
        raise ConfigError(
            f"{where}: kind {entry['kind']!r} is not one of {', '.join(SOURCE_KINDS)}"
        )
    parts = check_url(entry["url"], where)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}: url {entry['url']!r} is not an absolute http(s) URL")
    if entry["kind"] != "topic":
        for key in ("links", "next", "max_pages"):
            if key in entry:
                raise ConfigError(f"{where}: {key!r} only applies to kind = \"topic\"")
    if entry["kind"] == "sitemap":
        for key in ("gap_pages", "sitemap"):
            if key in entry:
                raise ConfigError(f"{where}: {key!r} only applies to a topic page or a feed "
                                  "(gaps are looked for in their polls)")
    if isinstance(entry.get("sitemap"), str):
        sitemap = check_url(entry["sitemap"], f"{where}: sitemap")
        if sitemap.scheme not in ("http", "https") or not sitemap.hostname:
            raise ConfigError(f"{where}: sitemap {entry['sitemap']!r} is not an absolute "
                              "http(s) URL")
    check_numbers("source", entry, where)
    selectors = Selectors(entry.get("selectors", {}), f"{where}: selectors")
    for key in ("links", "next"):
        if key in entry:
            check_selector(entry[key], f"{where}: {key}")
    if "timezone" in entry:
        check_timezone(entry["timezone"], where)
    if "encoding" in entry:
        import codecs

        try:
            codecs.lookup(entry["encoding"])
        except (LookupError, ValueError):  # ValueError: a NUL in the name
            raise ConfigError(f"{where}: unknown encoding {entry['encoding']!r}") from None
    values = dict(entry)
    values.update(_parse_timing(entry, where))
    for key in ("every", "jitter", "min_every", "max_every"):
        values.pop(key, None)
    values.setdefault("name", values["id"])
    values["selectors"] = selectors
    values["allowed_domains"] = strings(entry, "allowed_domains", where)
    values["max_age_days"] = float(values.get("max_age_days", 2.0))
    return Source(**values)


