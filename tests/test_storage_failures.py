"""Storage failures are failed runs, never "ok, 0 errors" (issue 15, item 4).

A full disk cannot be made on demand here (no tmpfs for tests), so `veille crawl` runs
with SQLite's own error for it, `database or disk is full`, raised by the store: every
other article write, or the write that closes the run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT, rows, write_config

FEED = """
[[source]]
id = "mini"
kind = "feed"
url = "{site}/feed.xml"
"""

FAULTY = """
import sqlite3, sys
from crawler.record import store as storage
failing = sys.argv[3]
original = getattr(storage.Store, failing)
calls = [0]

def faulty(self, *args, **kwargs):
    calls[0] += 1
    if failing == "finish_run" or calls[0] % 2:
        raise sqlite3.OperationalError("database or disk is full")
    return original(self, *args, **kwargs)

setattr(storage.Store, failing, faulty)
from crawler.cli import main
sys.argv = ["veille", "--config", sys.argv[1], "--db", sys.argv[2], "crawl", "--no-progress"]
main()
"""


def crawl_with_a_full_disk(config: Path, db: Path, failing: str
                           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", FAULTY, str(config), str(db), failing],
                          capture_output=True, text=True, timeout=120, cwd=PROJECT)


def test_articles_that_could_not_be_written_fail_the_run(mini_site, tmp_path):
    config = write_config(tmp_path / "veille.toml", mini_site.origin, FEED)
    db = tmp_path / "veille.db"
    result = crawl_with_a_full_disk(config, db, "save_article")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    stored = len(rows(db, "SELECT id FROM articles"))
    [run] = rows(db, "SELECT status, message, errors FROM crawl_runs")
    assert run["status"] == "failed"
    writes = f"{stored} write" + ("s" if stored != 1 else "")
    assert run["message"] == f"{writes} to the database failed: database or disk is full"
    assert run["errors"] == stored > 0
    failures = rows(db, "SELECT url, message FROM fetch_errors WHERE kind = 'store-failed'")
    assert [f["message"] for f in failures] == ["article not stored: database or disk is full"
                                                ] * stored
    assert "mini  failed" in result.stdout
    assert "1 failed" in result.stdout
    [source] = rows(db, "SELECT failure_count, last_error FROM sources")
    assert source["failure_count"] == 1 and "disk is full" in source["last_error"]


def test_a_run_whose_end_cannot_be_written_is_reported_failed(mini_site, tmp_path):
    config = write_config(tmp_path / "veille.toml", mini_site.origin, FEED)
    db = tmp_path / "veille.db"
    result = crawl_with_a_full_disk(config, db, "finish_run")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    assert "mini: the end of its run was not recorded: database or disk is full" in result.stderr
    assert "run not recorded: database or disk is full" in result.stdout
    assert "1 failed" in result.stdout
