"""A site made of the real pages of ../shared/corpus/readability, spread over a few RSS
sources: the 130 pages served as they are, or N articles made from them (each page served
under several URLs, each copy marked with one sentence of ours so that it is an article of
its own).

The pages keep their own markup, charsets, scripts, canonical links to their original
hosts and broken JSON-LD: what a crawl of real news sites meets.
"""

from __future__ import annotations

import bisect
import html
import random
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

from bench.corpus import Case, cases
from bench.sites import ARTICLE_GAP, BASE_TIME, TOPICS, WORDS, Site, SiteSource, SiteSpec
from crawler.page.charset import decode_html
from crawler.page.extract import ExtractedArticle, extract_article

SOURCES = 5
# The words of the sentence a copy gets: our own word list, ASCII so that they fit every
# page's charset.
MARK_WORDS = [w for w in WORDS if w.isascii() and w.isalpha()]
# Where a sentence would not be read as text: the head, scripts, styles, comments, tags.
_UNREAD = re.compile(rb"<head\b.*?</head\s*>|<script\b.*?</script\s*>|<style\b.*?</style\s*>"
                     rb"|<noscript\b.*?</noscript\s*>|<!--.*?-->|<[^>]*>", re.S | re.I)
_TEXT_NODE = re.compile(rb">([^<]+)<")
_PARAGRAPH = re.compile(rb"<p(?:\s[^>]*)?>(.*?)</p\s*>", re.S | re.I)
# Where each page takes its mark, per corpus folder: found once per process.
_PLACES: dict[Path, int | None] = {}


@dataclass
class RealSite(Site):
    """A site of corpus pages; `pages` says which page and copy each article path serves."""

    pages: dict[str, tuple[Case, int]] = field(default_factory=dict)

    def distinct(self) -> dict[str, int]:
        """One article path per corpus page served (its lowest copy), with how many
        copies of that page the site serves."""
        first: dict[str, tuple[int, str]] = {}
        counts: Counter[str] = Counter()
        for path, (case, copy) in self.pages.items():
            if case.name not in first or copy < first[case.name][0]:
                first[case.name] = (copy, path)
            counts[case.name] += 1
        return {path: counts[name] for name, (_, path) in first.items()}


def mark(case: Case, copy: int) -> str:
    """The sentence copy `copy` of a page gets: its number, and words drawn for that page
    and copy (a sentence shared by every page would make the shortest pages look alike)."""
    words = random.Random(f"{case.name}/{copy}").choices(MARK_WORDS, k=12)
    return f"Veille benchmark, copy {copy} of {case.name}: {' '.join(words)}."


def marked_copy(case: Case, copy: int) -> bytes:
    """The page's bytes with its mark for copy number `copy` in its article text."""
    place = mark_place(case)
    if place is None:
        raise ValueError(f"{case.name}: no place in its text takes a mark")
    body = (case.folder / "source.html").read_bytes()
    return body[:place] + b" " + mark(case, copy).encode() + body[place:]


def markable(pages: list[Case]) -> list[Case]:
    """The pages whose copies can be told apart: a sentence added to them is extracted."""
    return [case for case in pages if mark_place(case) is not None]


def mark_place(case: Case) -> int | None:
    """A byte offset where an added sentence lands in the body `extract_article` reads,
    checked by extracting the marked page: after a phrase of the page's own extracted
    text, else at the end of its longest text node or paragraph. None if none works."""
    if case.folder in _PLACES:
        return _PLACES[case.folder]
    body = (case.folder / "source.html").read_bytes()
    text = _extract(body, case).body
    probe = mark(case, 0)
    found = None
    for place in _candidates(body, text):
        if probe in _extract(body[:place] + b" " + probe.encode() + body[place:], case).body:
            found = place
            break
    _PLACES[case.folder] = found
    return found


def _extract(body: bytes, case: Case) -> ExtractedArticle:
    page, _ = decode_html(body, "text/html")
    return extract_article(page, f"http://127.0.0.1/r00/{case.name}-0.html")


def _candidates(body: bytes, text: str) -> list[int]:
    unread = [m.span() for m in _UNREAD.finditer(body)]
    starts = [start for start, _ in unread]

    def read(pos: int) -> bool:
        i = bisect.bisect_right(starts, pos) - 1
        return i < 0 or pos >= unread[i][1]

    places = []
    # 1. After four words of one of the extracted text's longest lines, as they are
    # written in the page (outside the head, scripts and tags): the end of that text node.
    lines = sorted((line for line in text.splitlines() if len(line.split()) >= 4),
                   key=len, reverse=True)
    for line in lines[:10]:
        words = line.split()
        for k in range(0, len(words) - 3, 2):
            phrase = re.compile(rb"\s+".join(re.escape(w.encode()) for w in words[k:k + 4]))
            hit = next((m for m in phrase.finditer(body) if read(m.start())), None)
            if hit:
                end = body.find(b"<", hit.end())
                places.append(end if end != -1 else hit.end())
                break
        if places:
            break
    # 2. The end of the longest visible text node. 3. The end of the longest paragraph.
    nodes = [m for m in _TEXT_NODE.finditer(body) if read(m.start(1))]
    if nodes:
        longest = max(nodes, key=lambda m: len(m.group(1).strip()))
        places.append(longest.start(1) + len(longest.group(1).rstrip()))
    paragraphs = list(_PARAGRAPH.finditer(body))
    if paragraphs:
        places.append(max(paragraphs, key=lambda m: len(m.group(1))).end(1))
    return list(dict.fromkeys(places))


def as_copy(extracted: ExtractedArticle, case: Case, copy: int) -> ExtractedArticle:
    """What extracting copy `copy` of a page gives, from the extraction of its copy 0."""
    if copy == 0:
        return extracted
    return replace(extracted, body=extracted.body.replace(mark(case, 0), mark(case, copy)))


def build_real_site(dest: Path, pages: list[Case] | None = None,
                    sources: int = SOURCES, articles: int | None = None) -> RealSite:
    """Write the corpus pages under `dest`, with one RSS feed per source listing its share.

    With `articles`, the site serves that many articles made from the pages that take a
    mark (`markable`): copy 0 of every page, then copy 1 of every page, and so on, each
    under its own URL with its own mark; without, the pages as they are, once each.
    """
    pages = cases() if pages is None else pages
    if not pages:
        raise SystemExit("bench: ../shared/corpus/readability not found")
    if articles is None:
        served = [(case, -1) for case in pages]
    else:
        usable = markable(pages)
        served = [(usable[i % len(usable)], i // len(usable)) for i in range(articles)]
    root, edition2 = dest / "site", dest / "edition-2"
    root.mkdir(parents=True, exist_ok=True)
    edition2.mkdir(parents=True, exist_ok=True)
    (root / "robots.txt").write_text("User-agent: *\nDisallow:\n")
    site_sources, served_paths = [], {}
    for n in range(sources):
        sid = f"r{n:02d}"
        (root / sid).mkdir(exist_ok=True)
        source = SiteSource(sid, "feed", TOPICS[n % len(TOPICS)], f"/{sid}/rss.xml")
        items = []
        for k, (case, copy) in enumerate(served[n::sources]):
            if copy < 0:
                path, title = f"/{sid}/{case.name}.html", case.name
                body = (case.folder / "source.html").read_bytes()
            else:
                path, title = f"/{sid}/{case.name}-{copy}.html", f"{case.name} ({copy})"
                body = marked_copy(case, copy)
            (root / path.lstrip("/")).write_bytes(body)
            source.articles.append(path)
            served_paths[path] = (case, max(copy, 0))
            when = BASE_TIME - ARTICLE_GAP * k - timedelta(minutes=n)
            items.append(
                f"  <item>\n    <title>{html.escape(title)}</title>\n"
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
    spec = SiteSpec(sources=sources, articles=-(-len(served) // sources), feed_every=1)
    return RealSite(spec, root, edition2, site_sources, served_paths)
