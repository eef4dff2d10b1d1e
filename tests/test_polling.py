"""Incremental polls: a source with nothing new costs one conditional GET per listing or
feed URL, robots.txt comes from the cache, and validators are saved only after a clean run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from conftest import PROJECT, Clock, crawl, rows, write_config

from crawler.record.schema import connect
from crawler.record.store import Store

TOPIC = """
[[source]]
id = "mini"
kind = "topic"
url = "{site}/news/conflicts/"
topic = "Conflicts"
max_pages = 3
"""
FEED = """
[[source]]
id = "mini"
kind = "feed"
url = "{site}/feed.xml"
"""
SOURCES = {"topic": (TOPIC, "/news/conflicts/"), "feed": (FEED, "/feed.xml")}
ARTICLE = "/news/2026/11/20/ceasefire-talks-resume-in-geneva.html"
NEW_ARTICLE = "/news/2026/11/21/prisoner-exchange-agreed.html"  # edition 2 only


def validators(db, url):
    return rows(db, "SELECT etag, last_modified, body_hash, changed_at FROM http_validators "
                    "WHERE url = ?", [url])


def last_run(db) -> dict:
    return rows(db, "SELECT * FROM crawl_runs ORDER BY id DESC LIMIT 1")[0]


@pytest.mark.parametrize("kind", ["topic", "feed"])
def test_an_idle_poll_costs_one_request(mini_site, tmp_path, kind):
    sources, listing = SOURCES[kind]
    config = write_config(tmp_path / "veille.toml", mini_site.origin, sources)
    db = tmp_path / "veille.db"
    assert crawl(config, db).returncode == 0
    assert mini_site.hits["/robots.txt"] == 1
    [saved] = validators(db, mini_site.url(listing))
    assert saved["etag"] and saved["last_modified"] and len(saved["body_hash"]) == 64

    mini_site.reset_hits()
    idle = crawl(config, db)
    assert idle.returncode == 0, idle.stderr
    assert dict(mini_site.hits) == {listing: 1}  # no robots.txt, no article, no page 2
    assert mini_site.not_modified[listing] == 1
    run = last_run(db)
    assert (run["status"], run["requests"], run["new"]) == ("ok", 1, 0)

    # A server that ignores validators: a 200 whose body is the one already read.
    mini_site.conditional = False
    mini_site.reset_hits()
    ignored = crawl(config, db, "-v")
    assert ignored.returncode == 0, ignored.stderr
    assert dict(mini_site.hits) == {listing: 1} and not mini_site.not_modified
    assert "'veille/unchanged_body': 1" in ignored.stderr
    assert "veille/not_modified" not in ignored.stderr
    assert last_run(db)["requests"] == 1
    assert validators(db, mini_site.url(listing)) == [saved]


@pytest.mark.parametrize("kind", ["topic", "feed"])
def test_a_changed_listing_is_read_and_the_next_poll_is_304_again(mini_site, tmp_path, kind):
    sources, listing = SOURCES[kind]
    config = write_config(tmp_path / "veille.toml", mini_site.origin, sources)
    db = tmp_path / "veille.db"
    assert crawl(config, db).returncode == 0
    [before] = validators(db, mini_site.url(listing))

    mini_site.edition = 2
    mini_site.reset_hits()
    changed = crawl(config, db)
    assert changed.returncode == 0, changed.stderr
    assert mini_site.not_modified[listing] == 0 and mini_site.hits[NEW_ARTICLE] == 1
    assert rows(db, "SELECT id FROM articles WHERE canonical_url = ?",
                [mini_site.url(NEW_ARTICLE)])
    [after] = validators(db, mini_site.url(listing))
    assert after["etag"] != before["etag"] and after["body_hash"] != before["body_hash"]

    mini_site.reset_hits()
    assert crawl(config, db).returncode == 0
    assert dict(mini_site.hits) == {listing: 1} and mini_site.not_modified[listing] == 1


def test_validators_are_saved_only_after_a_clean_run(mini_site, tmp_path):
    config = write_config(tmp_path / "veille.toml", mini_site.origin, TOPIC)
    db = tmp_path / "veille.db"
    listing = mini_site.url("/news/conflicts/")
    mini_site.overrides[ARTICLE] = (500, {}, b"")
    assert crawl(config, db).returncode == 3  # a partial run
    assert last_run(db)["status"] == "partial"
    assert validators(db, listing) == []

    del mini_site.overrides[ARTICLE]
    mini_site.reset_hits()
    assert crawl(config, db).returncode == 0
    assert mini_site.hits["/news/conflicts/"] == 1
    assert mini_site.not_modified["/news/conflicts/"] == 0
    assert mini_site.hits[ARTICLE] == 1 and last_run(db)["status"] == "ok"
    [clean] = validators(db, listing)

    # A new article that fails: the old validators stay, so the next poll reads page 1.
    mini_site.edition = 2
    mini_site.overrides[NEW_ARTICLE] = (500, {}, b"")
    assert crawl(config, db).returncode == 3
    assert last_run(db)["status"] == "partial"
    assert validators(db, listing) == [clean]

    del mini_site.overrides[NEW_ARTICLE]
    mini_site.reset_hits()
    assert crawl(config, db).returncode == 0
    assert mini_site.hits["/news/conflicts/"] == 1
    assert mini_site.not_modified["/news/conflicts/"] == 0
    assert mini_site.hits[NEW_ARTICLE] == 1 and last_run(db)["new"] == 1
    assert validators(db, listing)[0]["body_hash"] != clean["body_hash"]
    mini_site.reset_hits()
    assert crawl(config, db).returncode == 0
    assert dict(mini_site.hits) == {"/news/conflicts/": 1}


def test_a_crawl_killed_after_reading_a_new_feed_keeps_the_old_validators(mini_site, tmp_path):
    config = write_config(tmp_path / "veille.toml", mini_site.origin, FEED)
    db = tmp_path / "veille.db"
    assert crawl(config, db).returncode == 0
    before = validators(db, mini_site.url("/feed.xml"))
    held, release = threading.Event(), threading.Event()

    def hold(path: str) -> None:
        if path == NEW_ARTICLE:
            held.set()
            release.wait(timeout=60)

    mini_site.edition = 2
    mini_site.before_response = hold
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler", "--config", str(config), "--db", str(db),
         "crawl", "--no-progress"],
        cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        assert held.wait(timeout=60), "the crawl never asked for the held article"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        release.set()
        if process.poll() is None:
            process.kill()
    assert validators(db, mini_site.url("/feed.xml")) == before

    mini_site.before_response = None
    mini_site.reset_hits()
    assert crawl(config, db).returncode == 0
    assert mini_site.hits["/feed.xml"] == 1 and not mini_site.not_modified
    assert mini_site.hits[NEW_ARTICLE] == 1 and last_run(db)["new"] == 1


def test_a_sitemap_index_is_read_and_its_sitemaps_polled(mini_site, tmp_path):
    o = mini_site.origin
    xml = {"Content-Type": "application/xml"}
    mini_site.overrides["/sitemap.xml"] = (200, {**xml, "ETag": '"index-1"'}, f"""
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>{o}/sitemap-news.xml</loc></sitemap></sitemapindex>""".encode())
    mini_site.overrides["/sitemap-news.xml"] = (200, {**xml, "ETag": '"news-1"'}, f"""
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>{o}{ARTICLE}</loc></url></urlset>""".encode())
    config = write_config(tmp_path / "veille.toml", o, """
[[source]]
id = "mini"
kind = "sitemap"
url = "{site}/sitemap.xml"
max_age_days = 0
""")
    db = tmp_path / "veille.db"
    assert crawl(config, db).returncode == 0
    assert mini_site.hits[ARTICLE] == 1
    mini_site.reset_hits()
    assert crawl(config, db).returncode == 0
    # The index does not say when its sitemaps change: read again; its sitemap is 304.
    assert dict(mini_site.hits) == {"/sitemap.xml": 1, "/sitemap-news.xml": 1}
    assert dict(mini_site.not_modified) == {"/sitemap-news.xml": 1}


def test_robots_txt_is_fetched_again_once_the_cached_copy_is_stale(mini_site, tmp_path):
    config = write_config(tmp_path / "veille.toml", mini_site.origin, TOPIC)
    db = tmp_path / "veille.db"
    assert crawl(config, db).returncode == 0
    [cached] = rows(db, "SELECT * FROM robots_cache")
    assert cached["origin"] == mini_site.origin and cached["status"] == 200
    assert b"Disallow: /private/" in cached["body"]
    handle = connect(db)
    try:
        with handle.conn:
            handle.execute("UPDATE robots_cache SET fetched_at = '2000-01-01T00:00:00Z'")
    finally:
        handle.close()
    mini_site.reset_hits()
    assert crawl(config, db).returncode == 0
    assert mini_site.hits["/robots.txt"] == 1
    assert rows(db, "SELECT fetched_at FROM robots_cache")[0]["fetched_at"] > "2000"
    # Still obeyed when it comes from the cache.
    assert mini_site.requests_under("/private/") == 0


@pytest.mark.parametrize(("status", "cached"), [(404, True), (503, False)])
def test_a_missing_robots_txt_is_cached_a_failing_one_is_not(mini_site, tmp_path,
                                                             status, cached):
    mini_site.overrides["/robots.txt"] = (status, {"Content-Type": "text/html"}, b"<h1>No</h1>")
    config = write_config(tmp_path / "veille.toml", mini_site.origin, FEED)
    db = tmp_path / "veille.db"
    assert crawl(config, db).returncode == 0
    assert [r["status"] for r in rows(db, "SELECT status FROM robots_cache")] == (
        [status] if cached else [])
    mini_site.reset_hits()
    assert crawl(config, db).returncode == 0
    assert (mini_site.hits["/robots.txt"] == 0) == cached


def test_the_robots_cache_keeps_a_copy_for_its_ttl(tmp_path):
    clock = Clock()
    with Store.open(tmp_path / "veille.db", clock) as store:
        store.save_robots("https://news.example", 200, b"User-agent: *\nDisallow: /x/\n")
        clock.advance(60 * 24 - 1)
        assert store.cached_robots("https://news.example", 86400) == (
            200, b"User-agent: *\nDisallow: /x/\n")
        assert store.cached_robots("http://news.example", 86400) is None
        clock.now += timedelta(minutes=2)
        assert store.cached_robots("https://news.example", 86400) is None
