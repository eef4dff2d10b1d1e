"""Feed autodiscovery: the RSS and Atom feeds a web page advertises."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

from parsel import Selector

from crawler.page.charset import decode_html
from crawler.page.fetch import fetch

FEED_TYPES = {
    "application/rss+xml": "rss", "application/atom+xml": "atom",
    "application/feed+json": "json", "application/json": "json",
    "application/rdf+xml": "rdf", "text/xml": "xml", "application/xml": "xml",
}


@dataclass(frozen=True)
class FeedLink:
    """A feed a page advertises with <link rel="alternate">."""

    url: str
    kind: str
    title: str | None


def find_feeds(html: str, page_url: str) -> list[FeedLink]:
    """The feeds advertised in a page's <link rel="alternate" type="..."> elements."""
    feeds: dict[str, FeedLink] = {}
    for link in Selector(text=html).xpath("//link[@href]"):
        rel = (link.attrib.get("rel") or "").lower().split()
        kind = FEED_TYPES.get((link.attrib.get("type") or "").lower().split(";")[0].strip())
        if "alternate" in rel and kind:
            url = urljoin(page_url, link.attrib["href"].strip())
            feeds.setdefault(url, FeedLink(url, kind, link.attrib.get("title")))
    return list(feeds.values())


def discover(url: str, user_agent: str, timeout: float = 30.0) -> list[FeedLink]:
    """Fetch `url` and list the feeds it advertises.

    Raises:
        BadInputError: `url` is not an absolute http(s) URL ("has no scheme: did you
            mean https://...?").
        DiscoveryError: the page could not be fetched.
    """
    page = fetch(url, user_agent, timeout)
    html, _ = decode_html(page.body, page.content_type)
    return find_feeds(html, page.final_url)
