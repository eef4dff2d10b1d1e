"""`python -m bench.article_cost`: the CPU an article costs outside download and extraction,
with 1,000,000 articles stored, part by part.

The 130 real pages of ../shared/corpus/readability are extracted once, beforehand (not
measured). Then each page goes through what a crawl does with it after extraction, in the
order `spiders/base.py` and `crawler/crawl/pipelines.py` do it, each part timed on its own (CPU
of this thread):

- decode: `decode_html` of the bytes served (the spider, before extracting);
- warc: `PageArchive.write` of the response (the spider keeps every article page);
- normalize: `normalize_article` (canonical URL, times, content hash);
- fingerprint: `article_fingerprint` (the story MinHash; `Store.save_article` computes it
  first, inside its transaction);
- match: `Matcher.match` with the shipped conflicts (`Outbox.record`, after the
  fingerprint: the normalised body computed for the fingerprint is reused);
- sql: `Store.save_article` given the fingerprint and matches (row, URLs, full-text entry,
  story index, page pointer, matches, alerts; one transaction);
- pipeline: `article_warnings` and a `fetch_errors` row for each (StorePipeline).

Into a copy of the generated archive of bench/archive.py (1,000,000 articles by default,
built and cached on first use), one copy per run so every run starts from the same
archive. The shipped conflicts and subscriptions (data/veille.toml); `[alerts] max_age`
off, because the corpus pages are years old and a live crawl's articles are fresh. Each
part runs once on the first page before the measurement (imports and tables built on first
use are paid once per process, not per article). The
figures are per-article medians over the 130 pages (the median of each part; `total` is
the median of the per-article sums) and means (what a crawl of many pages adds up to).

    python -m bench.article_cost [--size 1000000] [--repeats 3] [--profile out.prof]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from bench import label
from bench.archive import SOURCES, ensure
from bench.corpus import cases
from bench.warc_size import HEADERS
from crawler.config.model import SHIPPED_CONFIG, load_config
from crawler.crawl.items import ArticleItem, NormalizedArticle
from crawler.crawl.normalize import normalize_article
from crawler.crawl.pipelines import article_warnings
from crawler.page.charset import decode_html
from crawler.page.extract import extract_article
from crawler.page.fingerprints import article_fingerprint
from crawler.page.listing import ListingHint
from crawler.record.outbox import Outbox
from crawler.record.pages import PageArchive
from crawler.record.schema import open_database
from crawler.record.store import Store, TextAnalysis
from crawler.record.stories import StoryIndex

PARTS = ("decode", "warc", "normalize", "fingerprint", "match", "sql", "pipeline")
SIZE = 1_000_000


@dataclass(frozen=True)
class Page:
    """A corpus page as a crawl receives it, and its extraction (done once)."""

    name: str
    url: str
    source_id: str
    domains: tuple[str, ...]
    body: bytes
    item: ArticleItem


def _log(message: str) -> None:
    print(f"[article_cost] {message}", file=sys.stderr, flush=True)


def pages() -> list[Page]:
    """The corpus pages, each under a URL of one of the archive's sources, extracted."""
    found = []
    for k, case in enumerate(cases()):
        source = f"s{k % SOURCES:03d}"
        host = f"{source}.example"
        url = f"https://{host}/2026/12/{case.name}.html"
        body = case.html.encode("utf-8")
        html, _ = decode_html(body, "text/html")
        extracted = extract_article(html, url)
        hint = ListingHint(url, "feed", listed_at=datetime.now(UTC).replace(microsecond=0))
        item = ArticleItem(source, hint, url, (), extracted, default_language="fr")
        found.append(Page(case.name, url, source, (host,), body, item))
    if not found:
        raise SystemExit("no corpus pages: ../shared/corpus/readability is missing")
    return found


def _timed(times: dict[str, float], part: str, call: Callable[[], Any]) -> Any:
    started = time.thread_time()
    result = call()
    times[part] = time.thread_time() - started
    return result


def process(page: Page, store: Store, archive: PageArchive) -> dict[str, float]:
    """What a crawl does with one extracted page, each part timed (CPU seconds)."""
    assert store.outbox is not None
    times: dict[str, float] = {}
    item = page.item
    _timed(times, "decode", lambda: decode_html(page.body, "text/html"))
    item.page = _timed(times, "warc", lambda: archive.write(page.url, 200, HEADERS, page.body))
    article = _timed(times, "normalize", lambda: normalize_article(item, page.domains))
    print_ = _timed(times, "fingerprint", lambda: article_fingerprint(article.lead, article.body))
    matcher = store.outbox.matcher
    matches = _timed(times, "match", lambda: matcher.match(
        title=article.title, lead=article.lead, body=article.body, topic=article.topic))
    analysis = TextAnalysis(print_, tuple(matches), matcher.digest)
    _timed(times, "sql", lambda: store.save_article(article, analysis, page=item.page))

    def pipeline() -> None:
        for warning in article_warnings(NormalizedArticle(article, item)):
            store.record_error(None, warning.source_id, warning.url, warning.kind,
                               warning.message, warning.level)

    _timed(times, "pipeline", pipeline)
    return times


def _warm_up(page: Page, store: Store, archive: PageArchive) -> None:
    """Every part but the SQL once, unmeasured: what a process pays once (imports, tables
    built on first use) is not a cost per article."""
    assert store.outbox is not None
    decode_html(page.body, "text/html")
    archive.write(page.url, 200, HEADERS, page.body)
    article = normalize_article(page.item, page.domains)
    article_fingerprint(article.lead, article.body)
    store.outbox.matcher.match(title=article.title, lead=article.lead, body=article.body,
                               topic=article.topic)


def _store(path: Path) -> Store:
    """The store a crawl opens; the archive copy gets the migrations written since it was
    generated (not measured)."""
    config = load_config(SHIPPED_CONFIG)
    outbox = Outbox(config.conflicts, config.subscriptions, None,
                    update_threshold=config.stories.update_threshold)
    db = open_database(path)
    _catch_up(db, path.parent / "fresh.db")
    return Store(db, outbox=outbox, stories=StoryIndex(config.stories))


def _catch_up(db: sqlite_utils.Database, scratch: Path) -> None:
    """Give an archive copy what a fresh database has and it lacks: the archive may have
    been generated under an earlier draft of a migration it counts as applied."""
    fresh = open_database(scratch)
    for table in fresh.table_names():
        if table not in db.table_names():
            db.execute(fresh[table].schema)
            continue
        have = {c.name for c in db[table].columns}
        for column in fresh.execute(f"PRAGMA table_info([{table}])").fetchall():
            _, name, kind, not_null, default, _ = column
            if name not in have:
                _log(f"archive copy: column {table}.{name} added (a later draft of its migration)")
                db.execute(f"ALTER TABLE [{table}] ADD COLUMN [{name}] {kind}"
                           + (f" NOT NULL DEFAULT {default}" if not_null else ""))
    ours = {row[0]: row[1] for row in db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type IN ('index', 'trigger', 'view') "
        "AND sql IS NOT NULL")}
    for kind, name, sql in fresh.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE type IN ('view', 'index', 'trigger') "
            "AND sql IS NOT NULL ORDER BY type = 'view' DESC"):
        if ours.get(name) != sql:
            _log(f"archive copy: {kind} {name} brought up to date")
            db.execute(f"DROP {kind.upper()} IF EXISTS [{name}]")
            db.execute(sql)
    fresh.close()


def one_run(archive_db: Path, corpus: list[Page], profile: cProfile.Profile | None = None,
            ) -> list[dict[str, float]]:
    """Every corpus page through a fresh copy of the archive."""
    with tempfile.TemporaryDirectory(prefix="veille-article-cost-",
                                     dir=archive_db.parent) as tmp:
        copy = Path(tmp) / "archive.db"
        started = time.monotonic()
        shutil.copyfile(archive_db, copy)
        _log(f"archive copied in {time.monotonic() - started:.0f} s")
        started = time.monotonic()
        with _store(copy) as store:
            _log(f"opened (migrated) in {time.monotonic() - started:.0f} s")
            warcs = PageArchive(Path(tmp) / "pages")
            _warm_up(corpus[0], store, warcs)
            rows = []
            if profile is not None:
                profile.enable()
            for page in corpus:
                rows.append(process(page, store, warcs))
            if profile is not None:
                profile.disable()
        return rows


def summary(runs: list[list[dict[str, float]]]) -> dict[str, float]:
    """Per-article figures in ms: each part's median and mean, the total's, over all runs
    (the run medians' min and max for the total)."""
    rows = [row for run in runs for row in run]
    totals = [sum(row.values()) for row in rows]
    run_medians = [statistics.median(sum(r.values()) for r in run) for run in runs]
    figures = {"total_ms": statistics.median(totals) * 1000,
               "min_s": min(run_medians) * 1000, "max_s": max(run_medians) * 1000,
               "runs": len(runs), "total_mean_ms": statistics.mean(totals) * 1000,
               "total_p90_ms": sorted(totals)[int(0.9 * len(totals))] * 1000}
    for part in PARTS:
        figures[f"{part}_ms"] = statistics.median(r[part] for r in rows) * 1000
    for part in PARTS:
        figures[f"{part}_mean_ms"] = statistics.mean(r[part] for r in rows) * 1000
    figures["articles"] = len(rows) / len(runs)
    return figures


def run(repeats: int = 3, size: int = SIZE, profile: str | None = None) -> dict[str, float]:
    started = time.monotonic()
    archive_db, meta = ensure(size)
    _log(f"{label(size)} archive ready in {time.monotonic() - started:.0f} s "
         f"(built in {meta['build_s']:.0f} s when it was made)")
    corpus = pages()
    profiler = cProfile.Profile() if profile else None
    runs = [one_run(archive_db, corpus, profiler) for _ in range(repeats)]
    if profiler is not None and profile:
        profiler.dump_stats(profile)
        _log(f"profile of the measured part: {profile}")
    figures = summary(runs)
    figures["stored"] = size
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.article_cost",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=SIZE, help="articles stored beforehand")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", help="write a cProfile of the measured calls here")
    args = parser.parse_args()
    figures = run(args.repeats, args.size, args.profile)
    print(json.dumps(figures, indent=2))
    parts = " + ".join(f"{p} {figures[f'{p}_mean_ms']:.2f}" for p in PARTS)
    print(f"{figures['total_ms']:.2f} ms CPU per article (median; mean "
          f"{figures['total_mean_ms']:.2f} = {parts}) with {label(args.size)} stored",
          file=sys.stderr)


if __name__ == "__main__":
    main()
