"""How a value reads on Veille's pages: times in the newsroom's zone, conflicts as labels,
titles linked to their article, JSON arrays as lists (the `render_cell` hook's work)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import Markup, escape

from crawler.clock import parse_time_or_none, readable_utc
from crawler.serve.paths import DATABASE_NAME

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?Z$")
# Columns that hold a JSON array of names.
LIST_COLUMNS = {"sources", "topics", "authors", "aliases", "exclude", "conflict_ids"}
# Conflict names (not ids): the view's array, and the queries' single name.
CONFLICT_NAMES = {("articles_with_conflicts", "conflicts"), (None, "conflict")}
LINK_COLUMNS = {"canonical_url", "url"}
# The tables and queries whose rows are articles: their title opens the article's page.
ARTICLE_KEY = {"articles": "id", "articles_with_conflicts": "id"}
DEFAULT_TIME_ZONE = "UTC"


def time_zone(name: str | None) -> ZoneInfo:
    """The newsroom's zone (`plugins: veille: time_zone` in the metadata), UTC if unknown."""
    try:
        return ZoneInfo(name or DEFAULT_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIME_ZONE)


def parse_utc(value: object) -> datetime | None:
    """A stored ISO 8601 UTC time (``2026-11-23T19:10:00Z``) as a datetime, else None."""
    if not isinstance(value, str) or not ISO_UTC.match(value):
        return None
    return parse_time_or_none(value)


def local_time(value: object, zone: ZoneInfo) -> Markup | None:
    """A <time> reading "23 Nov 2026, 20:10 CET" in the newsroom's zone, UTC on hover."""
    moment = parse_utc(value)
    if moment is None:
        return None
    here = moment.astimezone(zone)
    shown = f"{here.day} {here:%b %Y, %H:%M} {here:%Z}"
    utc = readable_utc(value)
    return Markup('<time datetime="{}" title="{}">{}</time>').format(value, utc, shown)


def json_list(value: object) -> list[str] | None:
    """A JSON array of strings stored as text, else None."""
    if not isinstance(value, str) or not value.startswith("["):
        return None
    try:
        items = json.loads(value)
    except ValueError:
        return None
    if not isinstance(items, list):
        return None
    return [str(item) for item in items]


def conflict_labels(names: list[str], base: str) -> Markup:
    """Each conflict as a label linking to the articles on it."""
    links = [
        Markup('<a class="conflict-label" href="{}">{}</a>').format(
            f"{base}articles_with_conflicts?conflicts__arraycontains={quote(name)}", name)
        for name in names
    ]
    return Markup(" ").join(links)


def short_link(url: str) -> Markup:
    """A link to `url` reading as its site's name, the full address on hover."""
    host = urlsplit(url).hostname or url
    return Markup('<a class="original" href="{}" title="{}">{}</a>').format(url, url, host)


def _value(row: Any, column: str) -> Any:
    try:
        value = row[column]
    except (IndexError, KeyError):
        return None
    return value.get("value") if isinstance(value, dict) else value


def render(row: Any, value: Any, column: str, table: str | None, database: str,
           base: str, zone: ZoneInfo) -> Markup | None:
    """The cell's HTML, or None to leave it to Datasette."""
    if database != DATABASE_NAME or value is None:
        return None
    if column == "title" and isinstance(value, str):
        key = ARTICLE_KEY.get(table or "", "article_id")
        article = _value(row, key)
        if isinstance(article, int):
            return Markup('<a class="headline" href="{}">{}</a>').format(
                f"{base}articles/{article}", value)
        return None
    if (table, column) in CONFLICT_NAMES:
        names = json_list(value) if column == "conflicts" else [str(value)]
        return conflict_labels(names, base) if names is not None else None
    if column in LIST_COLUMNS or column == "conflicts":
        items = json_list(value)
        return Markup(escape(", ".join(items))) if items is not None else None
    if (column in LINK_COLUMNS and table != "article_urls" and isinstance(value, str)
            and value.startswith(("http:", "https:"))):
        return short_link(value)
    return local_time(value, zone)
