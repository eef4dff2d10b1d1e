"""Every crawl process ends (issue 15): on SIGTERM, and at its deadline (`[schedule]
timeout`), within a few seconds, even while a site holds its downloads open; its source
locks are free at once for the next crawl."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from crawler.crawl.process import STOP_GRACE
from tests.conftest import PROJECT, crawl, rows

FEED = """
[[source]]
id = "mini"
kind = "feed"
url = "{site}/feed.xml"
"""


def config_file(path, origin: str, extra: str = ""):
    """The test config with downloads that may take 2 minutes: only the stop ends them."""
    path.write_text('[crawl]\nuser_agent = "Veille-test/0.1"\ndownload_delay = 0\n'
                    'retries = 0\ntimeout = 120\n\n' + extra + FEED.replace("{site}", origin),
                    encoding="utf-8")
    return path


@pytest.fixture
def stalling_site(mini_site) -> Iterator[tuple]:
    """The mini site, whose article pages never answer until the test ends; an event set
    when the first article request arrives."""
    arrived, release = threading.Event(), threading.Event()

    def stall(path: str) -> None:
        if path.startswith("/news/20"):
            arrived.set()
            release.wait(60)

    mini_site.before_response = stall
    yield mini_site, arrived
    release.set()


def start_crawl(config, db) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "crawler", "--config", str(config), "--db", str(db), "crawl",
         "--no-progress"], cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)


def test_sigterm_ends_a_crawl_within_seconds_and_frees_its_sources(stalling_site, tmp_path):
    site, arrived = stalling_site
    config = config_file(tmp_path / "veille.toml", site.origin)
    db = tmp_path / "veille.db"
    child = start_crawl(config, db)
    assert arrived.wait(60), "no article request reached the site"
    signalled = time.monotonic()
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=STOP_GRACE + 20)
    assert time.monotonic() - signalled < STOP_GRACE + 5
    assert child.returncode == 1, err
    assert "stopping the crawl: SIGTERM received" in err
    assert "Traceback" not in err
    # The source is not left locked, and the stopped run is recorded as interrupted.
    site.before_response = None
    again = crawl(config, db)
    assert "another process is crawling it" not in again.stdout, again.stdout
    statuses = [r["status"] for r in rows(db, "SELECT status FROM crawl_runs ORDER BY id")]
    assert statuses[0] == "interrupted" and statuses[-1] == "ok"


def test_a_crawl_past_its_deadline_is_stopped(stalling_site, tmp_path):
    site, arrived = stalling_site
    config = config_file(tmp_path / "veille.toml", site.origin, '[schedule]\ntimeout = "2s"\n\n')
    db = tmp_path / "veille.db"
    started = time.monotonic()
    child = start_crawl(config, db)
    out, err = child.communicate(timeout=60)
    assert arrived.is_set()
    assert time.monotonic() - started < 2 + STOP_GRACE + 15  # the process start included
    assert child.returncode == 1, err
    assert "stopping the crawl: the crawl ran for 2 s ([schedule] timeout)" in err
    assert os.path.exists(db)
