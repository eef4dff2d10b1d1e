"""Crawls of a small hand-made site on 127.0.0.1, through the `veille` command.

The fixture server counts every request, so the tests can tell what a crawl fetched.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import FIXTURES, article_hits, crawl, rows, veille, write_config

TOPIC = """
[[source]]
id = "mini-topic"
name = "The Mini Courier: conflicts"
kind = "topic"
url = "{site}/news/conflicts/"
topic = "Conflicts"
max_pages = 3
"""
FEED = """
[[source]]
id = "mini-feed"
kind = "feed"
url = "{site}/feed.xml"
"""
ARTICLE = "/news/2026/11/20/ceasefire-talks-resume-in-geneva.html"


def test_topic_pages_are_followed_and_a_recrawl_fetches_no_article(mini_site, tmp_path):
    config = write_config(tmp_path / "veille.toml", mini_site.origin, TOPIC)
    db = tmp_path / "veille.db"
    first = crawl(config, db)
    assert first.returncode == 0, first.stderr
    assert "mini-topic" in first.stdout and "6 new" in first.stdout
    assert mini_site.hits["/news/conflicts/page/3/"] == 1
    assert mini_site.hits["/private/2026/11/20/draft-story-not-for-robots.html"] == 0
    stored = rows(db, "SELECT canonical_url, topic, title, published_at, authors, language, "
                      "word_count FROM articles ORDER BY published_at")
    assert len(stored) == 6
    assert all(r["topic"] == "Conflicts" and r["language"] == "en" for r in stored)
    assert all(r["word_count"] > 40 for r in stored), stored
    assert stored[-1]["canonical_url"] == mini_site.url(ARTICLE)  # ?xtor=AL-1 removed
    assert stored[-1]["published_at"] == "2026-11-20T08:15:00Z"
    assert stored[-1]["authors"] == '["Anna Keller"]'
    [robots] = rows(db, "SELECT * FROM fetch_errors WHERE url LIKE '%/private/%'")
    assert robots["level"] == "warning" and "robots.txt" in robots["message"]

    mini_site.reset_hits()
    second = crawl(config, db)
    assert second.returncode == 0, second.stderr
    assert "0 new" in second.stdout
    assert article_hits(mini_site) == 0
    # Page 1 answered 304 (robots.txt came from the cache): no page 2.
    assert mini_site.hits["/news/conflicts/"] == 1
    assert mini_site.hits["/news/conflicts/page/2/"] == 0
    assert len(rows(db, "SELECT id FROM articles")) == 6
    runs = rows(db, "SELECT * FROM crawl_runs ORDER BY id")
    assert [r["status"] for r in runs] == ["ok", "ok"]
    assert (runs[1]["new"], runs[1]["unchanged"], runs[1]["requests"]) == (0, 0, 1)

    # Page 1 changed, but holds only stored articles (and a link robots.txt forbids):
    # no article is fetched and there is no page 2.
    page = (FIXTURES / "sites" / "mini" / "news" / "conflicts" / "index.html").read_bytes()
    mini_site.overrides["/news/conflicts/"] = (
        200, {"Content-Type": "text/html"},
        page.replace(b"{{ORIGIN}}", mini_site.origin.encode()) + b"<!-- changed -->")
    mini_site.reset_hits()
    third = crawl(config, db)
    assert third.returncode == 0, third.stderr
    assert article_hits(mini_site) == 0
    assert mini_site.hits["/news/conflicts/"] == 1
    assert mini_site.hits["/news/conflicts/page/2/"] == 0
    [run] = rows(db, "SELECT * FROM crawl_runs WHERE id = 3")
    assert (run["status"], run["new"], run["unchanged"], run["requests"]) == ("ok", 0, 3, 1)


def test_an_article_updated_on_the_site_gets_a_new_version(mini_site, tmp_path):
    config = write_config(tmp_path / "veille.toml", mini_site.origin, TOPIC)
    db = tmp_path / "veille.db"
    assert crawl(config, db).returncode == 0
    mini_site.edition = 2  # a new article on top; the ceasefire story shows "updated"
    mini_site.reset_hits()
    result = crawl(config, db)
    assert result.returncode == 0, result.stderr
    assert "1 new" in result.stdout and "1 updated" in result.stdout
    assert mini_site.hits[ARTICLE] == 1
    assert mini_site.hits["/news/2026/11/19/drone-strikes-hit-power-station.html"] == 0
    [article] = rows(db, "SELECT * FROM articles WHERE canonical_url = ?",
                     [mini_site.url(ARTICLE)])
    assert article["version"] == 2
    assert "draft text on the crossings" in article["body"]
    assert article["updated_at"] == "2026-11-21T09:00:00Z"
    [old] = rows(db, "SELECT * FROM article_versions WHERE article_id = ?", [article["id"]])
    assert old["version"] == 1 and "draft text" not in old["body"]
    assert old["words_added"] > 10 and old["words_removed"] == 0
    [run] = rows(db, "SELECT * FROM crawl_runs WHERE id = 2")
    assert (run["new"], run["updated"]) == (1, 1)


def test_feed_and_topic_page_reach_the_same_articles(mini_site, tmp_path):
    config = write_config(tmp_path / "veille.toml", mini_site.origin, TOPIC + FEED)
    db = tmp_path / "veille.db"
    result = crawl(config, db)
    assert result.returncode == 0, result.stderr
    assert len(rows(db, "SELECT id FROM articles")) == 6
    urls = rows(db, "SELECT u.url, u.kind FROM article_urls u JOIN articles a "
                    "ON a.id = u.article_id WHERE a.canonical_url = ?", [mini_site.url(ARTICLE)])
    assert urls == [{"url": mini_site.url(ARTICLE), "kind": "canonical"}]  # utm and xtor gone
    mini_site.reset_hits()
    assert crawl(config, db).returncode == 0
    assert article_hits(mini_site) == 0
    assert mini_site.hits["/feed.xml"] == 1


def test_sitemap_index_and_recent_news_entries(mini_site, tmp_path):
    now = datetime.now(UTC)
    recent = (now - timedelta(hours=3)).isoformat()
    old = (now - timedelta(days=30)).isoformat()
    o = mini_site.origin
    mini_site.overrides["/sitemap.xml"] = (200, {"Content-Type": "application/xml"}, f"""
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>{o}/sitemap-news.xml</loc><lastmod>{recent}</lastmod></sitemap>
  <sitemap><loc>{o}/sitemap-2019.xml</loc><lastmod>2019-01-01T00:00:00Z</lastmod></sitemap>
</sitemapindex>""".encode())
    mini_site.overrides["/sitemap-news.xml"] = (200, {"Content-Type": "application/xml"}, f"""
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url><loc>{o}{ARTICLE}</loc><news:news><news:publication><news:name>Mini</news:name>
    <news:language>en</news:language></news:publication>
    <news:publication_date>{recent}</news:publication_date>
    <news:title>Ceasefire talks resume</news:title></news:news></url>
  <url><loc>{o}/news/2026/11/16/observers-report-new-clashes.html</loc>
    <news:news><news:publication_date>{old}</news:publication_date></news:news></url>
</urlset>""".encode())
    config = write_config(tmp_path / "veille.toml", o, """
[[source]]
id = "mini-sitemap"
kind = "sitemap"
url = "{site}/sitemap.xml"
max_age_days = 2
""")
    db = tmp_path / "veille.db"
    result = crawl(config, db)
    assert result.returncode == 0, result.stderr
    assert [r["canonical_url"] for r in rows(db, "SELECT canonical_url FROM articles")] == [
        mini_site.url(ARTICLE)]
    assert mini_site.hits["/sitemap-2019.xml"] == 0
    assert mini_site.hits["/news/2026/11/16/observers-report-new-clashes.html"] == 0
    [url] = rows(db, "SELECT kind FROM article_urls")
    assert url["kind"] == "canonical"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_dead_source_does_not_stop_the_others(mini_site, tmp_path):
    dead = f"http://127.0.0.1:{closed_port()}"
    config = write_config(tmp_path / "veille.toml", mini_site.origin, TOPIC + f"""
[[source]]
id = "dead-feed"
kind = "feed"
url = "{dead}/rss.xml"
""")
    db = tmp_path / "veille.db"
    result = crawl(config, db)
    assert result.returncode == 1
    assert "dead-feed" in result.stdout and "failed" in result.stdout
    # A site that is down is a line (its robots.txt too), not a traceback.
    assert "Traceback" not in result.stderr, result.stderr
    assert "connection refused" in result.stdout
    assert len(rows(db, "SELECT id FROM articles WHERE source_id = 'mini-topic'")) == 6
    [source] = rows(db, "SELECT * FROM sources WHERE id = 'dead-feed'")
    assert source["failure_count"] == 1 and "connection refused" in source["last_error"]
    listing = veille("--config", config, "--db", db, "sources")
    assert "dead-feed" in listing.stdout and "connection refused" in listing.stdout


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"<html><body>Maintenance</body></html>", "failed", "not a readable feed"),
        (b"", "failed", "not a readable feed"),
        (b'<?xml version="1.0"?><rss version="2.0"><channel><title>T & co</title>'
         b"<item><title>One</title><link>/news/2026/11/20/ceasefire-talks-resume-in-geneva.html"
         b"</link></item></channel></rss>", "ok", "its 1 entries were used anyway"),
    ],
    ids=["html-instead-of-feed", "empty", "malformed-but-usable"],
)
def test_broken_feeds_are_reported(mini_site, tmp_path, body, status, message):
    mini_site.overrides["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"}, body)
    config = write_config(tmp_path / "veille.toml", mini_site.origin, FEED)
    db = tmp_path / "veille.db"
    result = crawl(config, db)
    [run] = rows(db, "SELECT * FROM crawl_runs")
    assert run["status"] == status
    [error] = rows(db, "SELECT * FROM fetch_errors")
    assert message in error["message"] and error["source_id"] == "mini-feed"
    assert error["url"] == mini_site.url("/feed.xml")
    assert result.returncode == (1 if status == "failed" else 0)
    if status == "ok":
        assert len(rows(db, "SELECT id FROM articles")) == 1


def test_missing_and_broken_article_pages(mini_site, tmp_path):
    o = mini_site.origin
    mini_site.overrides["/news/conflicts/"] = (200, {"Content-Type": "text/html"}, f"""
<html><body><main>
<article><h2><a href="/news/2026/11/22/a-story-that-was-taken-down.html">A story that was taken down</a></h2></article>
<article><h2><a href="/news/2026/11/22/a-page-with-broken-markup.html">A page with broken markup everywhere</a></h2></article>
<article><h2><a href="{o}/news/2026/11/22/the-server-errors-on-this-one.html">The server errors on this one</a></h2></article>
</main></body></html>""".encode())
    mini_site.overrides["/news/2026/11/22/a-page-with-broken-markup.html"] = (
        200, {"Content-Type": "text/html; charset=utf-8"},
        (b"<html><head><title>Broken markup</title></head><body><div><p>Ceasefire observers "
         b"said on Sunday that <b>both sides had pulled back <i>heavy weapons from the line, "
         b"a first since the spring.<p>The mission counted forty guns moved overnight <div>"
         b"and asked for access to the depots.</p><p>Talks resume on Monday in Geneva, "
         b"where mediators hope to agree on the river crossings."))
    mini_site.overrides["/news/2026/11/22/the-server-errors-on-this-one.html"] = (
        500, {"Content-Type": "text/html"}, b"<h1>Internal error</h1>")
    config = write_config(tmp_path / "veille.toml", o, TOPIC)
    db = tmp_path / "veille.db"
    result = crawl(config, db)
    assert result.returncode == 3, result.stderr  # the listing worked: a partial run
    assert "Traceback" not in result.stderr, result.stderr
    [run] = rows(db, "SELECT * FROM crawl_runs")
    assert run["status"] == "partial" and run["errors"] == 2 and run["new"] == 1
    errors = {r["kind"]: r for r in rows(db, "SELECT * FROM fetch_errors")}
    assert "HTTP 404" in errors["gone"]["message"]
    assert "HTTP 500" in errors["http"]["message"]
    # Retried (retries = 1 in the test config) before giving up.
    assert mini_site.hits["/news/2026/11/22/the-server-errors-on-this-one.html"] == 2
    [article] = rows(db, "SELECT title, body FROM articles")
    assert "forty guns" in article["body"]


def test_bad_config_is_refused_with_its_message(tmp_path):
    config = tmp_path / "veille.toml"
    config.write_text('[[source]]\nid = "x"\nkind = "topic"\n')
    result = veille("--config", config, "--db", tmp_path / "v.db", "crawl")
    assert result.returncode == 2  # a bad file, like a bad option
    assert f"{config}: source 'x': missing 'url'" in result.stderr
    assert "Traceback" not in result.stderr


def crawl_in_a_new_process(config: Path, db: Path, before: str, after: str) -> str:
    """Run `crawler.crawl.process.crawl` on `config` in a fresh Python, with `before` run ahead of
    it and `after` (which sees `summaries`, and `summary`, the first) behind it; what
    `after` printed."""
    script = (
        "import gc, sys\n"
        "from pathlib import Path\n"
        "from crawler.config.model import load_config\n"
        "from crawler.crawl.process import crawl\n"
        f"{before}\n"
        "config = load_config(Path(sys.argv[1]))\n"
        "summaries = crawl(config, config.sources, Path(sys.argv[2]))\n"
        "summary = summaries[0]\n"
        f"{after}\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(config), str(db)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_crawl_hands_the_garbage_collector_back_as_it_found_it(mini_site, tmp_path):
    """A crawl freezes what it loaded and collects less often while pages come
    (crawler/crawl/process.py); a caller that goes on after it (a test, a daemon) gets Python's
    collector back: thresholds restored, nothing left frozen."""
    config = write_config(tmp_path / "veille.toml", mini_site.origin, FEED)
    out = crawl_in_a_new_process(
        config, tmp_path / "v.db", "gc.set_threshold(700, 10, 10)",
        "print(summary.new, gc.get_threshold(), gc.get_freeze_count())")
    new, rest = out.strip().split(" ", 1)
    thresholds, frozen = rest.rsplit(" ", 1)
    assert int(new) > 0
    assert (thresholds, frozen) == ("(700, 10, 10)", "0")


def test_a_crawl_loads_no_remote_control_telnet_or_feed_export(mini_site, tmp_path):
    """Scrapy's remote-control server and telnet console are never started, and their
    modules (aiohttp with the first) are not even loaded; neither is the feed exporter."""
    config = write_config(tmp_path / "veille.toml", mini_site.origin, FEED)
    out = crawl_in_a_new_process(
        config, tmp_path / "v.db", "",
        "print(summary.new, *sorted(m for m in sys.modules if m in {\n"
        "    'aiohttp', 'scrapy.extensions.remote_control', 'scrapy.extensions.telnet',\n"
        "    'scrapy.extensions.feedexport', 'scrapy.extensions.corestats'}))")
    new, *loaded = out.split()
    assert int(new) > 0
    # The extensions the crawl does use are loaded, the others are not.
    assert loaded == ["scrapy.extensions.corestats"]


def test_the_sources_of_a_crawl_share_one_database_connection(mini_site, tmp_path):
    """Every source's spider, store pipeline, run record and robots.txt cache go through
    one SQLite connection (each connection costs its own schema copy and page cache): one
    is open at a time, and a crawl opens it once, plus once before and once after the
    crawl proper (the alerting set-up, the summary)."""
    config = write_config(tmp_path / "veille.toml", mini_site.origin, TOPIC + FEED)
    out = crawl_in_a_new_process(
        config, tmp_path / "v.db",
        "import sqlite_utils\n"
        "state = {'open': 0, 'most': 0, 'total': 0}\n"
        "init, close = sqlite_utils.Database.__init__, sqlite_utils.Database.close\n"
        "def opened(self, *a, **k):\n"
        "    init(self, *a, **k); state['open'] += 1; state['total'] += 1\n"
        "    state['most'] = max(state['most'], state['open'])\n"
        "def closed(self):\n"
        "    close(self); state['open'] -= 1\n"
        "sqlite_utils.Database.__init__, sqlite_utils.Database.close = opened, closed",
        "print(sum(s.new for s in summaries), state['most'], state['open'], state['total'])")
    new, most, still_open, total = (int(n) for n in out.split())
    assert new > 0
    assert most == 1, f"{most} connections open at once for 2 sources"
    assert still_open == 0
    assert total <= 3, f"{total} connections opened by a crawl of 2 sources"
