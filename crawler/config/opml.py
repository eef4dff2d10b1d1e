"""OPML subscription lists, as feed readers (Miniflux, NetNewsWire, Feedly...) write
them: read with listparser, written with ElementTree.

A feed reader's folders (nested outlines) are the sources' `topic`: a feed filed under
"Monde" is imported with topic = "Monde", one under "Monde" then "Afrique" with
"Monde / Afrique", and `export` writes topics back as the same folders.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

import listparser

from crawler.config.editing import derive_id, url_key
from crawler.config.model import Config, Source
from crawler.errors import BadInputError

FOLDER_SEPARATOR = " / "


@dataclass(frozen=True)
class Outline:
    """A feed of an OPML file: its URL (xmlUrl), title, and folder path joined by " / ".
    An outline with a page's URL (htmlUrl) but no feed's is read with `feed` False."""

    url: str
    title: str | None
    category: str | None
    feed: bool = True


@dataclass(frozen=True)
class Skipped:
    url: str
    reason: str


def read_opml(data: bytes, where: str) -> list[Outline]:
    """The feeds an OPML file lists, in file order (a feed listed twice, once), then the
    pages it lists without a feed.

    `where` names the file in messages. listparser is given the bytes, never a path or
    URL (it would fetch one).

    Raises:
        BadInputError: the file is not an OPML subscription list.
    """
    parsed = listparser.parse(data)
    if not parsed.get("version", "").startswith("opml"):
        problem = parsed.get("bozo_exception")
        raise BadInputError(f"{where}: not an OPML subscription list"
                            + (f" ({problem})" if problem else ""))
    outlines = []
    for found, is_feed in ((parsed["feeds"], True), (parsed["opportunities"], False)):
        for feed in found:
            # listparser lists a feed's folders (the outline nesting) as lists of names.
            folders = [path for path in feed.get("categories", []) if path]
            category = FOLDER_SEPARATOR.join(folders[0]) if folders else None
            outlines.append(Outline(feed["url"], feed.get("title") or None, category, is_feed))
    return outlines


def plan_import(outlines: Iterable[Outline], config: Config, kind: str = "feed",
                ) -> tuple[list[dict[str, Any]], list[Skipped]]:
    """The `[[source]]` entries to add for `outlines`, and the outlines skipped: a URL
    already configured (or listed twice), or one that is not an http(s) URL."""
    known = {url_key(source.url): source for source in config.sources}
    taken = {source.id for source in config.sources}
    entries: list[dict[str, Any]] = []
    skipped: list[Skipped] = []
    for outline in outlines:
        if not outline.feed:
            skipped.append(Skipped(outline.url, "a page without a feed URL (no xmlUrl): "
                                                "`veille add` it to see what it offers"))
            continue
        try:
            parts = urlsplit(outline.url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError
            key = url_key(outline.url)
        except ValueError:
            skipped.append(Skipped(outline.url, "not an http(s) URL"))
            continue
        if key in known:
            what = known[key]
            reason = (f"already configured as {what.id!r}" if isinstance(what, Source)
                      else "listed twice")
            skipped.append(Skipped(outline.url, reason))
            continue
        source_id = derive_id(outline.url, taken)
        taken.add(source_id)
        known[key] = outline
        entries.append({
            "id": source_id, "name": outline.title or source_id, "kind": kind,
            "url": outline.url, "topic": outline.category,
        })
    return entries, skipped


def write_opml(sources: Iterable[Source], title: str = "Veille sources") -> str:
    """An OPML 2.0 document of `sources` (feeds), folders from their topics."""
    opml = ET.Element("opml", version="2.0")
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = formatdate(usegmt=True)
    body = ET.SubElement(opml, "body")
    folders: dict[tuple[str, ...], ET.Element] = {(): body}
    for source in sources:
        path = tuple(p.strip() for p in (source.topic or "").split(FOLDER_SEPARATOR)
                     if p.strip())
        parent = body
        for depth in range(1, len(path) + 1):
            if path[:depth] not in folders:
                folders[path[:depth]] = ET.SubElement(
                    parent, "outline", text=path[depth - 1], title=path[depth - 1])
            parent = folders[path[:depth]]
        ET.SubElement(parent, "outline", type="rss", text=source.name, title=source.name,
                      xmlUrl=source.url)
    ET.indent(opml, space="  ")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            + ET.tostring(opml, encoding="unicode") + "\n")

