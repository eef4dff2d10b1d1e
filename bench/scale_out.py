"""Scale-out: the cold crawl's 1,000 synthetic articles (20 sources) through the distributed
mode, with 1, 2 and 3 `veille worker --drain` processes and one `veille ingest --drain`, all
started at once after `veille queue` on a fresh database and a fresh Redis key prefix (one
redis-server of our own, no persistence). Per row: wall time until the last worker exits
(articles fetched and extracted per second), wall time until the ingester exits (articles
per second end to end), and CPU seconds of the workers (summed) and of the ingester.

Baseline, "ingester alone": queue, run 3 workers to completion with no ingester, then time
the ingester alone over the filled stream: its own ceiling in articles per second (process
start-up included). The fill run's workers figures are kept as `fill_workers_*`.
"""

from __future__ import annotations

import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from bench.sites import Site, SiteSpec, build_site
from bench.usage import Usage, collect, launch, run_measured, veille

SOURCES = 20
ROWS = ("1 worker", "2 workers", "3 workers", "ingester alone")
COLUMNS = ("articles", "workers_wall_s", "fetch_articles_per_s", "wall_s", "articles_per_s",
           "workers_cpu_s", "ingester_cpu_s")
HEADERS = ("articles", "workers wall s", "art/s fetch+extract", "end-to-end wall s",
           "art/s end-to-end", "worker CPU s", "ingester CPU s")


@contextmanager
def redis_server():
    """A redis-server of our own on a free port; yields its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind",
                             "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        seen = []
        for line in proc.stdout:  # type: ignore[union-attr]
            seen.append(line)
            if "Ready to accept connections" in line:
                break
        else:
            raise RuntimeError(f"redis-server did not start:\n{''.join(seen[-20:])}")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run_together(commands: list[list[str]], workdir: Path) -> list[Usage]:
    """Start every command at once and wait for all; each one's wall time runs from the
    common start to its own exit. Fails if one exits non-zero."""
    runs = []
    started = time.monotonic()
    for i, command in enumerate(commands):
        log = workdir / f"{time.monotonic_ns()}-{i}.log"
        with open(log, "wb") as out:
            proc = launch(command, f"{log}.json", stdout=out, stderr=subprocess.STDOUT)
        runs.append((command, proc, log))

    def wait(run: tuple) -> float:
        run[1].wait()
        return time.monotonic() - started

    with ThreadPoolExecutor(len(runs)) as pool:
        walls = list(pool.map(wait, runs))
    return [collect(command, f"{log}.json", wall, log.read_text(errors="replace"))
            for (command, _, log), wall in zip(runs, walls, strict=True)]


def measure(site: Site, origin: str, redis_url: str, workdir: Path, row: str) -> dict:
    name = row.replace(" ", "-")
    config = site.write_config(workdir / f"{name}.toml", origin, obey_robots=False, extra=(
        f'[redis]\nurl = "{redis_url}"\nprefix = "bench-{name}-{time.monotonic_ns()}"\n'
        'worker_timeout = "5s"\n'))
    db = workdir / f"{name}.db"
    queued = run_measured(veille(config, db, "queue")).stdout.splitlines()
    if len(queued) != len(site.sources) or not all("queued" in line for line in queued):
        raise RuntimeError(f"veille queue did not queue every source: {queued}")
    worker = veille(config, db, "worker", "--drain", "--log-level", "WARNING")
    ingest = veille(config, db, "ingest", "--drain", "--log-level", "WARNING")
    n = len(site.article_paths)
    if row == "ingester alone":
        fill = run_together([worker] * 3, workdir)
        [ingester] = run_together([ingest], workdir)
        figures = {"articles": n, "wall_s": ingester.wall_s, "articles_per_s": n / ingester.wall_s,
                   "ingester_cpu_s": ingester.cpu_s,
                   "fill_workers_wall_s": max(u.wall_s for u in fill),
                   "fill_workers_cpu_s": sum(u.cpu_s for u in fill)}
    else:
        *workers, ingester = run_together([worker] * int(row[0]) + [ingest], workdir)
        workers_wall = max(u.wall_s for u in workers)
        figures = {"articles": n, "workers_wall_s": workers_wall,
                   "fetch_articles_per_s": n / workers_wall, "wall_s": ingester.wall_s,
                   "articles_per_s": n / ingester.wall_s,
                   "workers_cpu_s": sum(u.cpu_s for u in workers),
                   "ingester_cpu_s": ingester.cpu_s}
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        errors = conn.execute("SELECT count(*) FROM fetch_errors").fetchone()[0]
    summary = ingester.stdout.strip().splitlines()[-1:]
    if stored != n or errors or not summary or not summary[0].startswith(f"ingested {n} "):
        raise RuntimeError(f"{row}: the database holds {stored} of {n} articles, {errors} "
                           f"fetch errors; the ingester said: {ingester.stdout[-1000:]}")
    return figures


def table(rows: dict[str, dict]) -> str:
    widths = [max(len(h), 8) for h in HEADERS]
    lines = [f"{'':<16}" + " ".join(f"{h:>{w}}" for h, w in zip(HEADERS, widths, strict=True))]
    for row, figures in rows.items():
        cells = [f"{figures[c]:>{w}.4g}" if c in figures else f"{'-':>{w}}"
                 for c, w in zip(COLUMNS, widths, strict=True)]
        lines.append(f"{row:<16}" + " ".join(cells))
    return "\n".join(lines)


def run(repeats: int = 3, articles: int = 1000) -> dict[str, float]:
    runs: dict[str, list[dict]] = {row: [] for row in ROWS}
    with tempfile.TemporaryDirectory(prefix="veille-scale-") as tmp, redis_server() as url:
        site = build_site(SiteSpec(sources=SOURCES, articles=max(1, articles // SOURCES)),
                          Path(tmp))
        with site.server() as server:
            for i in range(repeats):
                workdir = Path(tmp) / f"run-{i}"
                workdir.mkdir()
                for row in ROWS:
                    runs[row].append(measure(site, server.origin, url, workdir, row))
    rows = {row: {k: statistics.median(r[k] for r in rs) for k in rs[0]}
            for row, rs in runs.items()}
    print(table(rows))
    top = [r["articles_per_s"] for r in runs["3 workers"]]
    result = {"articles_per_s_3_workers": rows["3 workers"].pop("articles_per_s"),
              "min_s": min(top), "max_s": max(top), "runs": repeats,
              "articles": rows["1 worker"]["articles"]}
    for row, figures in rows.items():
        result.update({f"{k}_{row.replace(' ', '_')}": v for k, v in figures.items()
                       if k != "articles"})
    return result


if __name__ == "__main__":
    print(run(*(int(a) for a in sys.argv[1:3])))
