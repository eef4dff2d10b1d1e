"""The daemon (`veille run`) and cron mode (`veille crawl --due`), run as a user would:
as processes, against the mini fixture site on 127.0.0.1, waiting on log lines, server
events and receiver events, never on a sleep."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
from conftest import PROJECT, rows, veille, write_config
from receivers import WEBHOOK_SECRET

from crawler.record.schema import connect

pytest_plugins = ["receivers"]

TOPIC = """
[schedule]
every = "1s"
dispatch_every = "1s"
grace = "2s"

[[source]]
id = "mini-topic"
name = "The Mini Courier: conflicts"
kind = "topic"
url = "{site}/news/conflicts/"
"""
FEED = """
[[source]]
id = "mini-feed"
kind = "feed"
url = "{site}/feed.xml"
"""
ALERTS = """
[[conflict]]
id = "geneva"
name = "Geneva talks"
aliases = ["Geneva"]

[[subscription]]
id = "desk"
conflicts = ["geneva"]
[subscription.webhook]
url = "{hook}"
secret_env = "HOOK_SECRET"
"""
NEW_ARTICLE = "/news/2026/11/21/prisoner-exchange-agreed.html"


class Daemon:
    """`veille run` in a subprocess, with its log lines readable as events."""

    def __init__(self, config, db, env=None, args=()):
        self.lines: list[str] = []
        self.condition = threading.Condition()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "crawler", "--config", str(config), "--db", str(db), "run",
             *args],
            cwd=PROJECT, env={**os.environ, **(env or {})}, text=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stderr:
            with self.condition:
                self.lines.append(line)
                self.condition.notify_all()

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 60) -> list[str]:
        regex = re.compile(pattern)

        def found():
            return [line for line in self.lines if regex.search(line)]

        with self.condition:
            if not self.condition.wait_for(lambda: len(found()) >= count, timeout):
                raise AssertionError(f"no {count} log line(s) matching {pattern!r}:\n"
                                     + "".join(self.lines[-30:]))
            return found()

    def stop(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("the daemon did not stop:\n" + "".join(self.lines[-30:])) from None
        self.reader.join(timeout=10)
        return code

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def daemons():
    started: list[Daemon] = []
    yield lambda *args, **kwargs: started.append(Daemon(*args, **kwargs)) or started[-1]
    for daemon in started:
        daemon.kill()


def test_the_daemon_stores_and_alerts_a_newly_published_article(
    mini_site, webhook_receiver, tmp_path, daemons
):
    config = write_config(tmp_path / "veille.toml", mini_site.origin,
                          TOPIC + ALERTS.replace("{hook}", webhook_receiver.url))
    db = tmp_path / "veille.db"
    daemon = daemons(config, db, {"HOOK_SECRET": WEBHOOK_SECRET})
    daemon.wait_for(r"mini-topic: ok in [\d.]+ s, 6 new, 0 updated, 0 errors, 1 alert")
    [first] = webhook_receiver.wait_for(1)
    assert "Ceasefire talks resume in Geneva" in first.json["alert"]["title"]

    mini_site.edition = 2  # a new article about the Geneva talks goes online
    second = webhook_receiver.wait_for(2)[1]
    assert second.signature_valid
    assert second.json["alert"]["url"] == mini_site.url(NEW_ARTICLE)
    daemon.wait_for(r"mini-topic: ok in [\d.]+ s, 1 new, 1 updated")
    # Idle polls in between cost one request each: the listing, answered 304.
    idle = [line for line in daemon.wait_for(r"mini-topic: ok .* 0 new, 0 updated")]
    assert all(line.rstrip().endswith("1 request") for line in idle)
    assert daemon.stop() == 0
    daemon.wait_for("veille daemon stopped")
    assert rows(db, "SELECT count(*) AS n FROM articles") == [{"n": 7}]
    assert len(webhook_receiver.unique_ids()) == 2
    # The job store is its own file, beside the database, never inside it.
    assert (tmp_path / "veille-scheduler.db").is_file()
    assert "apscheduler_jobs" not in connect(db).table_names()


def test_sigterm_during_a_crawl_stops_cleanly_and_loses_nothing(mini_site, tmp_path, daemons):
    config = write_config(tmp_path / "veille.toml", mini_site.origin, TOPIC)
    db = tmp_path / "veille.db"
    held, release = threading.Event(), threading.Event()

    def hold(path):
        if path == "/news/2026/11/16/observers-report-new-clashes.html":
            held.set()
            release.wait(timeout=60)

    mini_site.before_response = hold
    daemon = daemons(config, db)
    try:
        assert held.wait(timeout=60)
        assert daemon.stop() == 0  # within the 2 s grace, then the crawl is killed
    finally:
        release.set()
    lines = "".join(daemon.lines)
    assert "asking the running crawl" in lines and "veille daemon stopped" in lines
    handle = connect(db)
    assert handle.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    handle.execute("INSERT INTO articles_fts(articles_fts) VALUES ('integrity-check')")
    handle.close()
    assert rows(db, "SELECT id FROM articles WHERE body IS NULL OR id NOT IN "
                    "(SELECT article_id FROM article_urls)") == []
    mini_site.before_response = None
    result = veille("--config", config, "--db", db, "crawl", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT count(*) AS n FROM articles") == [{"n": 6}]
    statuses = [r["status"] for r in rows(db, "SELECT status FROM crawl_runs ORDER BY id")]
    assert statuses[0] == "interrupted" and statuses[-1] == "ok"


def test_sighup_and_config_edits_apply_without_restart(mini_site, tmp_path, daemons):
    config = write_config(tmp_path / "veille.toml", mini_site.origin, TOPIC)
    db = tmp_path / "veille.db"
    daemon = daemons(config, db)
    daemon.wait_for(r"mini-topic: ok")
    write_config(config, mini_site.origin, TOPIC + FEED)
    daemon.process.send_signal(signal.SIGHUP)
    daemon.wait_for(r"mini-feed: scheduled")
    daemon.wait_for(r"mini-feed: ok")
    # Removing a source stops its polls; the edit alone is noticed, without a signal.
    write_config(config, mini_site.origin, TOPIC.replace('id = "mini-topic"', 'id = "mini-x"')
                 .replace('\nevery = "1s"', '\nevery = "1h"') + FEED)
    daemon.wait_for(r"mini-topic: removed from the config")
    daemon.wait_for(r"mini-x: scheduled")
    # A broken edit is refused and the running config kept.
    config.write_text(config.read_text() + "\n[[source]]\nid = 'broken'\n", encoding="utf-8")
    daemon.wait_for(r"config not reloaded, keeping the previous one: .*broken.*missing 'url'")
    assert daemon.stop() == 0


def test_a_restart_keeps_the_timetable(mini_site, tmp_path, daemons):
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    config = write_config(tmp_path / "veille.toml", mini_site.origin,
                          TOPIC.replace('\nevery = "1s"', '\nevery = "1h"'))
    db = tmp_path / "veille.db"
    first = daemons(config, db)
    first.wait_for(r"mini-topic: ok")
    assert first.stop() == 0

    def next_run():
        store = SQLAlchemyJobStore(url=f"sqlite:///{tmp_path / 'veille-scheduler.db'}")
        try:
            return {job.id: job.next_run_time for job in store.get_all_jobs()}["source:mini-topic"]
        finally:
            store.shutdown()

    planned = next_run()
    assert planned - datetime.now(planned.tzinfo) > timedelta(minutes=55)
    second = daemons(config, db)
    second.wait_for("veille daemon started")
    assert second.stop() == 0
    assert next_run() == planned  # not reset, and no poll at start
    assert mini_site.hits["/news/conflicts/"] == 1
    [source] = json.loads(veille("--config", config, "--db", db, "sources", "--json").stdout)
    assert source["next_run"] == planned.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_two_cron_runs_at_once_crawl_each_source_once(mini_site, tmp_path):
    config = write_config(tmp_path / "veille.toml", mini_site.origin,
                          TOPIC.replace('\nevery = "1s"', '\nevery = "1h"') + FEED)
    db = tmp_path / "veille.db"
    held, release = threading.Event(), threading.Event()

    def hold(path):
        if path == "/news/conflicts/":
            held.set()
            release.wait(timeout=60)

    mini_site.before_response = hold
    first = subprocess.Popen(
        [sys.executable, "-m", "crawler", "--config", str(config), "--db", str(db), "crawl",
         "--due", "--no-progress"], cwd=PROJECT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert held.wait(timeout=60)  # the first run holds its locks and is mid-crawl
        second = veille("--config", config, "--db", db, "crawl", "--due", "--no-progress")
        # A crawl started by hand meanwhile skips the sources the first one holds.
        third = veille("--config", config, "--db", db, "crawl", "--no-progress")
    finally:
        release.set()
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert second.returncode == 0, second.stderr
    # The first run has already recorded its start, so the second finds nothing due.
    assert second.stdout.strip() == "no source is due"
    assert third.returncode == 0, third.stderr
    assert f"mini-topic  skipped: another process is crawling it (pid {first.pid})" in third.stdout
    assert f"mini-feed  skipped: another process is crawling it (pid {first.pid})" in third.stdout
    assert mini_site.hits["/news/conflicts/"] == 1 and mini_site.hits["/feed.xml"] == 1
    assert "2 sources, 0 failed: 6 new" in out
    # Right after, nothing is due: the next poll waits for its interval.
    again = veille("--config", config, "--db", db, "crawl", "--due", "--no-progress")
    assert again.returncode == 0 and "no source is due" in again.stdout
    assert mini_site.hits["/news/conflicts/"] == 1


def test_a_failing_source_backs_off_exponentially(mini_site, tmp_path):
    config = write_config(
        tmp_path / "veille.toml", mini_site.origin,
        TOPIC.replace('\nevery = "1s"', '\nevery = "1s"\nbackoff = "1h"\nbackoff_cap = "3h"'))
    db = tmp_path / "veille.db"
    mini_site.overrides["/news/conflicts/"] = (500, {}, b"down")
    delays = []
    for _ in range(3):
        result = veille("--config", config, "--db", db, "crawl", "--no-progress")
        assert result.returncode == 1
        listing = veille("--config", config, "--db", db, "sources", "--json")
        assert listing.returncode == 0, listing.stderr
        [source] = json.loads(listing.stdout)
        [state] = rows(db, "SELECT last_error_at, backoff_until, next_run_at FROM sources")
        error_at = datetime.fromisoformat(state["last_error_at"].replace("Z", "+00:00"))
        until = datetime.fromisoformat(state["backoff_until"].replace("Z", "+00:00"))
        delays.append(until - error_at)
        assert source["next_run"] == state["backoff_until"] == state["next_run_at"]
        assert "HTTP 500" in source["last_error"]
    assert delays == [timedelta(hours=1), timedelta(hours=2), timedelta(hours=3)]  # capped
    assert source["failures"] == 3 and not source["failing"]
    # Cron mode respects the backoff: nothing is due although the interval is 1 s.
    hits = mini_site.hits["/news/conflicts/"]
    due = veille("--config", config, "--db", db, "crawl", "--due", "--no-progress")
    assert "no source is due" in due.stdout and mini_site.hits["/news/conflicts/"] == hits
    # Success clears the failure count and the backoff.
    del mini_site.overrides["/news/conflicts/"]
    assert veille("--config", config, "--db", db, "crawl", "--no-progress").returncode == 0
    [state] = rows(db, "SELECT failure_count, backoff_until, failing_since FROM sources")
    assert state == {"failure_count": 0, "backoff_until": None, "failing_since": None}


def test_a_source_failing_for_a_day_is_flagged(mini_site, tmp_path):
    config = write_config(tmp_path / "veille.toml", mini_site.origin, TOPIC)
    db = tmp_path / "veille.db"
    mini_site.overrides["/news/conflicts/"] = (503, {}, b"down")
    assert veille("--config", config, "--db", db, "crawl", "--no-progress").returncode == 1
    listing = veille("--config", config, "--db", db, "sources")
    assert "FAILING" not in listing.stdout  # one failure is not yet an alarm
    day_ago = (datetime.now(UTC) - timedelta(hours=25)).strftime("%Y-%m-%dT%H:%M:%SZ")
    handle = connect(db)
    with handle.atomic():
        handle.execute("UPDATE sources SET failing_since = ?", [day_ago])
    handle.close()
    listing = veille("--config", config, "--db", db, "sources")
    assert f"FAILING since {day_ago}: HTTP 503 from {mini_site.origin}/news/conflicts/" in (
        listing.stdout)
