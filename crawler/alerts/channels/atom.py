"""Atom channel: rewrite a subscription's Atom 1.0 file, newest alert first, atomically.

Written with ElementTree (stdlib): the feed is small and fixed in shape, and building it here
keeps entry ids, order and dates exactly as the dispatcher gives them.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from crawler.alerts.channels.message import AlertMessage, Message, OperatorNotice
from crawler.clock import parse_time_or_none, stamp, stamp_now
from crawler.config.model import FeedChannel

LOGGER = logging.getLogger(__name__)

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# characters XML 1.0 cannot carry at all (C0 controls except tab/newline/CR, lone surrogates)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_URN_SAFE = ":@!$'()*+,;=-._~"  # RFC 8141 NSS characters kept as they are
_LANG_TAG = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")


def write_feed(channel: FeedChannel, subscription_id: str, subscription_name: str,
               alerts: Sequence[Message], updated: str) -> None:
    """Replace `channel.path` with a feed of the newest `channel.max_entries` of `alerts`.

    `alerts` is every alert the feed should show (the dispatcher passes the recent ones, not
    only the new batch); `updated` is the feed's `<updated>` time, ISO 8601.
    """
    document = build_feed(channel, subscription_id, subscription_name, alerts, updated)
    _replace(Path(channel.path), document)
    LOGGER.debug("wrote %s (%d alerts)", channel.path, min(len(alerts), channel.max_entries))


def build_feed(channel: FeedChannel, subscription_id: str, subscription_name: str,
               alerts: Sequence[Message], updated: str) -> bytes:
    """The feed document, as UTF-8 bytes with an XML declaration."""
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    _text(feed, "id", f"urn:veille:subscription:{quote(subscription_id, safe='')}")
    _text(feed, "title", channel.title or f"Veille: {subscription_name}")
    _text(feed, "subtitle", f"Alerts for the subscription \"{subscription_name}\"")
    _text(feed, "updated", rfc3339(updated) or stamp_now())
    author = ET.SubElement(feed, "author")
    _text(author, "name", "Veille")
    _text(feed, "generator", "Veille")
    # newest first; sorted() is stable, so alerts created in the same second keep their order
    newest = sorted(alerts, key=lambda a: _moment(a.created_at), reverse=True)
    for alert in newest[: max(channel.max_entries, 0)]:
        feed.append(_entry(alert, updated))
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def entry_id(uid: str) -> str:
    """`urn:uuid:...` for a UUID, else `urn:veille:alert:<uid>`; the same uid, the same id."""
    try:
        return uuid.UUID(uid).urn
    except ValueError:
        return f"urn:veille:alert:{quote(uid, safe=_URN_SAFE)}"


def rfc3339(value: str | None) -> str | None:
    """An ISO 8601 time as RFC 3339 UTC ("2024-05-01T10:00:00Z"); naive times are UTC."""
    return stamp(parse_time_or_none(value))


def _entry(alert: Message, feed_updated: str) -> ET.Element:
    if isinstance(alert, OperatorNotice):
        return _notice_entry(alert, feed_updated)
    entry = ET.Element("entry")
    if alert.language and _LANG_TAG.match(alert.language):
        entry.set(XML_LANG, alert.language)
    _text(entry, "id", entry_id(alert.uid))
    title = f"Updated: {alert.title}" if alert.kind == "update" else alert.title
    _text(entry, "title", title)
    ET.SubElement(entry, "link", {"rel": "alternate", "type": "text/html",
                                  "href": _clean(alert.url)})
    # <updated> is when this entry (the alert) appeared; <published> when the article did
    _text(entry, "updated", rfc3339(alert.created_at) or rfc3339(feed_updated) or "")
    published = rfc3339(alert.published_at)
    if published:
        _text(entry, "published", published)
    author = ET.SubElement(entry, "author")
    _text(author, "name", alert.source_name or alert.source_id)
    for conflict in alert.conflicts:
        ET.SubElement(entry, "category", {"term": _clean(conflict)})
    _text(entry, "summary", _summary(alert))
    return entry


def _notice_entry(notice: OperatorNotice, feed_updated: str) -> ET.Element:
    """An operator notice: "[Veille] title", its text as the summary, its kind as category."""
    entry = ET.Element("entry")
    _text(entry, "id", entry_id(notice.uid))
    _text(entry, "title", f"[Veille] {notice.title}")
    _text(entry, "updated", rfc3339(notice.created_at) or rfc3339(feed_updated) or "")
    author = ET.SubElement(entry, "author")
    _text(author, "name", "Veille")
    ET.SubElement(entry, "category", {"term": _clean(notice.kind),
                                      "scheme": "urn:veille:operator"})
    _text(entry, "summary", notice.body or notice.title)
    return entry


def _summary(alert: AlertMessage) -> str:
    lines = [alert.lead] if alert.lead else []
    if alert.matched:
        lines.append("Matched: " + ", ".join(f"{m.alias} ({m.field})" for m in alert.matched))
    if alert.other_copies:
        lines.append("Also in: " + "; ".join(f"{c.source} ({c.url})" for c in alert.other_copies))
    return "\n\n".join(lines) or alert.title


def _text(parent: ET.Element, tag: str, value: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = _clean(value)
    return element


def _clean(value: str) -> str:
    return _NOT_XML.sub("", value)


def _moment(value: str) -> datetime:
    return parse_time_or_none(value) or datetime.min.replace(tzinfo=UTC)


def _replace(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a reader sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    # os.open with 0o666 honours the umask, unlike mkstemp's 0o600: the feed is meant to be served
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
