"""Shared fixtures: a site server on 127.0.0.1 (port 0), config files, and `veille` runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

import pytest

from crawler.demo import DEMO_DIR, SiteServer, render_demo_config
from crawler.record.schema import connect

FIXTURES = Path(__file__).parent / "fixtures"
PROJECT = Path(__file__).parent.parent
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Lines a test recorded for the end of the session (the hostile-input suite's counts):
    `record_property("session_report", line)`."""
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            for name, value in getattr(report, "user_properties", ()):
                if name == "session_report":
                    terminalreporter.write_line(value)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches past this machine: in the test process, a connection to anything
    but loopback fails at once. (`veille` subprocesses get configs naming 127.0.0.1.)"""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def check(sock: socket.socket, address: object) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOOPBACK:
            raise OSError(f"a test tried to reach {address[0]}: only 127.0.0.1 is allowed")

    def connect(sock: socket.socket, address: object) -> None:
        check(sock, address)
        return real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: object) -> int:
        check(sock, address)
        return real_connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


class Clock:
    """An injected clock that moves only when told to."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


@pytest.fixture
def demo_site() -> Iterator[SiteServer]:
    """The bundled demo site, served fresh for one test."""
    with SiteServer(DEMO_DIR / "site", [DEMO_DIR / "edition-2"]) as site:
        yield site


@pytest.fixture
def demo_config(demo_site: SiteServer, tmp_path: Path) -> Path:
    return render_demo_config(demo_site.origin, tmp_path / "veille.toml")


@pytest.fixture
def mini_site() -> Iterator[SiteServer]:
    """A small hand-made site (tests/fixtures/sites/mini) for precise spider checks."""
    with SiteServer(FIXTURES / "sites" / "mini", [FIXTURES / "sites" / "mini-2"]) as site:
        yield site


def write_config(path: Path, origin: str, sources: str, crawl: str = "") -> Path:
    """A config file whose `{site}` placeholders name the running fixture server."""
    header = (
        "[crawl]\nuser_agent = \"Veille-test/0.1\"\ndownload_delay = 0\nretries = 1\n"
        "retry_backoff = 0\ntimeout = 10\n" + crawl + "\n"
    )
    path.write_text(header + sources.replace("{site}", origin), encoding="utf-8")
    return path


def serve_feed(site: SiteServer, path: str, links: list[str]) -> None:
    """Serve at `path` of `site` an RSS feed of one entry per link (written as given)."""
    items = "".join(f"<item><title>Entry {k}</title><link>{escape(link)}</link></item>"
                    for k, link in enumerate(links))
    site.overrides[path] = (200, {"Content-Type": "application/rss+xml"}, (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Feed</title>'
        f"{items}</channel></rss>").encode())


def veille(*args: str | Path, env: dict[str, str] | None = None,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the `veille` command in a fresh process, as a user (or cron) would."""
    return subprocess.run(
        [sys.executable, "-m", "crawler", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, cwd=PROJECT,
        env={**os.environ, **(env or {})},
    )


@contextmanager
def running(*args: str | Path, ready: str, timeout: float = 30, prefix: tuple[str, ...] = (),
            command: tuple[str | Path, ...] = (sys.executable, "-m", "crawler"),
            cwd: Path = PROJECT) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """`veille *args` (`command` runs `veille`) started and read up to its first output
    line that starts with `ready`: the process and its lines so far (stdout and stderr).
    A process that hangs is killed after `timeout` seconds, failing its test, not the run;
    one still running at the end is stopped."""
    proc = subprocess.Popen(
        [*prefix, *map(str, command), *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd,
    )
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith(ready):
                break
        assert lines and lines[-1].startswith(ready), lines
        yield proc, lines
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.terminate()
        proc.communicate(timeout=30)


@contextmanager
def serving(*args: str | Path, prefix: tuple[str, ...] = (),
            command: tuple[str | Path, ...] = (sys.executable, "-m", "crawler"),
            cwd: Path = PROJECT) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`veille *args` (a `serve --port 0` command) `running` up to its "Serving ... at
    URL" line: the process and the URL."""
    with running(*args, ready="Serving ", prefix=prefix, command=command,
                 cwd=cwd) as (proc, lines):
        yield proc, lines[-1].split(" at ", 1)[1].split()[0]


def crawl(config: Path, db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`veille crawl` of `config` into `db`, without progress lines."""
    return veille("--config", config, "--db", db, "crawl", "--no-progress", *args)


def article_hits(site: SiteServer) -> int:
    """Article pages the mini site served (its articles live under /news/20xx/)."""
    return site.requests_under("/news/20")


def rows(db_path: Path, sql: str, params: list | tuple = ()) -> list[dict]:
    db = connect(db_path)
    try:
        return list(db.query(sql, params))
    finally:
        db.close()
