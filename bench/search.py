"""Full-text search at 10,000 to 1,000,000 articles: FTS5's ranked search over every match
(`ORDER BY rank`, bm25), and the ranked search Veille serves (the `search` query of
data/datasette/metadata.yaml, `/veille/search?q=...`), run as Datasette runs it.

The archive is the articles of bench/archive.py's generator (same Zipf vocabulary, places
and sizes, 3,000 a day), loaded into the real schema, without the story, URL and alert
rows a search never reads (so it builds in minutes, cached under bench/results/search/).

    python -m bench.search --sizes 10000,100000,1000000
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from datasette.utils import escape_fts

from bench import RESULTS as BENCH_RESULTS
from bench import label as _label
from bench.archive import (
    QUERIES,
    SEED,
    SOURCES,
    Corpus,
    _articles,
    bulk_index,
    bulk_open,
    bulk_publish,
    partial_file,
)
from crawler.clock import stamp
from crawler.record.schema import open_database
from crawler.serve import DATABASE_NAME, load_metadata

RESULTS = BENCH_RESULTS / "search"
SIZES = (10_000, 100_000, 1_000_000)
GENERATOR = 1  # bump when the generated data changes: cached databases are keyed by it
CHUNK = 20_000
RUNS = 7  # per query; the median is kept (the first run, cold, is reported apart)
TOP = 20
# Every match ranked by bm25, the best 20 kept: the query (bench/archive.py's).
FULL_SQL = (
    "SELECT a.id, a.title, a.published_at, a.source_id FROM articles_fts "
    "JOIN articles a ON a.id = articles_fts.rowid WHERE articles_fts MATCH escape_fts(:q) "
    "ORDER BY rank LIMIT 20"
)
# bm25 over the recent index, every match of it ranked (what Veille's search caps at the
# newest 1,000 matches).
WINDOW_SQL = (
    "SELECT rowid FROM articles_recent_fts WHERE articles_recent_fts MATCH escape_fts(:q) "
    "ORDER BY rank LIMIT 20"
)


def served_sql() -> str:
    """The SQL of /veille/search, as the shipped metadata gives it to Datasette."""
    return load_metadata()["databases"][DATABASE_NAME]["queries"]["search"]["sql"]


def _log(message: str) -> None:
    print(f"[search] {message}", file=sys.stderr, flush=True)


def db_file(n: int) -> Path:
    return RESULTS / f"search-{_label(n)}-g{GENERATOR}.db"


def build(n: int, path: Path) -> dict:
    """Generate n articles into the real schema at `path`, then index them in one pass."""
    started = time.monotonic()
    partial = partial_file(path)
    conn, saved = bulk_open(partial, ("articles",))
    conn.executemany("INSERT INTO sources (id, name, kind, url) VALUES (?, ?, 'topic', ?)",
                     [(f"s{k:03d}", f"Source {k}", f"https://s{k:03d}.example/")
                      for k in range(SOURCES)])
    corpus, rng = Corpus(), np.random.default_rng(SEED + n)
    now = datetime.now(UTC).replace(microsecond=0)
    conn.execute("BEGIN")
    for start in range(0, n, CHUNK):
        rows = []
        for i, when, _, title, lead, body in _articles(corpus, rng, start,
                                                       min(CHUNK, n - start), n, now):
            at = stamp(when)
            rows.append((i, f"https://s{i % SOURCES:03d}.example/{i}.html",
                         f"s{i % SOURCES:03d}", title, lead, body, at, "fr",
                         len(body.split()), f"{i:064x}", at, at, i))
        conn.executemany(
            "INSERT INTO articles (id, canonical_url, source_id, title, lead, body, "
            "published_at, language, word_count, content_hash, first_seen_at, last_seen_at, "
            "story_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        if (start // CHUNK) % 10 == 9:
            _log(f"{_label(n)}: {start + CHUNK:,} articles in {time.monotonic() - started:.0f} s")
    conn.execute("COMMIT")
    bulk_index(conn, saved, _label(n), started)
    bulk_publish(conn, partial, path)
    meta = {"articles": n, "generator": GENERATOR, "built_at": stamp(now),
            "build_s": round(time.monotonic() - started, 1), "bytes": path.stat().st_size}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2))
    _log(f"{_label(n)}: built in {meta['build_s']:.0f} s, {meta['bytes'] / 2**30:.2f} GiB")
    return meta


def ensure(n: int) -> Path:
    path = db_file(n)
    if not (path.exists() and path.with_suffix(".json").exists()):
        _log(f"building the {_label(n)} search archive (cached in {path})")
        build(n, path)
    open_database(path).close()  # a cached archive gets the migrations added since
    return path


def _timed(conn: sqlite3.Connection, sql: str, query: str) -> tuple[list[float], list]:
    runs, found = [], []
    for _ in range(RUNS):
        started = time.perf_counter()
        found = conn.execute(sql, {"q": query}).fetchall()
        runs.append(time.perf_counter() - started)
    return runs, found


def measure(n: int) -> dict:
    """Per query: both searches' median and first-run times, the number of matches, and how
    many of Veille's top 20 are among the best 20 of all matches (bm25 over every match)
    and among the best 20 of the recent index's matches (bm25 over all of them)."""
    path = ensure(n)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.create_function("escape_fts", 1, escape_fts)  # as Datasette's connections have it
    served = served_sql()
    corpus = Corpus()
    per_query = {}
    for query in QUERIES:
        query = query or corpus.rare_word
        full_runs, full = _timed(conn, FULL_SQL, query)
        runs, found = _timed(conn, served, query)
        matches = conn.execute("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH "
                               "escape_fts(?)", [query]).fetchone()[0]
        best = {row[0] for row in full}
        window_best = {row[0] for row in conn.execute(WINDOW_SQL, {"q": query})}
        found = found[:TOP]
        per_query[query] = {
            "matches": matches,
            "full_ms": statistics.median(full_runs) * 1000,
            "full_first_ms": full_runs[0] * 1000,
            "veille_ms": statistics.median(runs) * 1000,
            "veille_first_ms": runs[0] * 1000,
            "veille_in_best_20": len({row[0] for row in found} & best),
            "veille_in_window_best_20": len({row[0] for row in found} & window_best),
            "veille_returned": len(found),
        }
        _log(f"{_label(n)} {query!r}: {json.dumps(per_query[query])}")
    conn.close()
    return per_query


def run(repeats: int = 1, sizes: tuple[int, ...] = (1_000_000,)) -> dict[str, float]:
    """The figures of `python -m bench`: Veille's search at the largest size."""
    figures: dict[str, float] = {}
    for n in sizes:
        per_query = measure(n)
        veille = [q["veille_ms"] for q in per_query.values()]
        full = [q["full_ms"] for q in per_query.values()]
        label = _label(n)
        figures[f"median_ms_{label}"] = statistics.median(veille)
        figures[f"worst_ms_{label}"] = max(veille)
        figures[f"full_median_ms_{label}"] = statistics.median(full)
        figures[f"full_worst_ms_{label}"] = max(full)
    key = f"median_ms_{_label(sizes[-1])}"
    return {key: figures.pop(key), "min_s": min(veille) / 1000, "max_s": max(veille) / 1000,
            "runs": RUNS, **figures}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="comma-separated archive sizes")
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    sizes = tuple(int(s) for s in args.sizes.split(","))
    if args.build_only:
        for n in sizes:
            ensure(n)
        return
    results = {_label(n): measure(n) for n in sizes}
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"search-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
