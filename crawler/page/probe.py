"""What a URL's document is, read as a crawl would read it: a feed (feedparser, as the feed
spider), a sitemap or sitemap index (as the sitemap spider), or an HTML page, with the
article links a topic crawl would follow (`find_article_links`) and the feeds it
advertises (`find_feeds`). For `veille add` and `veille try`, which fetch one URL."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from parsel import Selector

from crawler.page.charset import decode_html
from crawler.page.discover import FeedLink, find_feeds
from crawler.page.extract.structured import find_article_node
from crawler.page.extract.text import clean
from crawler.page.feeds import entry_hint, read_feed
from crawler.page.listing import ListingHint, find_article_links
from crawler.page.sitemaps import parse_sitemap, sitemap_entries, sitemap_hints

NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
FEED_FORMATS = {
    "rss090": "RSS 0.90", "rss091n": "RSS 0.91", "rss091u": "RSS 0.91", "rss092": "RSS 0.92",
    "rss093": "RSS 0.93", "rss094": "RSS 0.94", "rss20": "RSS 2.0", "rss10": "RSS 1.0",
    "rss": "RSS", "atom01": "Atom 0.1", "atom02": "Atom 0.2", "atom03": "Atom 0.3",
    "atom10": "Atom 1.0", "atom": "Atom", "cdf": "CDF", "json1": "JSON Feed 1.0",
    "json11": "JSON Feed 1.1",
}


@dataclass
class Document:
    """One fetched document, read.

    `kind` is what a source of it would be: "feed", "sitemap" (a sitemap of articles or
    an index of sitemaps, see `sitemaps`), "topic" (an HTML page with article links), or
    "page" (an HTML page without any: an article, or a page whose links need a selector).
    """

    url: str
    kind: str
    format: str  # "RSS 2.0", "Atom 1.0", "news sitemap", "sitemap index", "HTML"...
    title: str | None = None
    hints: list[ListingHint] = field(default_factory=list)
    feeds: list[FeedLink] = field(default_factory=list)  # advertised by an HTML page
    sitemaps: list[str] = field(default_factory=list)  # listed by a sitemap index
    problem: str | None = None  # a defect found reading it (a malformed feed...)
    html: str | None = None  # an HTML page's decoded text
    article: bool = False  # an HTML page that says it is an article (JSON-LD, og:type)


def read_document(body: bytes, url: str, content_type: str | None = None,
                  domains: tuple[str, ...] = ()) -> Document:
    """Read `body`, fetched from `url` (after redirects), for what it is.

    Sitemaps first (an XML root the sitemap spider accepts), then feeds (feedparser
    recognises one), else HTML. `domains`: the hosts a topic source may follow links
    to (default: the URL's own).
    """
    root, name = parse_sitemap(body)
    if root is not None:
        if name == "sitemapindex":
            children = [loc for loc, _ in sitemap_entries(root, "sitemap")]
            return Document(url, "sitemap", "sitemap index", sitemaps=children)
        hints = sitemap_hints(root)
        news = root.find(f".//{{{NEWS_NS}}}news") is not None
        return Document(url, "sitemap", "news sitemap" if news else "sitemap", hints=hints)
    parsed, problem = read_feed(body, url, content_type)
    version = parsed.get("version")
    if version:
        hints = []
        for entry in parsed.entries:
            try:
                hint = entry_hint(entry, url)
            except (ValueError, OverflowError, OSError, TypeError):
                continue  # the crawl skips such an entry too
            if hint is not None:
                hints.append(hint)
        return Document(url, "feed", FEED_FORMATS.get(version, version),
                        title=clean(parsed.feed.get("title")), hints=hints, problem=problem)
    html, _ = decode_html(body, content_type)
    page = Selector(text=html or "<html></html>", base_url=url)
    hints = find_article_links(page, url, domains or (urlsplit(url).hostname or "",))
    title = clean(" ".join(page.xpath("//title//text()").getall())) or None
    return Document(url, "topic" if hints else "page", "HTML", title=title, hints=hints,
                    feeds=find_feeds(html, url), html=html, article=says_article(page))


def says_article(page: Selector) -> bool:
    """Whether an HTML page calls itself an article: a JSON-LD article node, or
    og:type "article"."""
    og_type = page.xpath("//meta[@property='og:type']/@content").get("")
    if og_type.strip().lower().startswith("article"):
        return True
    items = []
    for text in page.xpath("//script[@type='application/ld+json']/text()").getall():
        try:
            data = json.loads(text, strict=False)
        except (ValueError, RecursionError):
            continue
        items.extend(data if isinstance(data, list) else [data])
    return bool(find_article_node(items)[0])
