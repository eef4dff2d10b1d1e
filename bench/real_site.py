"""A site made of the real pages of ../shared/corpus/readability, served as they are: the
130 pages spread over a few RSS sources, so that a crawl fetches and extracts each once.

The pages keep their own markup, charsets, scripts, canonical links to their original
hosts and broken JSON-LD: what a crawl of real news sites meets.
"""

from __future__ import annotations

import html
from datetime import timedelta
from pathlib import Path

from bench.corpus import Case, cases
from bench.sites import ARTICLE_GAP, BASE_TIME, TOPICS, Site, SiteSource, SiteSpec

SOURCES = 5


def build_real_site(dest: Path, pages: list[Case] | None = None,
                    sources: int = SOURCES) -> Site:
    """Write the corpus pages under `dest`, with one RSS feed per source listing its share."""
    pages = cases() if pages is None else pages
    if not pages:
        raise SystemExit("bench: ../shared/corpus/readability not found")
    root, edition2 = dest / "site", dest / "edition-2"
    root.mkdir(parents=True, exist_ok=True)
    edition2.mkdir(parents=True, exist_ok=True)
    (root / "robots.txt").write_text("User-agent: *\nDisallow:\n")
    site_sources = []
    for n in range(sources):
        sid = f"r{n:02d}"
        share = pages[n::sources]
        source = SiteSource(sid, "feed", TOPICS[n % len(TOPICS)], f"/{sid}/rss.xml")
        items = []
        for k, case in enumerate(share):
            path = f"/{sid}/{case.name}.html"
            (root / sid).mkdir(exist_ok=True)
            (root / path.lstrip("/")).write_bytes((case.folder / "source.html").read_bytes())
            source.articles.append(path)
            when = BASE_TIME - ARTICLE_GAP * k - timedelta(minutes=n)
            items.append(
                f"  <item>\n    <title>{html.escape(case.name)}</title>\n"
                f"    <link>{{{{ORIGIN}}}}{path}</link>\n"
                f"    <pubDate>{when.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>\n"
                f"  </item>"
            )
        feed = (
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0">\n<channel>\n'
            f"  <title>Real pages {sid}</title>\n  <link>{{{{ORIGIN}}}}/{sid}/</link>\n"
            f"  <description>Corpus pages</description>\n" + "\n".join(items)
            + "\n</channel>\n</rss>\n"
        )
        (root / source.start.lstrip("/")).write_text(feed, encoding="utf-8")
        source.listings = [source.start]
        site_sources.append(source)
    spec = SiteSpec(sources=sources, articles=-(-len(pages) // sources), feed_every=1)
    return Site(spec, root, edition2, site_sources)
