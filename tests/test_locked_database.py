"""A write lock another process holds past the busy timeout is one line naming the crawls
running, not a traceback after 31 s (issue 15). $VEILLE_BUSY_TIMEOUT shortens the wait."""

from __future__ import annotations

import os
import sqlite3

from tests.conftest import veille


def test_a_held_write_lock_is_one_line_naming_the_running_crawl(tmp_path):
    db = tmp_path / "veille.db"
    assert veille("--db", db, "init").returncode == 0
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("INSERT INTO sources (id, name, kind, url) VALUES "
                   "('levant-rss', 'L', 'feed', 'https://levant.example/rss')")
    holder.execute("INSERT INTO crawl_runs (source_id, started_at, status, pid) "
                   "VALUES ('levant-rss', '2026-12-02T10:00:00Z', 'running', ?)", [os.getpid()])
    holder.execute("BEGIN IMMEDIATE")  # another process writing, and holding on
    try:
        result = veille("--db", db, "sources", env={"VEILLE_BUSY_TIMEOUT": "0.5"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {db}: database is locked: another process has held its write lock for more "
        f"than 0.5 s; crawls running: levant-rss (pid {os.getpid()})\n")
