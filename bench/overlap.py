"""One site followed through 6 overlapping sources, as a newsroom follows it (issue 14): the
"all news" listing of every article (paginated), 4 topic listings (each a subset, overlapping
one another, every item labelled with its topic), and an RSS feed of most of them; about 150
articles made from the real pages of ../shared/corpus/readability (bench/real_site.py marks
each copy so that it is an article of its own).

One cold `veille crawl` of the 6 sources into an empty database, the fixture server counting
the GETs of each article page: article fetches per stored article (target: at most 1.02),
the pages fetched more than once, CPU per stored article and peak RSS of the crawl process,
and the provenance rows (`article_sources`: one per article and source that listed it)
against what the listings show. Then the same crawl again into another empty database:
whether the provenance is the same, and how many articles are credited to another source
(`articles.source_id`).

    python -m bench.overlap [--repeats N]
"""

from __future__ import annotations

import argparse
import html
import json
import random
import sqlite3
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from bench import RESULTS, summarize
from bench.corpus import Case, cases
from bench.real_site import markable, marked_copy
from bench.sites import ARTICLE_GAP, BASE_TIME, CountingSiteServer, Site, SiteSource, SiteSpec
from bench.usage import Usage, run_measured, veille

ARTICLES = 150
PER_PAGE = 50  # items per listing page: the all-news listing has 3 pages
FEED_ITEMS = 120  # the newest articles, in the RSS feed
# The topic listings (slug, label), and the sections of the articles none of them shows.
TOPICS = (("karabakh", "Nagorny Karabakh"), ("ukraine", "Guerre en Ukraine"),
          ("soudan", "Soudan"), ("gaza", "Gaza"))
SECTIONS = ("Liban", "Économie", "Culture")
IN_TOPICS = 0.8  # share of the articles a topic listing shows
SECOND_TOPIC = 0.4  # of those, the share a second topic listing also shows
SEED = 20261124
ALL, FEED = "all-news", "rss"


@dataclass(frozen=True)
class Article:
    """One article of the site and where it is listed."""

    path: str
    case: Case
    copy: int
    when: datetime
    label: str  # its label on the all-news listing and in the feed
    topics: tuple[int, ...]  # the topic listings (indexes in TOPICS) that show it

    @property
    def title(self) -> str:
        title = self.case.metadata.get("title") or self.case.name
        return f"{title} ({self.copy})" if self.copy else title

    @property
    def teaser(self) -> str:
        return (self.case.metadata.get("excerpt") or "")[:240]


@dataclass
class OverlapSite:
    site: Site
    articles: list[Article]

    def expected(self) -> set[tuple[str, str, str]]:
        """(article path, source id, topic label): what the listings and the feed show."""
        rows = set()
        for i, a in enumerate(self.articles):
            rows.add((a.path, ALL, a.label))
            rows.update((a.path, f"topic-{TOPICS[t][0]}", TOPICS[t][1]) for t in a.topics)
            if i < FEED_ITEMS:
                rows.add((a.path, FEED, a.label))
        return rows


def build_overlap_site(dest: Path, articles: int = ARTICLES) -> OverlapSite:
    """Write the site under `dest`: the article pages, the listings and the feed."""
    usable = markable(cases())
    if not usable:
        raise SystemExit("bench: ../shared/corpus/readability not found")
    rng = random.Random(SEED)
    root, edition2 = dest / "site", dest / "edition-2"
    edition2.mkdir(parents=True, exist_ok=True)
    _write(root / "robots.txt", b"User-agent: *\nDisallow:\n")
    site_articles = []
    for i in range(articles):  # newest first
        case, copy = usable[i % len(usable)], i // len(usable)
        when = BASE_TIME - ARTICLE_GAP * i
        if rng.random() < IN_TOPICS:
            first = rng.randrange(len(TOPICS))
            topics: tuple[int, ...] = (first,)
            if rng.random() < SECOND_TOPIC:
                topics += ((first + 1 + rng.randrange(len(TOPICS) - 1)) % len(TOPICS),)
            label = TOPICS[first][1]
        else:
            topics, label = (), rng.choice(SECTIONS)
        path = f"/articles/{when:%Y/%m/%d}/{case.name}-{i:04d}.html"
        _write(root / path.lstrip("/"), marked_copy(case, copy))
        site_articles.append(Article(path, case, copy, when, label, topics))
    most_read = site_articles[3:40:7]
    all_news = SiteSource(ALL, "topic", "Actualité", "/dernieres-infos/")
    sources = [all_news]
    _listing(root, all_news, "Toutes les dernières infos",
             [(a, a.label) for a in site_articles], most_read)
    for t, (slug, label) in enumerate(TOPICS):
        source = SiteSource(f"topic-{slug}", "topic", label, f"/dernieres-infos/{slug}/")
        _listing(root, source, f"Dernières infos : {label}",
                 [(a, label) for a in site_articles if t in a.topics], most_read)
        sources.append(source)
    feed = SiteSource(FEED, "feed", "Actualité", "/rss/dernieres-infos.xml")
    feed.listings = [feed.start]
    feed.articles = [a.path for a in site_articles[:FEED_ITEMS]]
    _write(root / feed.start.lstrip("/"), _feed(site_articles[:FEED_ITEMS]).encode())
    sources.append(feed)
    spec = SiteSpec(sources=len(sources), articles=articles, per_page=PER_PAGE, feed_every=0)
    return OverlapSite(Site(spec, root, edition2, sources), site_articles)


def _write(file: Path, body: bytes) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(body)


_NAV = "".join(f'<li><a href="/dernieres-infos/{slug}/">{html.escape(label)}</a></li>'
               for slug, label in TOPICS)
_STYLE = (".item{border-bottom:1px solid #ddd;padding:.8rem 0}.topic-label{font:700 12px "
          "Arial;text-transform:uppercase;color:#b3122e}.item time{color:#666}")


def _listing(root: Path, source: SiteSource, heading: str,
             shown: list[tuple[Article, str]], most_read: list[Article]) -> None:
    """Write a listing in the markup of a "Dernières infos" page, PER_PAGE items a page."""
    e = html.escape
    chunks = [shown[i:i + PER_PAGE] for i in range(0, len(shown), PER_PAGE)] or [[]]
    aside = "".join(f'<li><a href="{a.path}">{e(a.title)}</a></li>' for a in most_read)
    for number, chunk in enumerate(chunks, 1):
        path = source.start if number == 1 else f"{source.start}page/{number}/"
        nxt = f"{source.start}page/{number + 1}/" if number < len(chunks) else None
        items = "\n".join(
            f'  <article class="item">\n'
            f'    <a class="topic-label" href="{source.start}">{e(label)}</a>\n'
            f'    <time datetime="{a.when.isoformat()}">{a.when:%d/%m - %Hh%M}</time>\n'
            f'    <h2><a href="{a.path}">{e(a.title)}</a></h2>\n'
            f'    <p class="teaser">{e(a.teaser)}</p>\n  </article>'
            for a, label in chunk
        )
        pager = (f'<nav class="pagination"><a rel="next" href="{nxt}">Suivant</a></nav>\n'
                 if nxt else "")
        page = (
            f'<!DOCTYPE html>\n<html lang="fr">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{e(heading)} | Le Courrier du banc</title>\n<style>{_STYLE}</style>\n"
            + (f'<link rel="next" href="{{{{ORIGIN}}}}{nxt}">\n' if nxt else "")
            + '</head>\n<body>\n<header class="site-header"><a class="logo" href="/">Le '
            f'Courrier du banc</a>\n<nav class="live-topics"><ul><li><a href="/dernieres-'
            f'infos/">Dernières infos</a></li>{_NAV}</ul></nav>\n</header>\n'
            f"<main>\n<h1>{e(heading)}</h1>\n<div class=\"live-list\">\n{items}\n</div>\n"
            f"{pager}</main>\n<aside class=\"most-read\"><h2>Les plus lus</h2><ol>{aside}"
            "</ol></aside>\n<footer class=\"site-footer\"><p>© 2026 Le Courrier du banc"
            "</p></footer>\n</body>\n</html>\n"
        )
        _write(root / path.lstrip("/") / "index.html", page.encode())
        source.listings.append(path)
    source.articles = [a.path for a, _ in shown]


def _feed(shown: list[Article]) -> str:
    e = html.escape
    items = "\n".join(
        f"  <item>\n    <title>{e(a.title)}</title>\n"
        f"    <link>{{{{ORIGIN}}}}{a.path}?utm_source=rss&amp;utm_medium=feed</link>\n"
        f'    <guid isPermaLink="false">courrier-banc{a.path}</guid>\n'
        f"    <pubDate>{a.when.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>\n"
        f"    <category>{e(a.label)}</category>\n"
        f"    <description>{e(a.teaser)}</description>\n  </item>"
        for a in shown
    )
    return ('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0">\n<channel>\n'
            "  <title>Le Courrier du banc - Dernières infos</title>\n"
            "  <link>{{ORIGIN}}/dernieres-infos/</link>\n"
            "  <description>Dernières infos</description>\n  <language>fr</language>\n"
            f"{items}\n</channel>\n</rss>\n")


# -- measuring ---------------------------------------------------------------------------

@dataclass
class Crawl:
    """One cold crawl: its usage, the fetches counted at the server, what was stored."""

    usage: Usage
    fetches: Counter[str]  # article path -> GETs
    requests: int
    resets: int  # connections the crawler reset: mostly downloads that timed out
    stored: dict[str, str]  # article path -> source credited (articles.source_id)
    counts: dict[str, int]
    stories: set[tuple[str, ...]]  # each story's article paths
    alerts: set[tuple[tuple[str, ...], str, str]]  # (story, subscription, kind) queued
    provenance: set[tuple[str, str, str]] | None  # None: no article_sources table


def crawl(site: OverlapSite, server: CountingSiteServer, workdir: Path) -> Crawl:
    """One `veille crawl` of the 6 sources into a new database under `workdir`."""
    workdir.mkdir()
    config = site.site.write_config(workdir / "veille.toml", server.origin, obey_robots=False)
    db = workdir / "veille.db"
    server.reset_hits()
    usage = run_measured(veille(config, db, "crawl", "--no-progress"))
    paths = {a.path for a in site.articles}
    fetches = Counter({p: n for p, n in server.hits.items() if p in paths})
    with sqlite3.connect(db) as conn:
        stored = {urlsplit(url).path: source for url, source in conn.execute(
            "SELECT canonical_url, source_id FROM articles")}
        counts = {level: conn.execute("SELECT count(*) FROM fetch_errors WHERE level = ?",
                                      [level]).fetchone()[0] for level in ("error", "warning")}
        members: dict[int, list[str]] = {}
        for url, story in conn.execute("SELECT canonical_url, story_id FROM articles"):
            members.setdefault(story, []).append(urlsplit(url).path)
        stories = {tuple(sorted(paths)) for paths in members.values()}
        # An alert is about a story: named by its articles, not by the one it points to
        # (the first copy stored, which depends on the order of arrival).
        alerts = {(tuple(sorted(members.get(story, [urlsplit(url).path]))), subscription,
                   kind) for url, story, subscription, kind in conn.execute(
            "SELECT a.canonical_url, al.story_id, al.subscription_id, al.kind FROM alerts al "
            "JOIN articles a ON a.id = al.article_id")}
        provenance = None
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'article_sources'").fetchone():
            provenance = {(urlsplit(url).path, source, topic) for url, source, topic in
                          conn.execute("SELECT a.canonical_url, p.source_id, p.topic FROM "
                                       "article_sources p JOIN articles a ON a.id = "
                                       "p.article_id")}
    return Crawl(usage, fetches, sum(server.hits.values()), server.resets, stored, counts,
                 stories, alerts, provenance)


def measure_once(site: OverlapSite, workdir: Path) -> dict[str, float]:
    with site.site.server() as server:
        first = crawl(site, server, workdir / "first")
        second = crawl(site, server, workdir / "second")
    (RESULTS / "overlap-crawl.txt").write_text(
        f"first crawl:\n{first.usage.stdout}\nsecond crawl:\n{second.usage.stdout}")
    fetched = sum(first.fetches.values())
    again = [n for n in first.fetches.values() if n > 1]
    n = len(first.stored)
    credited = Counter(first.stored.values())
    print(f"[overlap] credited: {dict(sorted(credited.items()))}; second crawl: "
          f"{dict(sorted(Counter(second.stored.values()).items()))}", file=sys.stderr)
    figures = {
        "fetches_per_article": fetched / n,
        "articles_stored": n,
        "articles_served": len(site.articles),
        "article_fetches": fetched,
        "pages_fetched_more_than_once": len(again),
        "fetches_of_those_pages": sum(again),
        "max_fetches_of_a_page": max(first.fetches.values(), default=0),
        "requests": first.requests,
        "connections_reset": first.resets,
        "cpu_per_stored_article_s": first.usage.cpu_s / n,
        "cpu_s": first.usage.cpu_s,
        "wall_s": first.usage.wall_s,
        "peak_rss_mb": first.usage.max_rss_mb,
        "errors": first.counts["error"],
        "warnings": first.counts["warning"],
        "alerts_queued": len(first.alerts),
        "second_crawl_fetches_per_article": sum(second.fetches.values()) / len(second.stored),
        "second_crawl_cpu_per_stored_article_s": second.usage.cpu_s / len(second.stored),
        # Stories, and alerts (story, subscription, kind), that one of the two identical
        # crawls has and the other has not.
        "stories_differing": len(first.stories ^ second.stories),
        "alerts_differing": len(first.alerts ^ second.alerts),
        # The same articles credited to another source by the second, identical, crawl.
        "credited_to_another_source": sum(
            1 for p, s in first.stored.items() if second.stored.get(p, s) != s),
        "provenance_rows_expected": len(site.expected()),
    }
    if first.provenance is None or second.provenance is None:
        print("[overlap] provenance: missing (no article_sources table in the database)",
              file=sys.stderr)
        return figures
    return {
        **figures,
        "provenance_rows": len(first.provenance),
        # Rows the listings show that the record lacks, and rows it has that they do not.
        "provenance_missing": len(site.expected() - first.provenance),
        "provenance_unexpected": len(first.provenance - site.expected()),
        "provenance_identical": float(first.provenance == second.provenance),
        "provenance_rows_differing": len(first.provenance ^ second.provenance),
    }


def run(repeats: int = 3) -> dict[str, float]:
    RESULTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="veille-overlap-") as tmp:
        site = build_overlap_site(Path(tmp))
        runs = []
        for i in range(repeats):
            workdir = Path(tmp) / f"run-{i}"
            workdir.mkdir()
            runs.append(measure_once(site, workdir))
    figures = summarize(runs, "fetches_per_article")
    if "provenance_identical" in figures:
        figures["provenance_identical_every_run"] = min(r["provenance_identical"] for r in runs)
    figures["peak_rss_mb_max"] = max(r["peak_rss_mb"] for r in runs)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.overlap", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=1, help="runs (medians kept)")
    print(json.dumps(run(parser.parse_args().repeats), indent=2))
