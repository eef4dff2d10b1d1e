"""Find the article links, their labels and times, and the next page on a topic listing page."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

from dateutil import parser as dateparser
from parsel import Selector

from crawler.errors import BadLink
from crawler.page.urls import canonicalize, entry_link, same_site

LOGGER = logging.getLogger(__name__)

# Links inside these are site furniture, not the listing (the "most read" box included:
# its articles belong to other topics).
_FURNITURE = (
    "ancestor::nav or ancestor::header or ancestor::footer or ancestor::form or ancestor::aside"
)
# Path segments of pages that are not articles.
_NOT_ARTICLE_SEGMENTS = {
    "tag", "tags", "auteur", "auteurs", "author", "authors", "search", "recherche",
    "rechercher", "rubrique", "rubriques", "category", "categorie", "categories", "topic",
    "topics", "theme", "themes", "login", "connexion", "compte", "account", "abonnement",
    "subscribe", "subscription", "newsletter", "newsletters", "contact", "mentions-legales",
    "cgu", "page", "feed", "rss", "podcast", "podcasts", "video", "videos", "live-tv",
}
_PAGINATION_PARAMS = {"page", "p", "pg", "offset", "start", "q", "s", "query"}
_SLUG_WORDS = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+){2,}", re.IGNORECASE)
_NUMERIC_ID = re.compile(r"\d{4,}")
_ARTICLE_EXT = re.compile(r"\.(html?|php|aspx?)$", re.IGNORECASE)
_LABEL_CLASS = re.compile(
    r"topic|label|kicker|categor|rubri|surtitre|overline|section|\btags?\b", re.I
)
_CONTAINERS = (
    "ancestor::article[1] | ancestor::li[1] | "
    "ancestor::div[contains(@class, 'item') or contains(@class, 'story') or "
    "contains(@class, 'teaser') or contains(@class, 'card') or contains(@class, 'post')][1]"
)
_NEXT_WORDS = {
    "suivant", "suivante", "page suivante", "articles suivants", "plus anciens",
    "next", "next page", "older", "older posts", "more", "›", "»", "→", ">",
}
MIN_TITLE_CHARS = 15


@dataclass
class ListingHint:
    """What a listing page, feed entry or sitemap entry said about an article link."""

    url: str
    via: str  # "listing", "feed" or "sitemap": how the link was found
    topic: str | None = None
    listed_at: datetime | None = None
    title: str | None = None
    guid: str | None = None
    categories: tuple[str, ...] = ()
    # `url` made canonical (`crawler.page.urls.canonicalize`), once per link: by the
    # listing reader, which dedupes on it, else by the spider that reads the entry.
    canonical: str | None = None
    # Found while filling a gap (`crawler.crawl.gaps`): on a document read past the poll's.
    gap: bool = False
    # Listed by a document of the whole site (a sitemap found for a gap), not the source's
    # own: the source's topic label is not the article's.
    site_wide: bool = False


def find_article_links(
    page: Selector, page_url: str, domains: tuple[str, ...], links_css: str | None = None
) -> list[ListingHint]:
    """The article links of a listing page, in page order, each with its label and time.

    With `links_css`, the links are the elements it matches (an `<a>` or an element
    holding one). Otherwise they are guessed: on-site links outside the page furniture
    whose URL looks like an article's (a slug of several words, a long numeric id or an
    .html page) and that are not navigation, tag, author, search or pagination links.
    """
    if links_css:
        anchors = [
            node if node.root.tag == "a" else node.css("a[href]")[0]
            for node in page.css(links_css)
            if node.root.tag == "a" or node.css("a[href]")
        ]
    else:
        anchors = page.xpath(f"//a[@href][not({_FURNITURE})]")
    page_key = canonicalize(page_url)
    hints: dict[str, ListingHint] = {}
    for anchor in anchors:
        href = (anchor.attrib.get("href") or "").strip()
        if not href or href.startswith(("#", "mailto:", "javascript:", "tel:")):
            continue
        try:
            url, key = entry_link(href, page_url)
        except BadLink:  # a page's other links (mailto:, javascript:, malformed): not articles
            continue
        if not same_site(url, domains):
            continue
        if key == page_key or key in hints:
            continue
        title = _text(anchor)
        if not links_css and not (_looks_like_article(url, title, anchor)
                                  and _is_headline(anchor)):
            continue
        hints[key] = ListingHint(
            url=url, via="listing", title=title or None, canonical=key,
            topic=_label(anchor, title), listed_at=_listed_at(anchor),
        )
    return list(hints.values())


def find_next_page(page: Selector, page_url: str, next_css: str | None = None) -> str | None:
    """The next listing page: the `next_css` match, else rel=next, else a "Suivant"/"Next" link."""
    if next_css:
        hrefs = page.css(next_css).xpath("descendant-or-self::*/@href").getall()
    else:
        hrefs = page.xpath("//link[@rel='next']/@href | //a[contains(concat(' ', "
                           "normalize-space(@rel), ' '), ' next ')]/@href").getall()
        if not hrefs:
            hrefs = [
                a.attrib["href"] for a in page.xpath("//a[@href]")
                if _text(a).lower().strip(" .") in _NEXT_WORDS
            ]
    page_key = canonicalize(page_url)
    for href in hrefs:
        try:
            url, key = entry_link(href, page_url)
        except BadLink:
            continue
        if key != page_key:
            return url
    return None


def _looks_like_article(url: str, title: str, anchor: Selector) -> bool:
    parts = urlsplit(url)
    segments = [s for s in parts.path.lower().split("/") if s]
    if not segments or any(s in _NOT_ARTICLE_SEGMENTS for s in segments):
        return False
    if any(name.lower() in _PAGINATION_PARAMS for name, _ in parse_qsl(parts.query)):
        return False
    last = segments[-1]
    shaped = bool(
        _SLUG_WORDS.search(last) or _NUMERIC_ID.search(last)
        or (_ARTICLE_EXT.search(last) and len(last) > 10)
    )
    in_heading = bool(anchor.xpath("ancestor::h1 or ancestor::h2 or ancestor::h3 or ancestor::h4"))
    return shaped and (len(title) >= MIN_TITLE_CHARS or in_heading)


def _is_headline(anchor: Selector) -> bool:
    """Not a label or tag link, and the item's headline link when the item has one."""
    if _LABEL_CLASS.search(anchor.attrib.get("class", "")) or "tag" in anchor.attrib.get(
        "rel", ""
    ):
        return False
    if anchor.xpath("ancestor::h1 or ancestor::h2 or ancestor::h3 or ancestor::h4"):
        return True
    container = _container(anchor)
    return container is None or not container.xpath(".//*[self::h1 or self::h2 or self::h3 "
                                                     "or self::h4]//a[@href]")


def _container(anchor: Selector) -> Selector | None:
    found = anchor.xpath(_CONTAINERS)
    # The nearest of the candidate ancestors is the last in document order.
    return found[-1] if found else None


def _label(anchor: Selector, title: str) -> str | None:
    container = _container(anchor)
    if container is None:
        return None
    for node in container.xpath(".//*[@class]"):
        if not _LABEL_CLASS.search(node.attrib.get("class", "")):
            continue
        text = _text(node)
        if text and text != title and len(text) <= 60 and not node.xpath(".//time"):
            return text
    return None


def _listed_at(anchor: Selector) -> datetime | None:
    container = _container(anchor)
    if container is None:
        return None
    times = []
    for value in container.xpath(".//time/@datetime").getall():
        try:
            parsed = dateparser.isoparse(value.strip())
        except (ValueError, OverflowError):
            continue
        if parsed.tzinfo is not None:
            times.append(parsed)
    # The latest time shown (an "updated" time beside the published one) is what counts.
    return max(times) if times else None


def _text(node: Selector) -> str:
    return " ".join(" ".join(node.xpath(".//text()").getall()).split())
