"""`Retry-After` is honoured (issue 15): a 503 or 429 answer's delay is waited before the
retry, up to `[crawl] retry_after_max` (2 minutes by default); a server asking for more is not retried in this
crawl (its answer is the page's failure), so no crawl waits an hour."""

from __future__ import annotations

import time

import pytest

from tests.conftest import crawl, rows, write_config

ARTICLE = "/news/2026/11/20/ceasefire-talks-resume-in-geneva.html"
FEED = """
[[source]]
id = "mini"
kind = "feed"
url = "{site}/feed.xml"
"""


def busy_once(site, path: str, retry_after: str) -> list[float]:
    """`path` answers 503 with `retry_after` once, then as usual; when each request came."""
    seen: list[float] = []

    def before(requested: str) -> None:
        if requested != path:
            return
        seen.append(time.monotonic())
        if len(seen) == 1:
            site.overrides[path] = (503, {"Retry-After": retry_after,
                                          "Content-Type": "text/html"}, b"busy")
        else:
            site.overrides.pop(path, None)

    site.before_response = before
    return seen


@pytest.mark.parametrize("status", [503, 429])
def test_the_retry_waits_as_long_as_the_server_asks(mini_site, tmp_path, status):
    seen = busy_once(mini_site, ARTICLE, "2")
    if status == 429:
        mini_site.before_response = _with_status(mini_site.before_response, mini_site, 429)
    config = write_config(tmp_path / "veille.toml", mini_site.origin, FEED)
    db = tmp_path / "veille.db"
    result = crawl(config, db)
    assert result.returncode == 0, result.stderr
    assert len(seen) == 2 and seen[1] - seen[0] >= 2.0  # retry_backoff = 0 in the test config
    assert mini_site.url(ARTICLE) in {r["canonical_url"] for r in rows(
        db, "SELECT canonical_url FROM articles")}


def _with_status(before, site, status):
    def hook(path: str) -> None:
        before(path)
        if path in site.overrides and site.overrides[path][0] == 503:
            site.overrides[path] = (status, *site.overrides[path][1:])
    return hook


def test_a_server_asking_for_an_hour_is_left_to_the_next_crawl(mini_site, tmp_path):
    seen = busy_once(mini_site, ARTICLE, "3600")
    config = write_config(tmp_path / "veille.toml", mini_site.origin, FEED,
                          crawl='retry_after_max = "30s"\n')
    db = tmp_path / "veille.db"
    started = time.monotonic()
    result = crawl(config, db)
    assert time.monotonic() - started < 30
    assert len(seen) == 1
    stored = {r["canonical_url"] for r in rows(db, "SELECT canonical_url FROM articles")}
    assert mini_site.url(ARTICLE) not in stored and len(stored) >= 3
    [error] = rows(db, "SELECT url, message FROM fetch_errors WHERE level = 'error'")
    assert error["url"].startswith(mini_site.url(ARTICLE)) and "503" in error["message"]
    [run] = rows(db, "SELECT status FROM crawl_runs")
    assert run["status"] == "partial"
    assert "Retry-After 3600 s, over the 30 s a crawl waits" in result.stderr
