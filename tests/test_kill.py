"""A crawl killed with SIGKILL leaves a consistent database that the next crawl completes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading

from conftest import PROJECT, rows, veille

from crawler.record.schema import connect

SOURCE = "levant-karabakh"
HELD = "/levant/2026/11/18/aghdam-deminage-retour-habitants.html"
STORED = re.compile(r"levant-karabakh: new article #(\d+)")


def test_a_crawl_killed_mid_run_leaves_whole_articles_and_the_next_crawl_completes(
    demo_site, demo_config, tmp_path
):
    db = tmp_path / "veille.db"
    release = threading.Event()
    held = threading.Event()

    def hold(path: str) -> None:
        # Keep one article's response waiting, so the crawl is surely mid-way when killed.
        if path == HELD:
            held.set()
            release.wait(timeout=60)

    demo_site.before_response = hold
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler", "--config", str(demo_config), "--db", str(db),
         "crawl", "--source", SOURCE, "--no-progress", "-v"],
        cwd=PROJECT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )
    stored = []
    try:
        # The pipeline logs each article after its transaction commits: wait for three.
        for line in process.stderr:
            if match := STORED.search(line):
                stored.append(int(match.group(1)))
                if len(stored) == 3:
                    break
        assert held.wait(timeout=60), "the crawl never asked for the held article"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        release.set()
        if process.poll() is None:
            process.kill()
        process.stderr.close()
    assert len(stored) == 3 and process.returncode == -signal.SIGKILL

    db_handle = connect(db)
    try:
        assert db_handle.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db_handle.execute("PRAGMA foreign_key_check").fetchall() == []
        # The full-text index holds exactly the stored articles, and agrees with them.
        db_handle.execute("INSERT INTO articles_fts(articles_fts) VALUES ('integrity-check')")
        articles = db_handle.execute("SELECT count(*) FROM articles").fetchone()[0]
        indexed = db_handle.execute("SELECT count(*) FROM articles_fts").fetchone()[0]
    finally:
        db_handle.close()
    assert articles == indexed >= 3
    assert articles < 8, "the held article cannot have been stored"
    # Every stored article is whole: its URLs and its text are there.
    assert rows(db, "SELECT id FROM articles a WHERE NOT EXISTS "
                    "(SELECT 1 FROM article_urls u WHERE u.article_id = a.id) "
                    "OR a.body IS NULL OR a.body = ''") == []
    assert [r["status"] for r in rows(db, "SELECT status FROM crawl_runs")] == ["running"]

    demo_site.before_response = None
    again = veille("--config", demo_config, "--db", db, "crawl", "--source", SOURCE,
                   "--no-progress")
    assert again.returncode == 0, again.stderr
    runs = rows(db, "SELECT status, new FROM crawl_runs ORDER BY id")
    assert [r["status"] for r in runs] == ["interrupted", "ok"]
    assert runs[1]["new"] == 8 - articles
    total = rows(db, "SELECT count(*) AS n, count(DISTINCT canonical_url) AS urls, "
                     "sum(topic = 'Nagorny Karabakh') AS labelled FROM articles")[0]
    assert total == {"n": 8, "urls": 8, "labelled": 8}
    assert demo_site.hits[HELD] == 2  # once held by the killed crawl, once completed
