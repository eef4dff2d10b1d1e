"""Archive growth: the time to store one article (`Store.save_article`: row, URLs, full-text
entry, conflict matching with the shipped conflicts, alert outbox, story assignment) and to
run a full-text search, with 10,000, 100,000 and 1,000,000 articles stored; and the
database size per article.

The stored articles are generated straight into SQLite (cached under bench/results/archive/,
keyed by size and generator version): texts of 300 to 900 words drawn from a Zipf vocabulary
(the French words of bench/sites.py, then 60,000 made-up words), a third of them about a
place (conflict places among them), at 3,000 articles a day (100 sources), each with its
URLs, story, MinHash fingerprint and 28 LSH band rows (random signatures: the clustering
benchmark measures band collisions; kept, as a crawl keeps them, for the story window only),
its conflict matches and, for the followed conflict, a sent alert. The bulk load drops the
tables' indexes and triggers, inserts in id order, recreates them and rebuilds the FTS index
in one pass (a crawl fills it article by article through the triggers; a rebuilt index has
fewer segments, so searches here are if anything faster).

    python -m bench.archive --sizes 10000,100000 --build-only
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from bench import RESULTS as BENCH_RESULTS
from bench import label as _label
from bench.sites import PLACES, WORDS
from crawler.clock import stamp, utc_now
from crawler.config.model import SHIPPED_CONFIG, Source, StorySettings, load_config
from crawler.crawl.normalize import content_hash
from crawler.page.fingerprints import BANDS, NUM_PERM
from crawler.record.article import StoredArticle
from crawler.record.outbox import Outbox, sync_alerting
from crawler.record.schema import connect, fill_recent_search, open_database
from crawler.record.store import Store
from crawler.record.stories import StoryIndex

RESULTS = BENCH_RESULTS / "archive"
SIZES = (10_000, 100_000, 1_000_000)
GENERATOR = 1  # bump when the generated data changes: cached databases are keyed by it
SEED = 20261124
SOURCES = 100
PER_DAY = 3_000
CHUNK = 20_000
PSEUDO_WORDS = 60_000
PLACE_SHARE = 0.35
STORE_SAMPLES = 200
SEARCH_RUNS = 5
# Places that are aliases of a shipped conflict (data/veille.toml).
PLACE_CONFLICTS = {
    "Karabakh": "karabakh", "Stepanakert": "karabakh", "Kharkiv": "ukraine",
    "Kherson": "ukraine", "Darfour": "sudan", "Omdurman": "sudan", "Gaza": "gaza",
    "Rafah": "gaza", "Alep": "syria", "Idleb": "syria", "Bamako": "sahel", "Niamey": "sahel",
    "Goma": "drc", "Bunia": "drc", "Mogadiscio": "somalia", "Benghazi": "libya",
}
FOLLOWED = "karabakh"  # the shipped subscription (caucasus-desk) follows this one
# Full-text queries a journalist might type: a conflict place (~1.6 % of articles), a
# common word (~40 %), two words together, a phrase, and a rare word.
QUERIES = ("Stepanakert", "gouvernement", "Darfour humanitaire", '"aide humanitaire"', None)
# What the README's search does, ranked (the query), and Datasette's table search
# (newest first, as data/datasette/metadata.yaml sorts articles).
RANKED_SQL = (
    "SELECT a.id, a.title, a.published_at, a.source_id FROM articles_fts "
    "JOIN articles a ON a.id = articles_fts.rowid WHERE articles_fts MATCH ? "
    "ORDER BY rank LIMIT 20"
)
NEWEST_SQL = (
    "SELECT id, title, published_at, source_id FROM articles WHERE rowid IN "
    "(SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?) "
    "ORDER BY published_at DESC LIMIT 51"
)
# Newest first by id (ids grow with time) inside the FTS query: FTS5 walks its matches in
# descending rowid order and stops after 20, whatever the number of matches.
ROWID_SQL = (
    "SELECT a.id, a.title, a.published_at, a.source_id FROM articles a JOIN "
    "(SELECT rowid FROM articles_fts WHERE articles_fts MATCH ? ORDER BY rowid DESC LIMIT 20) f "
    "ON a.id = f.rowid ORDER BY a.id DESC"
)
SEARCHES = {"ranked": RANKED_SQL, "newest": NEWEST_SQL, "rowid": ROWID_SQL}
BULK_TABLES = ("articles", "article_urls", "stories", "article_fingerprints", "story_bands",
               "article_conflicts", "alerts")


def _log(message: str) -> None:
    print(f"[archive] {message}", file=sys.stderr, flush=True)


def db_file(n: int) -> Path:
    return RESULTS / f"archive-{_label(n)}-g{GENERATOR}.db"


# -- the synthetic archive -----------------------------------------------------------------

class Corpus:
    """A Zipf vocabulary: the word list first (the commonest words), then made-up words."""

    def __init__(self) -> None:
        rng = np.random.default_rng(SEED)
        syllables = [c + v for c in "bcdfgjklmnprstvz" for v in "aeiou"]
        made: dict[str, None] = {}
        known = set(WORDS)
        while len(made) < PSEUDO_WORDS:
            for parts in rng.integers(0, len(syllables), (PSEUDO_WORDS, 5)):
                word = "".join(syllables[p] for p in parts[:2 + parts[0] % 4])
                if word not in known:
                    made.setdefault(word)
        words = list(dict.fromkeys(WORDS)) + list(made)[:PSEUDO_WORDS]
        self.words = np.array(words + list(PLACES), dtype=object)
        self.vocabulary = len(words)
        weights = 1.0 / (np.arange(self.vocabulary) + 2.7)
        self.cdf = np.cumsum(weights) / weights.sum()

    @property
    def rare_word(self) -> str:
        return str(self.words[len(WORDS) + 30_000])

    def draw(self, rng: np.random.Generator, k: int) -> np.ndarray:
        return np.minimum(np.searchsorted(self.cdf, rng.random(k)), self.vocabulary - 1)

    def text(self, rng: np.random.Generator, length: int, place: int | None) -> str:
        ids = self.draw(rng, length)
        if place is not None:
            at = rng.integers(0, length, int(rng.integers(2, 7)))
            ids[at] = self.vocabulary + place
        return " ".join(self.words[ids].tolist())


def _articles(corpus: Corpus, rng: np.random.Generator, start: int, count: int, n: int,
              now: datetime):
    """Rows for articles start+1 .. start+count of an archive of n (the last is newest)."""
    for i in range(start + 1, start + count + 1):
        when = now - timedelta(days=(n - i) / PER_DAY)
        place = int(rng.integers(0, len(PLACES))) if rng.random() < PLACE_SHARE else None
        title = corpus.text(rng, int(rng.integers(8, 15)), place)
        lead = corpus.text(rng, int(rng.integers(20, 41)), None)
        body = corpus.text(rng, int(rng.integers(300, 901)), place)
        yield i, when, place, title, lead, body


def partial_file(path: Path) -> Path:
    """Where an archive for `path` is built (moved to `path` by `bulk_publish`), emptied,
    with the real schema."""
    partial = path.with_suffix(".partial")
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    open_database(partial).close()
    return partial


def bulk_open(partial: Path, tables: tuple[str, ...]) -> tuple[sqlite3.Connection, list]:
    """A connection for loading millions of rows: no journal, no fsync, no foreign key
    checks, and the indexes and triggers of `tables` dropped (returned: `bulk_index` makes
    them again once the rows are in)."""
    conn = sqlite3.connect(partial, isolation_level=None)
    for pragma in ("journal_mode = DELETE", "synchronous = OFF", "foreign_keys = OFF",
                   "cache_size = -1000000", "temp_store = MEMORY"):
        conn.execute(f"PRAGMA {pragma}")
    marks = ", ".join("?" * len(tables))
    saved = conn.execute(
        f"SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND "
        f"sql IS NOT NULL AND tbl_name IN ({marks})", tables).fetchall()
    for kind, name, _ in saved:
        conn.execute(f"DROP {kind.upper()} [{name}]")
    return conn, saved


def bulk_index(conn: sqlite3.Connection, saved: list, label: str, started: float) -> None:
    """After a bulk load: the indexes, both full-text indexes built in one pass each, the
    triggers back, and WAL as every Veille database has."""
    for kind, _, sql in saved:
        if kind == "index":
            conn.execute(sql)
    _log(f"{label}: full-text index ({time.monotonic() - started:.0f} s)")
    conn.execute("INSERT INTO articles_fts (articles_fts) VALUES ('rebuild')")
    fill_recent_search(conn)
    for kind, _, sql in saved:
        if kind == "trigger":
            conn.execute(sql)
    conn.execute("PRAGMA journal_mode = WAL")


def bulk_publish(conn: sqlite3.Connection, partial: Path, path: Path) -> None:
    """Close the loaded archive and move it to `path` in one step."""
    conn.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    os.replace(partial, path)
    Path(f"{partial}.lock").unlink(missing_ok=True)


def build(n: int, path: Path) -> dict:
    """Generate an archive of n articles at `path` (through a .partial file)."""
    started = time.monotonic()
    partial = partial_file(path)
    config = load_config(SHIPPED_CONFIG)
    now = datetime.now(UTC).replace(microsecond=0)
    with Store(open_database(partial)) as store:
        store.sync_sources(_sources())
        sync_alerting(store.db, config.conflicts, config.subscriptions,
                      stamp(now - timedelta(days=n / PER_DAY + 1)))
    conn, saved = bulk_open(partial, BULK_TABLES)
    corpus, rng = Corpus(), np.random.default_rng(SEED + n)
    conn.execute("BEGIN")
    for start in range(0, n, CHUNK):
        _insert_chunk(conn, corpus, rng, start, min(CHUNK, n - start), n, now)
        if (start // CHUNK) % 10 == 9:
            _log(f"{_label(n)}: {start + CHUNK:,} articles in {time.monotonic() - started:.0f} s")
    _insert_bands(conn, rng, n)
    conn.execute("COMMIT")
    _log(f"{_label(n)}: rows in {time.monotonic() - started:.0f} s; indexes")
    bulk_index(conn, saved, _label(n), started)
    sizes = dict(conn.execute(
        "SELECT CASE WHEN name LIKE 'articles_fts%' THEN 'fts' WHEN name LIKE '%band%' OR "
        "name LIKE '%fingerprint%' THEN 'stories_index' WHEN name LIKE 'idx_articles_%' OR "
        "name LIKE 'sqlite_autoindex_articles%' THEN 'articles_indexes' WHEN name = 'articles' "
        "THEN 'articles' ELSE 'other' END AS part, sum(pgsize) FROM dbstat GROUP BY part"
    ).fetchall())
    bulk_publish(conn, partial, path)
    meta = {"articles": n, "generator": GENERATOR, "built_at": stamp(now),
            "build_s": round(time.monotonic() - started, 1), "bytes": path.stat().st_size,
            "bytes_by_part": sizes}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2))
    _log(f"{_label(n)}: built in {meta['build_s']:.0f} s, {meta['bytes'] / 2**30:.2f} GiB")
    return meta


def _sources() -> list[Source]:
    return [Source(id=f"s{k:03d}", name=f"Source {k}", kind="topic",
                   url=f"https://s{k:03d}.example/dernieres-infos/") for k in range(SOURCES)]


def _insert_chunk(conn: sqlite3.Connection, corpus: Corpus, rng: np.random.Generator,
                  start: int, count: int, n: int, now: datetime) -> None:
    articles, urls, stories, prints, matches, alerts = [], [], [], [], [], []
    for i, when, place, title, lead, body in _articles(corpus, rng, start, count, n, now):
        at = stamp(when)
        source = f"s{i % SOURCES:03d}"
        url = f"https://{source}.example/2026/{i:08d}-{'-'.join(title.split()[:6])}.html"
        articles.append((
            i, url, source, title, lead, body, json.dumps(["Rédaction"]), "Actualité",
            "International", at, when.isoformat(), None, None, f"{url}.jpg", None, "fr",
            len(body.split()), hashlib.sha256(body.encode()).hexdigest(), 1, at, at, at, i,
        ))
        urls.append((url, i, "canonical", source, at, at, None))
        if i % 5 < 2:
            urls.append((f"{url}?from=listing{i}", i, "listing", source, at, at, at))
        stories.append((i, title, i, at, at, 1, 1))
        prints.append((i, int(rng.integers(200, 900)),
                       rng.integers(0, 2**32, NUM_PERM, dtype=np.uint32).tobytes(), at))
        conflict = PLACE_CONFLICTS.get(PLACES[place]) if place is not None else None
        if conflict:
            matches.append((i, conflict, PLACES[place], "title", '["title", "body"]', 1.0, at))
            if conflict == FOLLOWED:
                alerts.append((uuid.uuid4().hex, "caucasus-desk", i, i, "new",
                               f"new:caucasus-desk:{i}", json.dumps([conflict]), "sent",
                               at, at))
    conn.executemany(f"INSERT INTO articles (id, canonical_url, source_id, title, lead, body, "
                     f"authors, topic, section, published_at, published_local, updated_at, "
                     f"updated_local, image_url, image_caption, language, word_count, "
                     f"content_hash, version, first_seen_at, last_seen_at, last_fetched_at, "
                     f"story_id) VALUES ({', '.join('?' * 23)})", articles)
    conn.executemany("INSERT INTO article_urls (url, article_id, kind, source_id, first_seen_at,"
                     " last_seen_at, listed_at) VALUES (?, ?, ?, ?, ?, ?, ?)", urls)
    conn.executemany("INSERT INTO stories (id, title, first_article_id, first_seen_at, "
                     "last_seen_at, articles, sources) VALUES (?, ?, ?, ?, ?, ?, ?)", stories)
    conn.executemany("INSERT INTO article_fingerprints (article_id, size, signature, "
                     "indexed_at) VALUES (?, ?, ?, ?)", prints)
    conn.executemany("INSERT INTO article_conflicts (article_id, conflict_id, alias, field, "
                     "fields, score, matched_at) VALUES (?, ?, ?, ?, ?, ?, ?)", matches)
    conn.executemany("INSERT INTO alerts (uid, subscription_id, article_id, story_id, kind, "
                     "dedup_key, conflicts, status, created_at, sent_at) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", alerts)


def _insert_bands(conn: sqlite3.Connection, rng: np.random.Generator, n: int) -> None:
    """28 band keys per article, inserted in key order (the table is keyed by band)."""
    ids = np.arange(1, n + 1, dtype=np.int64)
    keys = rng.integers(-2**63, 2**63 - 1, (n, BANDS), dtype=np.int64).ravel()
    order = np.argsort(keys)
    keys, owners = keys[order], np.repeat(ids, BANDS)[order]
    for first in range(0, len(keys), 1_000_000):
        conn.executemany("INSERT INTO story_bands (band_key, article_id) VALUES (?, ?)",
                         zip(keys[first:first + 1_000_000].tolist(),
                             owners[first:first + 1_000_000].tolist(), strict=True))


def ensure(n: int) -> tuple[Path, dict]:
    """The cached archive of n articles, built if missing, as a crawl leaves it."""
    path = db_file(n)
    meta_file = path.with_suffix(".json")
    if path.exists() and meta_file.exists():
        meta = json.loads(meta_file.read_text())
    else:
        _log(f"building the {_label(n)} archive (cached in {path})")
        meta = build(n, path)
    if "bands_pruned" not in meta:
        meta["bands_pruned"] = as_crawled(path)
        meta_file.write_text(json.dumps(meta, indent=2))
    return path, meta


def as_crawled(path: Path) -> dict:
    """Do to the archive what every crawl does first (crawler/crawl/process.py): drop the story
    band rows of articles older than the story window. The bulk load writes band rows for
    every article (28 per article: 28 million at 1,000,000), where a database that has been
    crawled holds them for the window only (30 days at 3,000 articles a day: about 90,000
    articles). Done once per cached archive, by keeping the rows in the window rather than
    deleting the others row by row."""
    started = time.monotonic()
    since = stamp(utc_now() - timedelta(days=StorySettings().window_days))
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        before = conn.execute("SELECT count(*) FROM story_bands").fetchone()[0]
        schema = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' "
                              "AND name = 'story_bands'").fetchone()[0]
        indexes = [row[0] for row in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'story_bands' "
            "AND sql IS NOT NULL")]
        conn.execute("ALTER TABLE story_bands RENAME TO story_bands_all")
        for sql in indexes:  # the index names go with the renamed table: free them
            name = sql.split()[2]
            conn.execute(f"DROP INDEX {name}")
        conn.execute(schema)
        conn.execute("INSERT INTO story_bands (band_key, article_id) SELECT b.band_key, "
                     "b.article_id FROM story_bands_all b JOIN article_fingerprints f "
                     "ON f.article_id = b.article_id WHERE f.indexed_at >= ? "
                     "ORDER BY b.band_key, b.article_id", [since])
        conn.execute("DROP TABLE story_bands_all")
        for sql in indexes:
            conn.execute(sql)
        after = conn.execute("SELECT count(*) FROM story_bands").fetchone()[0]
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    _log(f"story band rows outside the {StorySettings().window_days:g}-day window dropped: "
         f"{before:,} -> {after:,} in {time.monotonic() - started:.0f} s")
    return {"at": since, "rows_before": before, "rows_after": after}


# -- the measurements ----------------------------------------------------------------------

def _new_article(corpus: Corpus, rng: np.random.Generator, k: int, now: datetime) -> StoredArticle:
    place = k % len(PLACES) if k % 3 == 0 else None
    title = corpus.text(rng, 10, place)
    lead = corpus.text(rng, 30, None)
    body = corpus.text(rng, int(rng.integers(300, 901)), place)
    url = f"https://s{k % SOURCES:03d}.example/2026/new-{uuid.uuid4().hex}.html"
    return StoredArticle(
        source_id=f"s{k % SOURCES:03d}", canonical_url=url,
        urls=((url, "canonical"), (f"{url}?xtor=RSS", "feed")), title=title, lead=lead,
        body=body, authors=("Rédaction",), topic="Actualité", section="International",
        published_at=stamp(now), published_local=now.isoformat(), updated_at=None,
        updated_local=None, image_url=f"{url}.jpg", image_caption=None, language="fr",
        word_count=len(body.split()), content_hash=content_hash(body),
        listed_url=f"{url}?xtor=RSS", listed_at=stamp(now),
    )


def time_store(path: Path, corpus: Corpus) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds per save_article of STORE_SAMPLES new articles (each its own
    transaction, as in a crawl); the rows are deleted afterwards so the cached archive stays
    as built."""
    config = load_config(SHIPPED_CONFIG)
    outbox = Outbox(config.conflicts, config.subscriptions, config.alerts.max_age_seconds,
                    update_threshold=config.stories.update_threshold)
    rng = np.random.default_rng(SEED - 1)
    now = datetime.now(UTC)
    articles = [_new_article(corpus, rng, k, now) for k in range(STORE_SAMPLES)]
    with Store(connect(path), outbox=outbox, stories=StoryIndex(config.stories)) as store:
        db = store.db
        last_article = db.execute("SELECT max(id) FROM articles").fetchone()[0]
        last_story = db.execute("SELECT max(id) FROM stories").fetchone()[0]
        times, cpu = [], []
        try:
            for article in articles:
                started, started_cpu = time.perf_counter(), time.thread_time()
                store.save_article(article)
                times.append(time.perf_counter() - started)
                cpu.append(time.thread_time() - started_cpu)
        finally:
            with db.atomic():
                for table in ("alerts", "article_conflicts", "story_bands",
                              "article_fingerprints", "article_urls"):
                    db.execute(f"DELETE FROM {table} WHERE article_id > ?", [last_article])
                db.execute("UPDATE articles SET story_id = NULL WHERE id > ?", [last_article])
                db.execute("DELETE FROM stories WHERE id > ?", [last_story])
                db.execute("DELETE FROM articles WHERE id > ?", [last_article])
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return times, cpu


def time_search(path: Path, corpus: Corpus) -> dict[str, dict[str, float]]:
    """Median seconds of each query, ranked and newest-first, on one read connection."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    figures: dict[str, dict[str, float]] = {}
    for query in QUERIES:
        query = query or corpus.rare_word
        row = {}
        for name, sql in SEARCHES.items():
            runs = []
            for _ in range(SEARCH_RUNS):
                started = time.perf_counter()
                conn.execute(sql, [query]).fetchall()
                runs.append(time.perf_counter() - started)
            row[name] = statistics.median(runs)
            row[f"{name}_first"] = runs[0]
        figures[query] = row
    conn.close()
    return figures


def measure(n: int, repeats: int) -> dict:
    path, meta = ensure(n)
    corpus = Corpus()
    store_runs, cpu_runs, search_runs = [], [], []
    for _ in range(repeats):
        times, cpu = time_store(path, corpus)
        store_runs.append(times)
        cpu_runs.append(cpu)
        search_runs.append(time_search(path, corpus))
    every = sorted(t for r in store_runs for t in r)
    figures = {
        "store_ms": statistics.median(statistics.median(r) for r in store_runs) * 1000,
        "store_p95_ms": every[int(len(every) * 0.95)] * 1000,
        "store_cpu_ms": statistics.median(statistics.median(r) for r in cpu_runs) * 1000,
    }
    for name in SEARCHES:
        label = "search" if name == "ranked" else f"search_{name}"
        # Median over the queries of each query's median, and the slowest query.
        figures[f"{label}_ms"] = statistics.median(
            statistics.median(q[name] for q in r.values()) for r in search_runs) * 1000
        figures[f"{label}_worst_ms"] = statistics.median(
            max(q[name] for q in r.values()) for r in search_runs) * 1000
    parts = meta["bytes_by_part"]
    figures.update({
        "bytes_per_article": meta["bytes"] / n,
        "fts_bytes_per_article": parts.get("fts", 0) / n,
        "stories_index_bytes_per_article": parts.get("stories_index", 0) / n,
        "build_s": meta["build_s"],
        "per_query_ms": {q: {name: statistics.median(r[q][name] for r in search_runs) * 1000
                             for name in SEARCHES} for q in search_runs[0]},
    })
    return figures


def run(repeats: int = 3, sizes: tuple[int, ...] = SIZES) -> dict[str, float]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    free = os.statvfs(RESULTS)
    _log(f"{free.f_bavail * free.f_frsize / 2**30:.0f} GiB free for the archives")
    figures = {n: measure(n, repeats) for n in sizes}
    queries = {_label(n): f.pop("per_query_ms") for n, f in figures.items()}
    details = RESULTS / f"search-{time.strftime('%Y%m%d-%H%M%S')}.json"
    details.write_text(json.dumps({"sql": SEARCHES, "median_ms_per_query": queries}, indent=2))
    _log(f"search times per query: {details}")
    top = max(sizes)
    stores = [f["store_ms"] for f in figures.values()]
    # min/max: over the sizes, in ms like the main figure.
    result: dict[str, float] = {f"store_ms_{_label(top)}": figures[top]["store_ms"],
                                "min_s": min(stores), "max_s": max(stores), "runs": repeats}
    for n, f in figures.items():
        for key, value in f.items():
            result[f"{key}_{_label(n)}"] = value
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.archive", description=__doc__)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    sizes = tuple(int(s) for s in args.sizes.split(","))
    if args.build_only:
        for n in sizes:
            ensure(n)
        return
    print(json.dumps(run(args.repeats, sizes), indent=2))


if __name__ == "__main__":
    main()
