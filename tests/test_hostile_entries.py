"""Hostile entries in feeds and sitemaps: each bad entry is recorded and skipped, every
other entry is stored, and nothing but http(s) is ever fetched (issue 15, items 1 and 2)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.errors import BadLink
from crawler.page.urls import canonicalize, entry_url
from tests.conftest import crawl, rows, serve_feed, write_config
from tests.evil_server import ConnectionCounter

ARTICLES = [
    "/news/2026/11/16/observers-report-new-clashes.html",
    "/news/2026/11/17/refugees-return-to-border-villages.html",
    "/news/2026/11/18/parliament-votes-emergency-budget.html",
    "/news/2026/11/19/drone-strikes-hit-power-station.html",
    "/news/2026/11/19/river-town-hospital-runs-out-of-fuel.html",
    "/news/2026/11/20/ceasefire-talks-resume-in-geneva.html",
]


@pytest.fixture
def ftp() -> Iterator[ConnectionCounter]:
    server = ConnectionCounter()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("link, why", [
    ("javascript:void(0)", "not an http(s) link"),
    ("mailto:desk@example.org", "not an http(s) link"),
    ("tel:+33100000000", "not an http(s) link"),
    ("ftp://127.0.0.1/pub/a.html", "not an http(s) link"),
    ("data:text/html,<p>hi</p>", "not an http(s) link"),
    ("http://[::1", "malformed link"),
    ("http://example.org:99999/a", "malformed link"),
    ("https://", "link without a host"),
    ("", "link without a host"),
])
def test_a_link_that_is_no_article_url_is_refused_with_its_reason(link, why):
    with pytest.raises(BadLink, match=re.escape(why)):
        entry_url(link, "https://example.org/feed.xml")


def test_relative_links_resolve_against_their_document():
    assert entry_url(" news/a.html ", "https://example.org/sitemaps/s.xml") == \
        "https://example.org/sitemaps/news/a.html"
    assert entry_url("/a.html", "https://example.org/s.xml") == "https://example.org/a.html"
    assert entry_url("//cdn.example.org/a", "https://example.org/") == "https://cdn.example.org/a"


def test_bad_feed_entries_cost_no_other_entry_and_nothing_but_http_is_fetched(
        mini_site, ftp, tmp_path):
    o = mini_site.origin
    links = [
        f"{o}{ARTICLES[0]}", "javascript:void(0)", f"{o}{ARTICLES[1]}", "mailto:desk@example.org",
        f"{o}{ARTICLES[2]}", "tel:+33100000000", f"{o}{ARTICLES[3]}",
        f"ftp://127.0.0.1:{ftp.port}/pub/article.html", ARTICLES[4].lstrip("/"),
        "http://[::1", "http://elsewhere.example/news/2026/11/20/stolen.html", f"{o}{ARTICLES[5]}",
    ]
    serve_feed(mini_site, "/hostile.xml", links)
    config = write_config(tmp_path / "veille.toml", o, """
[[source]]
id = "hostile-feed"
kind = "feed"
url = "{site}/hostile.xml"
""")
    db = tmp_path / "veille.db"
    result = crawl(config, db)
    assert result.returncode == 3, result.stderr
    stored = {r["canonical_url"] for r in rows(db, "SELECT canonical_url FROM articles")}
    assert stored == {mini_site.url(a) for a in ARTICLES}
    assert ftp.connections == 0
    skipped = [r["message"] for r in rows(
        db, "SELECT message FROM fetch_errors WHERE source_id = 'hostile-feed' "
        "AND level = 'warning' AND kind IN ('entry-skipped', 'feed-entry') ORDER BY id")]
    # javascript:, mailto:, tel:, ftp:, the malformed link and the one on another host.
    assert len(skipped) == 6, skipped
    assert any("ftp://127.0.0.1" in m for m in skipped)
    assert any("another host" in m and "allowed_domains" in m for m in skipped)
    assert "Traceback" not in result.stderr


def test_a_redirect_to_ftp_is_an_error_not_a_connection(mini_site, ftp, tmp_path):
    """Scrapy's redirect middleware already refuses it; kept so that it stays so."""
    o = mini_site.origin
    mini_site.overrides[ARTICLES[0]] = (
        302, {"Location": f"ftp://127.0.0.1:{ftp.port}/pub/article.html"}, b"")
    serve_feed(mini_site, "/one.xml", [f"{o}{ARTICLES[0]}", f"{o}{ARTICLES[1]}"])
    config = write_config(tmp_path / "veille.toml", o, """
[[source]]
id = "redirected"
kind = "feed"
url = "{site}/one.xml"
""")
    db = tmp_path / "veille.db"
    result = crawl(config, db)
    assert ftp.connections == 0
    assert [r["canonical_url"] for r in rows(db, "SELECT canonical_url FROM articles")] == [
        mini_site.url(ARTICLES[1])]
    assert "Traceback" not in result.stderr


def test_sitemaps_resolve_relative_locs_and_skip_bad_ones(mini_site, tmp_path):
    o = mini_site.origin
    mini_site.overrides["/maps/index.xml"] = (200, {"Content-Type": "application/xml"}, b"""
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>mailto:webmaster@example.org</loc></sitemap>
  <sitemap><loc>news.xml</loc></sitemap>
</sitemapindex>""")
    mini_site.overrides["/maps/news.xml"] = (200, {"Content-Type": "application/xml"}, f"""
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>javascript:alert(1)</loc></url>
  <url><loc>{ARTICLES[0]}</loc></url>
  <url><loc>http://[::1</loc></url>
  <url><loc>../news/2026/11/17/refugees-return-to-border-villages.html</loc></url>
  <url><loc>{o}{ARTICLES[2]}</loc></url>
</urlset>""".encode())
    config = write_config(tmp_path / "veille.toml", o, """
[[source]]
id = "maps"
kind = "sitemap"
url = "{site}/maps/index.xml"
""")
    db = tmp_path / "veille.db"
    result = crawl(config, db)
    assert result.returncode == 3, result.stderr
    stored = {r["canonical_url"] for r in rows(db, "SELECT canonical_url FROM articles")}
    assert stored == {mini_site.url(a) for a in ARTICLES[:3]}
    skipped = rows(db, "SELECT message FROM fetch_errors WHERE kind = 'entry-skipped'")
    assert len(skipped) == 3, skipped


def test_a_crawl_has_download_handlers_for_http_and_https_only(tmp_path):
    from scrapy.settings import default_settings
    from scrapy.utils.misc import load_object

    from crawler.config.model import SHIPPED_CONFIG, load_config
    from crawler.crawl.process import scrapy_settings

    handlers = {**default_settings.DOWNLOAD_HANDLERS_BASE,
                **scrapy_settings(load_config(SHIPPED_CONFIG), tmp_path / "x.db")[
                    "DOWNLOAD_HANDLERS"]}
    assert {scheme for scheme, path in handlers.items() if path} == {"http", "https"}
    for path in filter(None, handlers.values()):
        load_object(path)


FEED_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "feedparser"
FEED_SUFFIXES = (".xml", ".rdf", ".atom", ".rss")


def corpus_feeds() -> list[Path]:
    return sorted(p for p in FEED_CORPUS.rglob("*") if p.suffix in FEED_SUFFIXES)


@pytest.mark.skipif(not FEED_CORPUS.is_dir(), reason="../shared/corpus/feedparser is missing")
def test_every_entry_of_feedparsers_corpus_is_read_or_skipped_with_a_reason():
    """feedparser's 2,100 test feeds (ill-formed, every encoding and format) through the
    feed spider's reading of entries: nothing raises, and every entry with a link is
    either an http(s) URL to fetch or a reason to skip it."""
    from spiders.feed import entry_hint, read_feed

    feeds, with_link = corpus_feeds(), 0
    assert len(feeds) > 2000
    for path in feeds:
        url = f"http://127.0.0.1:8000/{path.relative_to(FEED_CORPUS)}"
        parsed, _ = read_feed(path.read_bytes(), url)
        for entry in parsed.entries:
            hint = entry_hint(entry, url)
            if hint is None:
                continue
            with_link += 1
            try:
                assert entry_url(hint.url, url).startswith(("http://", "https://"))
            except BadLink as exc:
                assert str(exc)
    assert with_link > 100


@pytest.mark.skipif(not FEED_CORPUS.is_dir(), reason="../shared/corpus/feedparser is missing")
def test_a_crawl_of_feedparsers_corpus_ends_with_every_source_accounted_for(tmp_path):
    """Every feed of the corpus (2,106), served on 127.0.0.1 and crawled as a feed source,
    all in one `veille crawl`: it ends, no traceback, every source has its run, nothing
    times out, and every entry is a warning row, an article or a failed fetch."""
    from crawler.demo import SiteServer
    from spiders.feed import entry_hint, read_feed

    feeds = corpus_feeds()
    site_root = tmp_path / "site"
    site_root.mkdir()
    for k, path in enumerate(feeds):
        (site_root / f"feed-{k}.xml").write_bytes(path.read_bytes())
    with SiteServer(site_root) as site:
        sources = "".join(f'[[source]]\nid = "corpus-{k}"\nkind = "feed"\n'
                          f'url = "{{site}}/feed-{k}.xml"\n\n' for k in range(len(feeds)))
        # robots.txt is not what this test reads: one request per feed, not two.
        config = write_config(tmp_path / "veille.toml", site.origin, sources,
                              crawl="obey_robots = false\nconcurrency_per_domain = 16\n")
        db = tmp_path / "veille.db"
        result = crawl(config, db, "--quiet")
        elsewhere, here = 0, set()  # entries without a link or off the site; site pages
        for k, path in enumerate(feeds):
            url = site.url(f"/feed-{k}.xml")
            parsed, _ = read_feed(path.read_bytes(), url)
            for hint in (entry_hint(e, url) for e in parsed.entries):
                if hint is None:  # an entry without a link is skipped too
                    elsewhere += 1
                    continue
                try:
                    link = entry_url(hint.url, url)
                except BadLink:
                    elsewhere += 1
                    continue
                if link.startswith(site.origin + "/"):
                    here.add(canonicalize(link))
                else:
                    elsewhere += 1
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode in (0, 1, 3), result.stderr[-2000:]
    runs = rows(db, "SELECT source_id, status FROM crawl_runs")
    assert {r["source_id"] for r in runs} == {f"corpus-{k}" for k in range(len(feeds))}
    assert len(runs) == len(feeds) > 2000
    assert rows(db, "SELECT url FROM fetch_errors WHERE kind = 'timeout'") == []
    # Each entry linking elsewhere is skipped with a warning; each page of the site listed
    # (by one feed or several) is stored or its failed fetch recorded: never silently gone.
    [skipped] = rows(db, "SELECT count(*) AS n FROM fetch_errors WHERE kind = 'entry-skipped'")
    assert skipped["n"] == elsewhere > 50
    reached = {canonicalize(r["url"]) for r in rows(
        db, "SELECT url FROM fetch_errors UNION SELECT url FROM article_urls")}
    assert here and here <= reached


def test_a_listing_of_100000_links_is_capped_with_a_warning(mini_site, tmp_path):
    """A feed of 100,000 entries on the site's own host: the first `max_links_per_listing`
    (20 here; 1,000 by default) are followed, with one warning saying so."""
    o = mini_site.origin
    serve_feed(mini_site, "/flood.xml", [f"{o}/flood/{k}.html" for k in range(100_000)])
    config = write_config(tmp_path / "veille.toml", o, """
[[source]]
id = "flood"
kind = "feed"
url = "{site}/flood.xml"
""", crawl="max_links_per_listing = 20\n")
    db = tmp_path / "veille.db"
    result = crawl(config, db, "--quiet")
    assert "Traceback" not in result.stderr
    assert mini_site.requests_under("/flood/") == 20
    [warning] = rows(db, "SELECT message FROM fetch_errors WHERE kind = 'listing-capped'")
    assert warning["message"] == (
        "100000 article links; the first 20 are followed (max_links_per_listing)")


@pytest.mark.skipif(not FEED_CORPUS.is_dir(), reason="../shared/corpus/feedparser is missing")
def test_every_feed_of_feedparsers_corpus_goes_through_the_feed_spider(tmp_path):
    """All 2,106 feeds of the corpus through the feed spider's own callback, as a crawl
    would hand it each one: nothing raises, and every entry is an article request, a
    repeat of an earlier entry of its feed, or an `entry-skipped` row saying why."""
    import scrapy
    from scrapy.http import Response
    from scrapy.utils.test import get_crawler

    from crawler.config.model import Source
    from crawler.crawl.items import FetchErrorItem
    from crawler.record.store import Store
    from spiders.feed import FeedSpider, read_feed

    db = tmp_path / "veille.db"
    source = Source(id="corpus", name="Corpus", kind="feed", url="http://127.0.0.1:8000/")
    with Store.open(db) as store:
        store.sync_sources([source])
        run_id = store.start_run(source.id, 1)
    crawler = get_crawler(FeedSpider, settings_dict={
        "VEILLE_DB": str(db), "VEILLE_MAX_LINKS_PER_LISTING": 100_000})
    crawler.stats.set_value("veille/run_id", run_id)
    spider = FeedSpider.from_crawler(crawler, source=source)
    feeds, entries, requested, skipped = corpus_feeds(), 0, 0, 0
    try:
        for path in feeds:
            url = f"http://127.0.0.1:8000/{path.relative_to(FEED_CORPUS)}"
            spider.listed = set()  # each feed as the first of its run
            request = scrapy.Request(url, meta={"veille_poll": (url, None)})
            response = Response(url, body=path.read_bytes(), request=request)
            out = list(spider.parse_feed(response))
            parsed, _ = read_feed(response.body, url)
            fetched = [o for o in out if isinstance(o, scrapy.Request)]
            dropped = [o for o in out if isinstance(o, FetchErrorItem)
                       and o.kind == "entry-skipped"]
            repeats = len(parsed.entries) - len(fetched) - len(dropped)
            if out and isinstance(out[0], FetchErrorItem) and out[0].fatal:
                assert not parsed.entries, (path, out[0].message)
                continue
            assert repeats >= 0, path
            assert repeats == len(parsed.entries) - len(
                {canonicalize(r.url) for r in fetched}) - len(dropped), path
            entries += len(parsed.entries)
            requested += len(fetched)
            skipped += len(dropped)
    finally:
        spider.spider_closed("finished")
    # Most of the corpus links to example.com and the like: off the source's host.
    assert len(feeds) > 2000 and entries > 1000
    assert requested >= 10 and skipped > 1000
