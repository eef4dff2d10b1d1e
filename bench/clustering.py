"""Story clustering at scale: the cost of `StoryIndex.assign` per new article, and the memory
and disk the index takes, with 10,000, 100,000 and 1,000,000 articles already stored.

The stored articles are generated straight into SQLite (cached under bench/results/clustering/):
synthetic texts of 200-600 words drawn from a Zipf vocabulary with stock phrases and hot topics,
10% of them edited copies of an earlier article. Their fingerprints are real MinHash signatures
of those texts (`crawler.page.fingerprints.fingerprint`, as a crawl computes them), so band
collisions between unrelated texts happen as they would.
The measured path is the real one: `StoryIndex.assign` on 200 new texts (half new stories, half
edited copies of stored articles) in a fresh process, inside a transaction rolled back at the end,
once with the file evicted from the OS cache ("cold") and then warm. Article rows carry a title
but no lead or body, so the file's size per article leaves out the text and its full-text index.

    python -m bench.clustering --sizes 10000,100000
"""

from __future__ import annotations

import argparse
import calendar
import hashlib
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import RESULTS as BENCH_RESULTS
from bench import label as _label
from crawler.page import fingerprints
from crawler.record import stories
from crawler.record.schema import connect, open_database

RESULTS = BENCH_RESULTS / "clustering"
SIZES = (10_000, 100_000, 1_000_000)
QUERIES = 200
GENERATOR = 3  # bump when the corpus changes: cached databases are keyed by it
SEED = 20261124
NOW = "2026-11-24T12:00:00Z"
SPREAD_DAYS = 29.0  # stored articles are indexed over this much of the 30-day window
COPY_SHARE = 0.10
SOURCES = 40
VOCABULARY, STOCK_PHRASES, TOPICS, TOPIC_WORDS, TOPIC_PHRASES = 50_000, 2_000, 500, 30, 15
CHUNK = 5_000
INDEX_TABLES = ("story_bands", "story_bands_article", "article_fingerprints",
                "idx_article_fingerprints_indexed_at")


def _log(message: str) -> None:
    print(f"[clustering] {message}", file=sys.stderr, flush=True)


# -- the synthetic corpus ----------------------------------------------------------------------

class Corpus:
    """Deterministic news-like texts: article `i` is always the same words."""

    def __init__(self) -> None:
        rng = np.random.default_rng(SEED)
        syllables = [c + v for c in "bcdfgjklmnprstvz" for v in "aeiou"] + list("aeiou")
        words: dict[str, None] = {}
        while len(words) < VOCABULARY:
            for parts in rng.integers(0, len(syllables), (VOCABULARY, 4)):
                words.setdefault("".join(syllables[p] for p in parts[:1 + parts[0] % 4]))
        self.words = np.array(list(words)[:VOCABULARY], dtype=object)
        weights = 1.0 / (np.arange(VOCABULARY) + 2.7)  # Zipf-Mandelbrot, as in running text
        self.cdf = np.cumsum(weights) / weights.sum()
        self.stock = [self.draw(rng, int(rng.integers(3, 7)), top=3000)
                      for _ in range(STOCK_PHRASES)]
        # Flattened so the commonest stock phrase is in about 6% of articles, and the
        # hottest topic has about 4% of them: boilerplate shingles make LSH buckets grow.
        stock_weights = 1.0 / (np.arange(STOCK_PHRASES) + 20)
        self.stock_cdf = np.cumsum(stock_weights) / stock_weights.sum()
        topic_weights = 1.0 / (np.arange(TOPICS) + 5)
        self.topic_cdf = np.cumsum(topic_weights) / topic_weights.sum()
        self.topic_words = rng.integers(2000, VOCABULARY, (TOPICS, TOPIC_WORDS))
        self.topic_phrases = [
            [np.where(rng.random(k) < 0.6, rng.choice(self.topic_words[t], k),
                      self.draw(rng, k, top=500)) for k in rng.integers(2, 6, TOPIC_PHRASES)]
            for t in range(TOPICS)
        ]

    def draw(self, rng: np.random.Generator, k: int, top: int = VOCABULARY) -> np.ndarray:
        ids = np.searchsorted(self.cdf, rng.random(k) * self.cdf[top - 1])
        return np.minimum(ids, VOCABULARY - 1)

    def story(self, rng: np.random.Generator) -> np.ndarray:
        """A new story: sentences of Zipf words, stock phrases and its topic's names."""
        length = int(rng.integers(200, 601))
        topic = min(int(np.searchsorted(self.topic_cdf, rng.random())), TOPICS - 1)
        words = self.draw(rng, length)
        names = rng.random(length) < 0.12
        words[names] = rng.choice(self.topic_words[topic], int(names.sum()))
        starts = np.cumsum(rng.integers(8, 31, length // 8))
        starts = starts[starts < length]
        stock = starts[rng.random(len(starts)) < 0.35]
        stock_ids = np.searchsorted(self.stock_cdf, rng.random(len(stock)))
        inner = starts[rng.random(len(starts)) < 0.4]
        inner = inner + rng.integers(0, 8, len(inner))
        phrases = ([self.stock[min(k, STOCK_PHRASES - 1)] for k in stock_ids]
                   + [self.topic_phrases[topic][k]
                      for k in rng.integers(0, TOPIC_PHRASES, len(inner))])
        at = np.concatenate([stock, inner])
        order = np.argsort(at, kind="stable")
        pieces = np.split(words, at[order])
        out = [pieces[0]]
        for k, piece in zip(order, pieces[1:], strict=True):
            out += [phrases[k], piece]
        return np.concatenate(out)[:length]

    def copy(self, original: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A reprint: first paragraph rewritten, end cut, a few words changed, links added."""
        words = original.copy()
        intro = int(rng.integers(15, 50))
        words[:intro] = self.draw(rng, intro)
        words = words[:max(intro + 60, int(len(words) * rng.uniform(0.6, 1.0)))]
        changed = rng.random(len(words)) < 0.015
        words[changed] = self.draw(rng, int(changed.sum()))
        return np.concatenate([words, self.draw(rng, int(rng.integers(0, 30)))])

    def plan(self, i: int) -> tuple[int, int]:
        """(source index, index of the article it copies or -1) of stored article `i`."""
        rng = np.random.default_rng([SEED, i, 0])
        source = int(rng.integers(SOURCES))
        if i < 1000 or rng.random() >= COPY_SHARE:
            return source, -1
        parent = i - int(rng.integers(1, min(i, 3000)))  # reprinted within hours or days
        while self.plan(parent)[1] >= 0:  # the first 1000 are all originals
            parent -= 1
        return source, parent

    def stored(self, i: int) -> tuple[np.ndarray, int, int]:
        """(words, source index, story = index of the original) of stored article `i`."""
        source, parent = self.plan(i)
        if parent < 0:
            return self.story(np.random.default_rng([SEED, i, 1])), source, i
        original = self.story(np.random.default_rng([SEED, parent, 1]))
        return self.copy(original, np.random.default_rng([SEED, i, 2])), source, parent

    def text(self, words: np.ndarray) -> str:
        return " ".join(self.words[words].tolist())


# -- building a database -------------------------------------------------------------------

_CORPUS: Corpus | None = None


def _worker_init() -> None:
    global _CORPUS
    _CORPUS = Corpus()


def _chunk(bounds: tuple[int, int, int]) -> dict:
    """Rows of stored articles [start, stop) out of n: texts, signatures and band keys."""
    start, stop, n = bounds
    corpus = _CORPUS or Corpus()
    end = calendar.timegm(time.strptime(NOW, "%Y-%m-%dT%H:%M:%SZ")) - 60
    rows: dict[str, list] = {"articles": [], "stories": [], "copies": [], "prints": [],
                             "bands": []}
    for i in range(start, stop):
        words, source, story = corpus.stored(i)
        text = corpus.text(words)
        print_ = fingerprints.fingerprint(text)
        assert print_ is not None
        signature, size = print_.signature, print_.size
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                           time.gmtime(end - SPREAD_DAYS * 86400 * (1 - i / n)))
        title = " ".join(text.split()[:8]).capitalize()
        rows["articles"].append((i + 1, f"https://s{source}.example/{i}", f"s{source}", title,
                                 hashlib.sha256(text.encode()).hexdigest(), len(words), at, at,
                                 story + 1))
        if story == i:
            rows["stories"].append((i + 1, title, i + 1, at, at))
        else:
            rows["copies"].append((at, story + 1))
        rows["prints"].append((i + 1, size, signature.tobytes(), at))
        rows["bands"].extend((key, i + 1) for key in print_.bands())
    return rows


def _dbstat(db) -> dict[str, int]:
    return {name: size for name, size in db.execute(
        "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()}


def build(n: int, path: Path) -> dict:
    """Generate a database of `n` stored articles at `path` (two processes make the rows)."""
    started = time.perf_counter()
    partial = path.with_suffix(".partial")
    for leftover in path.parent.glob(partial.name + "*"):
        leftover.unlink()
    open_database(partial).close()
    db = connect(partial)
    # A partial file is thrown away if the build dies: no journal, no fsync, a big cache.
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -1000000")
    conn = db.conn
    with conn:
        conn.executemany("INSERT INTO sources (id, name, kind, url, added_at) "
                         "VALUES (?, ?, 'feed', ?, ?)",
                         [(f"s{k}", f"Source {k}", f"https://s{k}.example/feed", NOW)
                          for k in range(SOURCES)])
    chunks = [(start, min(start + CHUNK, n), n) for start in range(0, n, CHUNK)]
    workers = max(1, min(len(chunks), os.cpu_count() or 1))
    with multiprocessing.Pool(workers, initializer=_worker_init) as pool:
        for done, rows in enumerate(pool.imap(_chunk, chunks), 1):
            with conn:
                conn.executemany(
                    "INSERT INTO articles (id, canonical_url, source_id, title, content_hash, "
                    "word_count, first_seen_at, last_seen_at, story_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows["articles"])
                conn.executemany(
                    "INSERT INTO stories (id, title, first_article_id, first_seen_at, "
                    "last_seen_at, articles, sources) VALUES (?, ?, ?, ?, ?, 1, 1)",
                    rows["stories"])
                conn.executemany("UPDATE stories SET articles = articles + 1, last_seen_at = ?,"
                                 " sources = sources + 1 WHERE id = ?", rows["copies"])
                conn.executemany(
                    "INSERT INTO article_fingerprints (article_id, size, signature, indexed_at) "
                    "VALUES (?, ?, ?, ?)", rows["prints"])
                conn.executemany("INSERT OR IGNORE INTO story_bands (band_key, article_id) "
                                 "VALUES (?, ?)", rows["bands"])
            if done % 10 == 0 or done == len(chunks):
                elapsed = time.perf_counter() - started
                _log(f"{_label(n)}: {done * CHUNK if done < len(chunks) else n:,} articles "
                     f"stored in {elapsed:.0f} s")
    build_s = time.perf_counter() - started
    _log(f"{_label(n)}: measuring the file (dbstat)")
    tables = _dbstat(db)
    db.execute("PRAGMA journal_mode = WAL")  # as the crawler leaves it
    db.close()
    partial.rename(path)
    for leftover in path.parent.glob(partial.name + "*"):
        leftover.unlink()
    info = {"articles": n, "generator": GENERATOR, "build_s": build_s,
            "file_bytes": path.stat().st_size, "tables": tables}
    path.with_suffix(".json").write_text(json.dumps(info, indent=2))
    return info


def database(n: int) -> tuple[Path, dict]:
    """The cached database of `n` articles, built first if missing."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"stories-{_label(n)}-g{GENERATOR}.db"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        return path, json.loads(meta.read_text())
    free = os.statvfs(RESULTS).f_bavail * os.statvfs(RESULTS).f_frsize
    if free < n * 4000:
        raise SystemExit(f"{free / 1e9:.1f} GB free under {RESULTS}: not enough for {n:,} "
                         f"articles (about {n * 3000 / 1e9:.1f} GB)")
    _log(f"building {path.name} ({n:,} articles)")
    return path, build(n, path)


# -- measuring -----------------------------------------------------------------------------

def queries(n: int) -> list[dict]:
    """Texts to assign: half new stories, half edited copies of stored articles."""
    corpus = Corpus()
    rng = np.random.default_rng([SEED, n, 3])
    out = []
    for k in range(QUERIES):
        if k % 2 == 0:
            words = corpus.story(np.random.default_rng([SEED + 1, k]))
            out.append({"text": corpus.text(words), "expected": None})
        else:
            original, _, story = corpus.stored(int(rng.integers(n)))
            words = corpus.copy(original, np.random.default_rng([SEED + 2, k]))
            out.append({"text": corpus.text(words), "expected": story + 1})
    return out


def _peak_rss_mb() -> float:
    """This process's peak RSS. Not ru_maxrss: Linux carries that over from the parent's
    memory across fork and exec, so a small child of a big parent would report the parent."""
    status = Path("/proc/self/status").read_text()
    if "VmHWM:" not in status:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def measure(path: str, queries_path: str) -> dict:
    """In a fresh process: assign the queries with the crawler's code and connection."""
    baseline_mb = _peak_rss_mb()
    items = json.loads(Path(queries_path).read_text())
    db = connect(path)
    pragmas = {p: db.execute(f"PRAGMA {p}").fetchone()[0]
               for p in ("cache_size", "page_size", "mmap_size")}
    index = stories.StoryIndex()

    def assign_all() -> list[tuple[float, float, int, bool, int]]:
        results = []
        db.execute("BEGIN")
        for k, item in enumerate(items):
            article_id = int(db.execute(
                "INSERT INTO articles (canonical_url, source_id, content_hash, first_seen_at) "
                "VALUES (?, 's0', ?, ?)", [f"https://q.example/{k}", f"q{k}", NOW]).lastrowid)
            before = calls[0]
            t0 = time.perf_counter()
            fingerprints.fingerprint(item["text"])
            t1 = time.perf_counter()
            story_id, joined = index.assign(db, article_id, item["text"], None, NOW)
            t2 = time.perf_counter()
            results.append((t2 - t1, t1 - t0, story_id, joined, calls[0] - before))
        db.conn.rollback()
        return results

    calls = [0]
    results = assign_all()
    peak_mb = _peak_rss_mb()
    containment = fingerprints.Fingerprint.containment

    def counted(self, other):  # one call per candidate row the band lookup returned
        calls[0] += 1
        return containment(self, other)

    fingerprints.Fingerprint.containment = counted  # a second pass, so timings are unaffected
    candidates = [r[4] for r in assign_all()]
    assign_ms = [r[0] * 1e3 for r in results]
    copies = [(r, item) for r, item in zip(results, items, strict=True) if item["expected"]]
    fresh = [r for r, item in zip(results, items, strict=True) if not item["expected"]]
    return {
        "ms_median": statistics.median(assign_ms),
        "ms_p95": statistics.quantiles(assign_ms, n=20)[18],
        "fingerprint_ms": statistics.median(r[1] * 1e3 for r in results),
        "db_ms": statistics.median((r[0] - r[1]) * 1e3 for r in results),
        "ms_max": max(assign_ms),
        "candidates": statistics.mean(candidates), "candidates_max": max(candidates),
        "slowest_candidates": candidates[assign_ms.index(max(assign_ms))],
        "copies_found": sum(r[2] == item["expected"] for r, item in copies) / len(copies),
        "false_joins": sum(r[3] for r in fresh) / len(fresh),
        "baseline_rss_mb": baseline_mb, "peak_rss_mb": peak_mb, **pragmas,
    }


def _evict(path: Path) -> None:
    """Drop the file's pages from the OS cache: the next process reads it from disk."""
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if name.exists():
            fd = os.open(name, os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)


def _child(path: Path, queries_path: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.clustering", "--measure", str(path),
                          "--queries", str(queries_path)],
                         check=True, capture_output=True, text=True,
                         cwd=Path(__file__).parent.parent)
    return json.loads(out.stdout)


def run_size(n: int, repeats: int) -> dict:
    path, info = database(n)
    with tempfile.TemporaryDirectory() as tmp:
        queries_path = Path(tmp) / "queries.json"
        queries_path.write_text(json.dumps(queries(n)))
        _evict(path)
        cold = _child(path, queries_path)
        runs = [_child(path, queries_path) for _ in range(repeats)]
    best = sorted(runs, key=lambda r: r["ms_median"])[len(runs) // 2]
    tables = info["tables"]
    return {**best, "cold_ms_median": cold["ms_median"], "cold_ms_p95": cold["ms_p95"],
            "run_ms": [r["ms_median"] for r in runs], "build_s": info["build_s"],
            "db_bytes_per_article": info["file_bytes"] / n,
            "index_bytes_per_article": sum(tables.get(t, 0) for t in INDEX_TABLES) / n,
            "bands_bytes_per_article": (tables.get("story_bands", 0)
                                        + tables.get("story_bands_article", 0)) / n,
            "index_share": sum(tables.get(t, 0) for t in INDEX_TABLES) / sum(tables.values())}


def run_sizes(repeats: int, sizes: tuple[int, ...]) -> dict[str, dict]:
    figures: dict[str, dict] = {}
    for n in sorted(sizes):
        figures[_label(n)] = run_size(n, repeats)
        _log(f"{_label(n)}: {figures[_label(n)]['ms_median']:.2f} ms per article")
    return figures


def run(repeats: int = 3, sizes: tuple[int, ...] = SIZES) -> dict:
    """`python -m bench clustering`: the largest size's figure first (seconds per 1,000
    articles, that is ms per article), then every size's."""
    return flatten(run_sizes(repeats, sizes), repeats)


def flatten(figures: dict[str, dict], repeats: int) -> dict:
    top = figures[list(figures)[-1]]
    result: dict = {"s_per_1k_articles": top["ms_median"], "min_s": min(top["run_ms"]),
                    "max_s": max(top["run_ms"]), "runs": repeats}
    for label, f in figures.items():
        for key in ("ms_median", "ms_p95", "ms_max", "cold_ms_median", "fingerprint_ms",
                    "db_ms", "candidates", "candidates_max", "peak_rss_mb", "db_bytes_per_article",
                    "index_bytes_per_article", "build_s"):
            result[f"{key}_{label}"] = f[key]
    result["copies_found"] = min(f["copies_found"] for f in figures.values())
    result["false_joins"] = max(f["false_joins"] for f in figures.values())
    return result


def table(details: dict[str, dict]) -> str:
    columns = ("ms_median", "ms_p95", "ms_max", "cold_ms_median", "cold_ms_p95",
               "fingerprint_ms", "db_ms", "candidates", "candidates_max", "slowest_candidates",
               "baseline_rss_mb", "peak_rss_mb", "db_bytes_per_article",
               "index_bytes_per_article", "bands_bytes_per_article", "index_share", "build_s",
               "copies_found", "false_joins")
    lines = [f"{'':<24}" + "".join(f"{label:>12}" for label in details)]
    lines += [f"{c:<24}" + "".join(f"{f[c]:>12.3g}" for f in details.values()) for c in columns]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.clustering", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="stored-article counts, comma-separated (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="measuring processes per size")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--queries", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.queries)))
        return
    figures = run_sizes(args.repeats, tuple(int(s) for s in args.sizes.split(",")))
    print(table(figures))
    out = RESULTS / f"clustering-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"summary": flatten(figures, args.repeats), "sizes": figures},
                              indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
