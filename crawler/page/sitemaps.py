"""Reading a sitemap's bytes: an index of sitemaps, or a (news) sitemap of article URLs.

Scrapy's own sitemap reader drops the nested `<news:news>` element, where news sitemaps
keep the publication date and title, hence this small reader. Used by the sitemap
spider and by `veille add` / `veille try` (which must not need Scrapy).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from dateutil import parser as dateparser
from lxml import etree

from crawler.page.listing import ListingHint

SITEMAP_ROOTS = ("urlset", "sitemapindex")


# How deep an index of sitemap indexes is followed (a loop of indexes ends there).
MAX_INDEX_DEPTH = 3

def parse_sitemap(body: bytes) -> tuple[etree._Element | None, str]:
    """The document's root element and its local name ("urlset" or "sitemapindex"), or
    None and what it is instead (the parser's error, "empty document", another root)."""
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError as exc:
        return None, str(exc)
    if root is None:
        return None, "empty document"
    name = etree.QName(root).localname
    return (root, name) if name in SITEMAP_ROOTS else (None, name)


def sitemap_hints(root: etree._Element, cutoff: datetime | None = None) -> list[ListingHint]:
    """The article URLs of a `<urlset>`, each with its title and time, in document order;
    those older than `cutoff` (by publication date, else lastmod) left out."""
    hints = []
    for node in root:
        if not isinstance(node.tag, str) or etree.QName(node).localname != "url":
            continue
        fields = url_fields(node)
        when = sitemap_date(fields.get("publication_date") or fields.get("lastmod"))
        if not fields.get("loc") or (cutoff and when and when < cutoff):
            continue
        hints.append(ListingHint(
            url=fields["loc"], via="sitemap", title=fields.get("title"),
            listed_at=sitemap_date(fields.get("lastmod")) or when,
        ))
    return hints


def url_fields(node: etree._Element) -> dict[str, str]:
    """The text of every element under a <url>, by local name (news:* included)."""
    fields = {}
    for child in node.iter():
        if isinstance(child.tag, str) and child.text and child.text.strip():
            fields.setdefault(etree.QName(child).localname, child.text.strip())
    return fields


def sitemap_entries(root: etree._Element, tag: str) -> Iterator[tuple[str, datetime | None]]:
    """Each `<tag>` child's <loc> and lastmod (`tag`: "sitemap" in an index)."""
    for node in root:
        if isinstance(node.tag, str) and etree.QName(node).localname == tag:
            fields = url_fields(node)
            if fields.get("loc"):
                yield fields["loc"], sitemap_date(fields.get("lastmod"))


def sitemap_date(value: str | None) -> datetime | None:
    """An ISO 8601 date of a sitemap, UTC when it names no zone; None if unreadable."""
    if not value:
        return None
    try:
        parsed = dateparser.isoparse(value)
    except (ValueError, OverflowError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
