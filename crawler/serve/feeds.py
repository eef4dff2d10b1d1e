"""The `.atom` twin of every page whose rows are articles: any search or filter of the
articles, and the canned queries (those with datasette-atom's `atom_*` columns too).

A feed's id is ``urn:veille:feed:/veille/<table or query>?<its arguments>``: the same
behind a proxy, on another port or host. Its title says what it follows (the conflict's name,
the search words, the filters). It answers with an ETag and a Last-Modified (the newest
entry), and with 304 to a reader that already has it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import datasette_atom
from datasette import __version__ as datasette_version
from datasette.utils.asgi import Response
from feedgen.feed import FeedGenerator

from crawler.clock import http_date
from crawler.serve.cells import parse_utc
from crawler.serve.paths import DATABASE_NAME

LOGGER = logging.getLogger(__name__)

EXTENSION = "atom"
SITE_TITLE = "Veille"
# Arguments that change a page's shape, not what it follows: left out of the feed's id.
NOT_FOLLOWED = {"_size", "_next", "_labels", "_nofacet", "_nocount", "_facet",
                "_facet_array", "_facet_date", "_feed_title", "_col", "_nocol", "_shape",
                "_extra", "_trace", "_timelimit"}
TIME_COLUMNS = ("atom_updated", "updated_at", "published_at", "published", "first_seen_at")
EPOCH = "1970-01-01T00:00:00Z"
CONFLICT_NAME = "select name from conflicts where id = :id"


@dataclass(frozen=True)
class Entry:
    """One entry of a feed."""

    id: str
    title: str
    updated: str
    link: str | None
    content: str | None
    html: bool
    author: str | None


def _plain(value: Any) -> Any:
    # With ?_labels=on, a foreign key's value is {"value": ..., "label": ...}.
    return value.get("label") or value.get("value") if isinstance(value, dict) else value


def _article_key(columns: set[str]) -> str | None:
    if "article_id" in columns:
        return "article_id"
    if "id" in columns and ({"canonical_url", "url"} & columns):
        return "id"
    return None


def can_render_atom(columns: list[str], database: str | None) -> bool:
    """A feed for datasette-atom's columns, or for rows of articles with a time."""
    names = set(columns)
    if datasette_atom.REQUIRED_COLUMNS <= names:
        return True
    return (database == DATABASE_NAME and "title" in names and _article_key(names) is not None
            and any(c in names for c in TIME_COLUMNS))


def _authors(value: Any) -> str | None:
    if not isinstance(value, str) or not value.startswith("["):
        return value or None
    try:
        names = [str(n) for n in json.loads(value) if n]
    except ValueError:
        return None
    return ", ".join(names) or None


def entries(columns: list[str], rows: list[Any]) -> list[Entry]:
    """The feed's entries: from datasette-atom's columns if the rows have them, else from
    the article columns (id, title, canonical_url, lead, source, times)."""
    names = set(columns)
    out = []
    atom = datasette_atom.REQUIRED_COLUMNS <= names
    key = _article_key(names)
    for raw in rows:
        row = {c: _plain(v) for c, v in zip(columns, raw, strict=False)}
        if atom:
            html = "atom_content_html" in row
            out.append(Entry(
                id=str(row["atom_id"]), title=str(row["atom_title"]),
                updated=str(row["atom_updated"]), link=row.get("atom_link"),
                content=(datasette_atom.clean(row["atom_content_html"] or "") if html
                         else row.get("atom_content")),
                html=html, author=row.get("atom_author_name")))
            continue
        updated = next((row[c] for c in TIME_COLUMNS if row.get(c)), EPOCH)
        source = row.get("source") or row.get("source_id")
        about = ", ".join(str(p) for p in (source, row.get("published_at")) if p)
        lead = row.get("lead")
        out.append(Entry(
            id=f"urn:veille:article:{row[key]}", title=str(row["title"] or "(no headline)"),
            updated=str(updated), link=row.get("canonical_url") or row.get("url"),
            content="\n\n".join(p for p in (lead, about) if p) or None, html=False,
            author=_authors(row.get("authors")) or (str(source) if source else None)))
    return out


def feed_id(name: str, args: list[tuple[str, str]]) -> str:
    """The feed's id: its page's path in the database and its sorted arguments."""
    followed = sorted((k, v) for k, v in args if k not in NOT_FOLLOWED and v != "")
    query = urlencode(followed)
    return f"urn:veille:feed:/{DATABASE_NAME}/{name}" + (f"?{query}" if query else "")


async def feed_title(datasette: Any, request: Any, query_name: str | None,
                     table: str | None, data: dict[str, Any]) -> str:
    """What the feed follows, in words: its conflict's name, its search and filters."""
    if request.args.get("_feed_title"):
        return request.args["_feed_title"]
    meta = (datasette.metadata(database=DATABASE_NAME) or {})
    if query_name:
        about = (meta.get("queries", {}).get(query_name, {}) or {}).get("title") or query_name
        conflict = request.args.get("conflict")
        if conflict is not None:
            row = (await datasette.get_database(DATABASE_NAME).execute(
                CONFLICT_NAME, {"id": conflict})).first()
            name = row["name"] if row else conflict
            return f"{SITE_TITLE}: {name}" if conflict else f"{SITE_TITLE}: every conflict"
        if request.args.get("q"):
            return f'{SITE_TITLE}: {about} "{request.args["q"]}"'
        return f"{SITE_TITLE}: {about}"
    about = (meta.get("tables", {}).get(table, {}) or {}).get("title") or table
    described = (data.get("human_description_en") or "").split(" sorted by ")[0].strip()
    return f"{SITE_TITLE}: {about}" + (f" {described}" if described else "")


def _http_date(value: str) -> str:
    return http_date(parse_utc(value) or parse_utc(EPOCH))


def _not_modified(request: Any, etag: str, last_modified: str) -> bool:
    match = request.headers.get("if-none-match")
    if match is not None:
        return etag in [m.strip() for m in match.split(",")] or match.strip() == "*"
    since = request.headers.get("if-modified-since")
    if since:
        try:
            return parsedate_to_datetime(since) >= parsedate_to_datetime(last_modified)
        except (TypeError, ValueError):
            return False
    return False


async def render_atom(datasette: Any, request: Any, columns: list[str], rows: list[Any],
                      query_name: str | None, database: str, table: str | None,
                      data: dict[str, Any]) -> Response:
    """The Atom feed of a page's rows (newest entry first, as on the page)."""
    if not can_render_atom(columns, database):
        return Response.text("This page's rows are not articles: no feed.", status=400)
    items = entries(columns, rows)
    name = query_name or table or database
    fg = FeedGenerator()
    fg.generator(generator="Veille on Datasette", version=datasette_version)
    fg.id(feed_id(name, [(k, v) for k in request.args for v in request.args.getlist(k)]))
    fg.title(await feed_title(datasette, request, query_name, table, data))
    fg.link(href=request.url, rel="self")
    page, _, args = request.url.partition("?")
    page = page.removesuffix(f".{EXTENSION}") + (f"?{args}" if args else "")
    fg.link(href=page, rel="alternate")  # the HTML page this feed follows
    newest = max((e.updated for e in items), default=EPOCH)
    fg.updated(newest)
    for item in reversed(items):  # feedgen puts the last added first
        entry = fg.add_entry()
        entry.id(item.id)
        entry.title(item.title)
        entry.updated(item.updated)
        if item.link:
            entry.link(href=item.link)
        if item.content:
            entry.content(item.content, type="html" if item.html else "text")
        if item.author:
            entry.author({"name": item.author})
    body = fg.atom_str(pretty=True)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    last_modified = _http_date(newest)
    headers = {"ETag": etag, "Last-Modified": last_modified}
    if _not_modified(request, etag, last_modified):
        return Response(b"", status=304, headers=headers)
    return Response(body, content_type="application/xml; charset=utf-8", headers=headers)
