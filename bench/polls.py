"""Polls of 100 sources (half topic pages of two listing pages, half RSS feeds, 12 articles
each) once everything is stored, all in one `veille crawl` process (cron mode):

- idle: nothing new. Requests reaching the site (exactly one per source is the target: its
  first listing page or its feed, answered 304), article requests (none), bytes sent by the
  site, CPU seconds and wall time of the poll, CPU per source.
- incremental: edition 2, one new article per source at the top of its listing or feed.
  Requests, articles stored, CPU, wall.

The site and its first crawl (robots.txt obeyed and cached, as shipped) are built once per
process and shared with bench/memory.py; each measured poll works on a fresh copy of the
database as the first crawl left it.
"""

from __future__ import annotations

import atexit
import shutil
import sqlite3
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench import summarize
from bench.sites import CountingSiteServer, Site, SiteSpec, build_site
from bench.usage import Usage, run_measured, veille

SPEC = SiteSpec(sources=100, articles=12, per_page=10)


@dataclass
class PolledSite:
    """The 100-source site, its running server, and the database after a first crawl."""

    workdir: Path
    site: Site
    server: CountingSiteServer
    config: Path
    snapshot: Path
    first_crawl: Usage

    def fresh_db(self, name: str) -> Path:
        """A copy of the database as the first crawl left it."""
        db = self.workdir / name
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(self.snapshot, db)
        return db

    def poll(self, db: Path) -> Usage:
        self.server.reset_hits()
        return run_measured(veille(self.config, db, "crawl", "--no-progress", "--quiet"))

    def article_requests(self) -> int:
        paths = {p for s in self.site.sources for p in (*s.articles, s.new_article)}
        return sum(n for path, n in self.server.hits.items() if path in paths)


_SHARED: PolledSite | None = None


def shared() -> PolledSite:
    """The site and its first crawl, built on first use and kept for this process."""
    global _SHARED
    if _SHARED is None:
        tmp = tempfile.TemporaryDirectory(prefix="veille-polls-")
        atexit.register(tmp.cleanup)
        workdir = Path(tmp.name)
        site = build_site(SPEC, workdir)
        server = site.server().start()
        atexit.register(server.stop)
        config = site.write_config(workdir / "veille.toml", server.origin)
        snapshot = workdir / "first-crawl.db"
        first = run_measured(veille(config, snapshot, "crawl", "--no-progress", "--quiet"))
        with sqlite3.connect(snapshot) as conn:
            stored = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        if stored != len(site.article_paths):
            raise RuntimeError(f"the first crawl stored {stored} of "
                               f"{len(site.article_paths)} articles: {first.stdout[-1000:]}")
        _SHARED = PolledSite(workdir, site, server, config, snapshot, first)
    return _SHARED


def _stored(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM articles").fetchone()[0]


def idle_once(polled: PolledSite, db: Path) -> dict[str, float]:
    usage = polled.poll(db)
    server, sources = polled.server, len(polled.site.sources)
    requests = sum(server.hits.values())
    starts = sum(server.hits[s.start] for s in polled.site.sources)
    return {
        "cpu_per_source_s": usage.cpu_s / sources,
        "cpu_s": usage.cpu_s,
        "wall_s": usage.wall_s,
        "requests": requests,
        "requests_per_source": requests / sources,
        "start_url_requests": starts,
        "not_modified": sum(server.not_modified.values()),
        "article_requests": polled.article_requests(),
        "bytes_sent": server.bytes_sent,
        "bytes_per_source": server.bytes_sent / sources,
        "peak_rss_mb": usage.max_rss_mb,
    }


def incremental_once(polled: PolledSite, db: Path) -> dict[str, float]:
    before = _stored(db)
    polled.server.edition = 2
    try:
        usage = polled.poll(db)
    finally:
        polled.server.edition = 1
    server, sources = polled.server, len(polled.site.sources)
    new = _stored(db) - before
    if new != sources:
        raise RuntimeError(f"the incremental poll stored {new} new articles, not {sources}: "
                           f"{usage.stdout[-1000:]}")
    return {
        "cpu_per_source_s": usage.cpu_s / sources,
        "cpu_s": usage.cpu_s,
        "wall_s": usage.wall_s,
        "requests": sum(server.hits.values()),
        "article_requests": polled.article_requests(),
        "articles_stored": new,
        "bytes_sent": server.bytes_sent,
        "cpu_per_new_article_s": usage.cpu_s / new,
    }


def run_idle(repeats: int = 3) -> dict[str, float]:
    polled = shared()
    runs = [idle_once(polled, polled.fresh_db(f"idle-{i}.db")) for i in range(repeats)]
    return {**summarize(runs, "cpu_per_source_s"),
            "first_crawl_cpu_s": polled.first_crawl.cpu_s,
            "first_crawl_wall_s": polled.first_crawl.wall_s}


def run_incremental(repeats: int = 3) -> dict[str, float]:
    polled = shared()
    runs = [incremental_once(polled, polled.fresh_db(f"incremental-{i}.db"))
            for i in range(repeats)]
    return summarize(runs, "cpu_per_source_s")


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    print("idle", run_idle(count))
    print("incremental", run_incremental(count))
