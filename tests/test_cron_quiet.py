"""`veille crawl` as cron runs it: one line per failed source, no traceback and none of
Scrapy's own lines without -v, nothing at all with --quiet when all went well; the exit
status says which (0 all well, 1 a source failed, 2 a bad configuration)."""

from __future__ import annotations

import socket

from conftest import crawl, rows, write_config

SOURCES = """
[[source]]
id = "mini"
kind = "feed"
url = "{site}/feed.xml"

[[source]]
id = "gone"
kind = "feed"
url = "{site}/no-such-feed.xml"

[[source]]
id = "down"
kind = "feed"
url = "http://127.0.0.1:{closed}/rss.xml"
"""


def closed_port() -> int:
    """A port of 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_failures_are_one_line_each_and_recorded(mini_site, tmp_path):
    config = write_config(tmp_path / "veille.toml", mini_site.origin,
                          SOURCES.replace("{closed}", str(closed_port())))
    db = tmp_path / "veille.db"
    result = crawl(config, db)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "scrapy." not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr  # one per failed source, none for the good one
    assert "gone: HTTP 404 from" in lines[0] + lines[1]
    assert "down: connection refused: http://127.0.0.1:" in lines[0] + lines[1]
    failures = {r["source_id"]: r["kind"] for r in rows(
        db, "SELECT source_id, kind FROM fetch_errors WHERE level = 'error'")}
    assert failures == {"gone": "gone", "down": "connection"}
    # With -v, Scrapy's own log comes back (its retries, its robots.txt download).
    verbose = crawl(config, db, "-v")
    assert "scrapy.downloadermiddlewares" in verbose.stderr


def test_quiet_prints_only_the_failed_sources(mini_site, tmp_path):
    config = write_config(tmp_path / "veille.toml", mini_site.origin,
                          SOURCES.replace("{closed}", str(closed_port())))
    result = crawl(config, tmp_path / "veille.db", "--quiet")
    assert result.returncode == 1
    assert result.stderr == ""
    assert [line.split()[:2] for line in result.stdout.splitlines()] == [
        ["gone", "failed"], ["down", "failed"]]


def test_quiet_prints_nothing_when_all_went_well(mini_site, tmp_path):
    config = write_config(tmp_path / "veille.toml", mini_site.origin,
                          SOURCES.split("[[source]]\nid = \"gone\"")[0])
    result = crawl(config, tmp_path / "veille.db", "--quiet", "--send")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert rows(tmp_path / "veille.db", "SELECT count(*) AS n FROM articles")[0]["n"] > 0


def test_a_bad_configuration_exits_2(tmp_path):
    config = tmp_path / "veille.toml"
    config.write_text("[[source]]\nid = 3\n", encoding="utf-8")
    result = crawl(config, tmp_path / "veille.db", "--quiet")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ")
