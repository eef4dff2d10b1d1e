"""Cold crawl of real pages into an empty database: 1,000 articles made from the 130 pages
of ../shared/corpus/readability (bench/real_site.py: each page served under several URLs,
each copy marked with a sentence of ours so that it is an article of its own; 10 RSS
sources), or the 130 pages as they are (5 RSS sources). CPU seconds per article and
articles per second, end to end (`veille crawl` with the shipped conflicts and one
subscription, so that matching, story assignment and alert queueing all run), and the
peak RSS of the crawl process.

In the same run, on the same URLs, the anchor: a bare Scrapy spider that downloads the
feeds and pages and runs `trafilatura.extract` on each page (bench/bare_spider.py, same
concurrency, no delay, robots.txt off in both). Also timed alone, in this process, on the
bytes served (one copy of each page, weighted by its number of copies):
`crawler.page.extract.extract_article` (after `decode_html`, as the spiders call it) and
`trafilatura.extract`. The overhead ratio is Veille's CPU per article over the anchor's:
1.0 would mean Veille costs what downloading and extracting with trafilatura costs. CPU
time (the child's rusage) is the main figure.

    python -m bench.cold_crawl [--articles 1000] [--repeats 1]
    python -m bench.cold_crawl --corpus        # the 130 pages as they are
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import trafilatura

from bench import real_site, summarize
from bench.real_site import RealSite, as_copy, build_real_site
from bench.sites import Site
from bench.usage import Usage, run_measured, veille
from crawler.config.model import load_config
from crawler.crawl.items import ArticleItem
from crawler.crawl.normalize import normalize_article
from crawler.page.charset import decode_html
from crawler.page.extract import ExtractedArticle, extract_article
from crawler.page.listing import ListingHint
from crawler.record.outbox import Outbox, sync_alerting
from crawler.record.store import Store
from crawler.record.stories import StoryIndex

ARTICLES = 1000
SOURCES = 10  # RSS sources of the 1,000-article site (the 130 pages: real_site.SOURCES)
# The last 1,000-article cold crawl measured in this process, for bench/memory.py.
LAST: dict[str, float] = {}


def crawl_veille(site: Site, origin: str, workdir: Path) -> tuple[Usage, dict[str, int]]:
    """One `veille crawl` of the whole site into a new database; its usage and counts."""
    config = site.write_config(workdir / "veille.toml", origin, obey_robots=False)
    db = workdir / "veille.db"
    usage = run_measured(veille(config, db, "crawl", "--no-progress", "--quiet"))
    with sqlite3.connect(db) as conn:
        counts = {
            "articles": conn.execute("SELECT count(*) FROM articles").fetchone()[0],
            "alerts": conn.execute("SELECT count(*) FROM alerts").fetchone()[0],
            "stories_with_copies": conn.execute(
                "SELECT count(*) FROM stories WHERE articles > 1").fetchone()[0],
            "errors": conn.execute(
                "SELECT count(*) FROM fetch_errors WHERE level = 'error'").fetchone()[0],
            "warnings": conn.execute(
                "SELECT count(*) FROM fetch_errors WHERE level = 'warning'").fetchone()[0],
        }
    return usage, counts


def crawl_bare(site: Site, origin: str, workdir: Path) -> Usage:
    urls = {s.id: [origin + p for p in (*s.listings, *s.articles)] for s in site.sources}
    path = workdir / "urls.json"
    path.write_text(json.dumps(urls))
    usage = run_measured([sys.executable, "-m", "bench.bare_spider", str(path)])  # + extract
    responses = json.loads(usage.stdout.strip().splitlines()[-1])["responses"]
    wanted = sum(len(u) for u in urls.values())
    if responses != wanted:
        raise RuntimeError(f"the bare spider got {responses} responses of {wanted}")
    return usage


def extraction_cpu(site: RealSite, origin: str
                   ) -> tuple[float, float, dict[str, ExtractedArticle]]:
    """CPU seconds of extract_article (with decode_html) and of trafilatura.extract over
    every article, in this thread, after a warm-up: each page timed once on one of its
    copies and counted as many times as the site serves it; and what extract_article
    found on each page (by corpus page name)."""
    distinct = site.distinct()
    pages = [(origin + p, site.article_bytes(p, origin), copies, site.pages[p][0].name)
             for p, copies in distinct.items()]

    def ours(url: str, body: bytes) -> ExtractedArticle:
        text, _ = decode_html(body, "text/html")
        return extract_article(text, url)

    def theirs(url: str, body: bytes) -> object:
        return trafilatura.extract(body.decode("utf-8", "replace"), url=url)

    for extract in (ours, theirs):
        for url, body, _, _ in pages[:5]:
            extract(url, body)
    figures, extracted = [0.0, 0.0], {}
    for url, body, copies, name in pages:  # the extractors take turns page by page
        for k, extract in enumerate((ours, theirs)):
            started = time.thread_time()
            result = extract(url, body)
            figures[k] += (time.thread_time() - started) * copies
            if k == 0:
                extracted[name] = result
    return figures[0], figures[1], extracted


def storage_cpu(site: RealSite, origin: str, workdir: Path,
                extracted: dict[str, ExtractedArticle]) -> float:
    """CPU seconds of what Veille does with the extracted articles, alone: normalize_article
    and Store.save_article (row, URLs, full-text index, matching, outbox, story) into a new
    database with the benchmark config's conflicts and subscription."""
    config = load_config(workdir / "veille.toml")
    outbox = Outbox(config.conflicts, config.subscriptions, config.alerts.max_age_seconds,
                    update_threshold=config.stories.update_threshold)
    sources = {s.id: s for s in config.sources}
    items = []
    for source in site.sources:
        for path in source.articles:
            case, copy = site.pages[path]
            url = origin + path
            items.append(ArticleItem(source.id, ListingHint(url, "listing", topic=source.topic),
                                     url, (), as_copy(extracted[case.name], case, copy),
                                     fallback_topic=source.topic, default_language="fr"))
    with Store.open(workdir / "storage-only.db", outbox=outbox,
                    stories=StoryIndex(config.stories)) as store:
        store.sync_sources(config.sources)
        sync_alerting(store.db, config.conflicts, config.subscriptions, store.now())
        started = time.thread_time()
        for item in items:
            store.save_article(normalize_article(item, sources[item.source_id].domains))
        return time.thread_time() - started


def measure_once(site: RealSite, workdir: Path) -> dict[str, float]:
    n = len(site.article_paths)
    with site.server() as server:
        usage, counts = crawl_veille(site, server.origin, workdir)
        article_requests = sum(server.hits[p] for p in site.article_paths)
        requests, resets = sum(server.hits.values()), server.resets
        # Some corpus pages are one article under two URLs (the same canonical, or the
        # same lorem-ipsum text in Readability's synthetic cases): every page must be
        # fetched and stored or merged, never an error. A page may be fetched twice: a
        # download that times out (30 s) while the process is busy extracting is retried.
        unfetched = sum(1 for p in site.article_paths if not server.hits[p])
        if unfetched or counts["errors"] or counts["articles"] < 0.85 * n:
            raise RuntimeError(f"the crawl stored {counts['articles']} of {n} articles "
                               f"({unfetched} pages never fetched, {counts['errors']} "
                               f"errors): {usage.stdout[-1000:]}")
        server.reset_hits()
        bare = crawl_bare(site, server.origin, workdir)
        anchor_requests = sum(server.hits[p] for p in site.article_paths)
        anchor_resets = server.resets
        ours, theirs, extracted = extraction_cpu(site, server.origin)
        storage = storage_cpu(site, server.origin, workdir, extracted)
    veille_pa = usage.cpu_s / n
    bare_pa, ours_pa, theirs_pa = bare.cpu_s / n, ours / n, theirs / n
    return {
        "cpu_per_article_s": veille_pa,
        "articles_per_s": n / usage.wall_s,
        # the anchor: bare Scrapy + trafilatura.extract, per article
        "overhead_ratio": veille_pa / bare_pa,
        "cpu_s": usage.cpu_s,
        "wall_s": usage.wall_s,
        "anchor_cpu_per_article_s": bare_pa,
        "bare_wall_s": bare.wall_s,
        "extract_article_cpu_per_article_s": ours_pa,
        "trafilatura_cpu_per_article_s": theirs_pa,
        "storage_cpu_per_article_s": storage / n,
        # What is left: Scrapy's request/item machinery, feed parsing, the stored-article
        # lookups, process start-up and the database opened per spider.
        "rest_cpu_per_article_s": veille_pa - (bare_pa - theirs_pa) - ours_pa - storage / n,
        "peak_rss_mb": usage.max_rss_mb,
        "anchor_peak_rss_mb": bare.max_rss_mb,
        "articles": counts["articles"],
        "articles_served": n,
        "distinct_pages": len(site.distinct()),
        "warnings": counts["warnings"],
        "requests": requests,
        # GETs of article pages counted at the server, per article: above 1 when
        # downloads timed out and were retried.
        "article_fetches_per_article": article_requests / n,
        "anchor_article_fetches_per_article": anchor_requests / n,
        "connections_reset": resets,  # by the crawler: mostly downloads timed out
        "anchor_connections_reset": anchor_resets,
        "alerts_queued": counts["alerts"],
        "stories_with_copies": counts["stories_with_copies"],
    }


def measure(repeats: int, articles: int | None = ARTICLES) -> dict[str, float]:
    """Medians over `repeats` cold crawls of `articles` articles made from the corpus
    pages (None: the 130 pages as they are)."""
    with tempfile.TemporaryDirectory(prefix="veille-cold-") as tmp:
        site = build_real_site(Path(tmp), articles=articles,
                               sources=SOURCES if articles else real_site.SOURCES)
        sizes = [(site.root / p.lstrip("/")).stat().st_size / 1024 for p in site.article_paths]
        runs = []
        for i in range(repeats):
            workdir = Path(tmp) / f"run-{i}"
            workdir.mkdir()
            runs.append(measure_once(site, workdir))
    return {**summarize(runs, "cpu_per_article_s"),
            "overhead_ratio_min": min(r["overhead_ratio"] for r in runs),
            "overhead_ratio_max": max(r["overhead_ratio"] for r in runs),
            "peak_rss_mb_max": max(r["peak_rss_mb"] for r in runs),
            "anchor_peak_rss_mb_max": max(r["anchor_peak_rss_mb"] for r in runs),
            "page_kb_median": statistics.median(sizes), "page_kb_min": min(sizes),
            "page_kb_max": max(sizes)}


def run(repeats: int = 3) -> dict[str, float]:
    """The 1,000-article cold crawl (kept in LAST for bench/memory.py)."""
    figures = measure(repeats, ARTICLES)
    LAST.clear()
    LAST.update(figures)
    return figures


def run_corpus(repeats: int = 3) -> dict[str, float]:
    """The cold crawl of the 130 corpus pages as they are."""
    return measure(repeats, None)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.cold_crawl", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=ARTICLES,
                        help="articles made from the corpus pages (default %(default)s)")
    parser.add_argument("--corpus", action="store_true",
                        help="the 130 corpus pages as they are, once each")
    parser.add_argument("--repeats", type=int, default=1, help="runs (medians kept)")
    args = parser.parse_args()
    print(json.dumps(measure(args.repeats, None if args.corpus else args.articles), indent=2))
