"""Gaps: a poll whose items are all new after an earlier successful poll. The crawl reads
further (the feed's next pages, a topic page's pages past max_pages, the site's sitemap
for the interval), records one `gap` event, and the adaptive schedule polls faster.

The sites are generated here: invented dispatches (a few sentences drawn from a word list
per article, so no two texts are alike), served on 127.0.0.1 by the fixtures' SiteServer.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import crawl, rows, write_config

from crawler.cli import cli
from crawler.clock import stamp
from crawler.config.model import ScheduleSettings, Source
from crawler.demo import SiteServer
from crawler.record.events import record_gap
from crawler.record.store import Store
from crawler.serve import build_datasette
from scheduler.schedules import adaptive_interval

PER_PAGE = 20  # items per feed page
WORDS = (
    "convoy ceasefire village bridge ministry delegation refugees border shelling harvest "
    "hospital envoy talks corridor drone power station river mayor council governor trucks "
    "aid wounded negotiators militia capital province checkpoint observers court curfew "
    "election ballots protest fuel shortage airport embassy sanctions monitors winter "
    "schools water pipeline road reconstruction displaced families port grain mission"
).split()


class NewsSite:
    """A news site whose articles are published as a test goes: article pages under
    /news/, its feed (pages of 20, the later ones linked by RFC 5005 rel="next" when
    `paged`), a topic listing (pages of `per_listing`, linked by rel="next"), and
    whatever else a test serves (robots.txt, sitemaps) through `site.overrides`."""

    def __init__(self, site: SiteServer, paged: bool = True, per_listing: int = 10):
        self.site = site
        self.paged = paged
        self.per_listing = per_listing
        self.articles: list[tuple[int, datetime]] = []  # (number, published), oldest first

    def path(self, n: int) -> str:
        return f"/news/dispatch-number-{n}-from-the-front.html"

    def publish(self, count: int, newest: datetime | None = None) -> list[int]:
        """`count` new articles, a minute apart, the last one at `newest` (now)."""
        newest = newest or datetime.now(UTC)
        first = len(self.articles) + 1
        numbers = list(range(first, first + count))
        for k, n in enumerate(numbers):
            published = newest - timedelta(minutes=count - 1 - k)
            self.articles.append((n, published))
            self.site.overrides[self.path(n)] = (200, {"Content-Type": "text/html"},
                                                 article_page(n, published))
        self.serve_feed()
        self.serve_listing()
        return numbers

    def newest_first(self) -> list[tuple[int, datetime]]:
        return list(reversed(self.articles))

    def serve_feed(self) -> None:
        items = self.newest_first()
        pages = [items[i:i + PER_PAGE] for i in range(0, len(items), PER_PAGE)] or [[]]
        if not self.paged:
            pages = pages[:1]
        for index, page in enumerate(pages, start=1):
            path = "/feed.xml" if index == 1 else f"/feed/{index}.xml"
            more = index < len(pages)
            self.site.overrides[path] = (200, {"Content-Type": "application/rss+xml"},
                                         self.feed(page, f"/feed/{index + 1}.xml" if more
                                                   else None))

    def feed(self, entries: list[tuple[int, datetime]], next_path: str | None) -> bytes:
        origin = self.site.origin
        items = "".join(
            f"<item><title>{escape(title(n))}</title><link>{origin}{self.path(n)}</link>"
            f"<guid>{origin}{self.path(n)}</guid><pubDate>{rfc822(when)}</pubDate></item>"
            for n, when in entries)
        link = (f'<atom:link rel="next" href="{origin}{next_path}"/>' if next_path else "")
        return ('<?xml version="1.0"?><rss version="2.0" '
                'xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>Front</title>'
                f"<link>{origin}/</link>{link}{items}</channel></rss>").encode()

    def serve_listing(self) -> None:
        items = self.newest_first()
        size = self.per_listing
        pages = [items[i:i + size] for i in range(0, len(items), size)] or [[]]
        for index, page in enumerate(pages, start=1):
            path = "/latest/" if index == 1 else f"/latest/p{index}/"
            more = index < len(pages)
            self.site.overrides[path] = (200, {"Content-Type": "text/html"},
                                         self.listing(page, f"/latest/p{index + 1}/" if more
                                                      else None))

    def listing(self, entries: list[tuple[int, datetime]], next_path: str | None) -> bytes:
        cards = "".join(
            f'<article class="card"><h2><a href="{self.path(n)}">{escape(title(n))}</a></h2>'
            f'<time datetime="{stamp(when)}">{when:%H:%M}</time></article>'
            for n, when in entries)
        more = f'<a rel="next" href="{next_path}">Next</a>' if next_path else ""
        return (f"<html><head><title>Latest</title></head><body><main>{cards}"
                f"<nav class=\"pages\">{more}</nav></main></body></html>").encode()

    def sitemap(self, entries: list[tuple[str, datetime]]) -> bytes:
        urls = "".join(f"<url><loc>{self.site.origin}{path}</loc>"
                       f"<lastmod>{stamp(when)}</lastmod></url>" for path, when in entries)
        return ('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/'
                f'sitemap/0.9">{urls}</urlset>').encode()

    def hits(self, numbers: list[int]) -> int:
        return sum(self.site.hits[self.path(n)] for n in numbers)


def title(n: int) -> str:
    return f"Dispatch {n}: {' '.join(words(n, 6)).capitalize()}"


def words(n: int, count: int) -> list[str]:
    rng = random.Random(n)
    return [rng.choice(WORDS) for _ in range(count)]


def article_page(n: int, published: datetime) -> bytes:
    paragraphs = "".join(f"<p>{' '.join(words(n * 100 + k, 30)).capitalize()}.</p>"
                         for k in range(4))
    return (f'<html lang="en"><head><title>{escape(title(n))}</title>'
            f'<meta property="article:published_time" content="{stamp(published)}"></head>'
            f"<body><article><h1>{escape(title(n))}</h1>{paragraphs}</article></body>"
            "</html>").encode()


def rfc822(when: datetime) -> str:
    return when.strftime("%a, %d %b %Y %H:%M:%S +0000")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[SiteServer]:
    root = tmp_path / "site"
    root.mkdir()
    with SiteServer(root) as server:
        server.overrides["/robots.txt"] = (200, {"Content-Type": "text/plain"},
                                           b"User-agent: *\nAllow: /\n")
        yield server


def config(tmp_path: Path, site: SiteServer, kind: str = "feed", extra: str = "",
           crawl_extra: str = "") -> Path:
    url = "{site}/feed.xml" if kind == "feed" else "{site}/latest/"
    return write_config(tmp_path / "veille.toml", site.origin,
                        f'[[source]]\nid = "front"\nkind = "{kind}"\nurl = "{url}"\n{extra}',
                        crawl=crawl_extra)


def crawled(cfg: Path, db: Path) -> dict:
    """`veille crawl`, then its run's row."""
    result = crawl(cfg, db)
    assert result.returncode == 0, result.stdout + result.stderr
    return rows(db, "SELECT * FROM crawl_runs ORDER BY id DESC LIMIT 1")[0]


def stored(db: Path, news: NewsSite, numbers: list[int]) -> int:
    urls = {news.site.origin + news.path(n) for n in numbers}
    return sum(row["url"] in urls for row in rows(db, "SELECT url FROM article_urls"))


def gaps(db: Path) -> list[dict]:
    return rows(db, "SELECT * FROM source_events WHERE kind = 'gap' ORDER BY id")


# -- detection and filling ------------------------------------------------------------------


def test_a_feed_of_20_that_publishes_50_between_polls_recovers_them_from_its_next_pages(
        site, tmp_path):
    news = NewsSite(site)
    cfg, db = config(tmp_path, site), tmp_path / "veille.db"
    news.publish(20)
    first = crawled(cfg, db)
    assert first["new"] == 20 and gaps(db) == []  # a first crawl: everything is new, no gap

    published = news.publish(50)  # the feed shows the newest 20; 30 went to pages 2 and 3
    result = crawl(cfg, db)
    assert result.returncode == 0, result.stdout + result.stderr
    # `veille crawl` says so (not with --quiet: a gap filled is no failure).
    assert ("front  gap: every one of the 20 feed items was new: 30 articles recovered "
            "from 2 next pages (since ") in result.stdout
    second = rows(db, "SELECT * FROM crawl_runs ORDER BY id DESC LIMIT 1")[0]
    assert stored(db, news, published) >= 45
    assert stored(db, news, published) == 50 and second["new"] == 50
    assert second["status"] == "ok"
    [gap] = gaps(db)
    assert (gap["source_id"], gap["run_id"], gap["count"]) == ("front", second["id"], 30)
    assert (gap["since"], gap["until"]) == (first["started_at"], second["started_at"])
    assert gap["message"] == (
        f"every one of the 20 feed items was new: 30 articles recovered from 2 next pages "
        f"(since {first['started_at']})")
    evidence = json.loads(gap["evidence"])
    assert evidence["next_pages"] == [site.url("/feed/2.xml"), site.url("/feed/3.xml")]
    assert evidence["bridged"] is True  # page 3 reached the articles the first poll stored
    assert site.hits["/feed/4.xml"] == 0  # nothing read past the known items
    assert news.hits(list(range(1, 21))) == 1 * 20  # the first 20 fetched once, in poll 1


def test_a_feed_without_next_pages_recovers_from_the_sitemap_robots_txt_names(site, tmp_path):
    news = NewsSite(site, paged=False)
    cfg, db = config(tmp_path, site, extra='topic = "Caucase"\n'), tmp_path / "veille.db"
    news.publish(20)
    crawled(cfg, db)
    published = news.publish(50)
    old = datetime.now(UTC) - timedelta(days=3)
    # An index of two sitemaps: this month's, changed now, and an old one it skips. The
    # recent one also lists old articles never seen: not in the interval, not fetched.
    stale = [f"/news/2026/10/01/old-report-number-{k}-from-archive.html" for k in range(5)]
    site.overrides["/robots.txt"] = (200, {"Content-Type": "text/plain"},
                                     f"User-agent: *\nAllow: /\nSitemap: {site.origin}"
                                     "/sitemap-index.xml\n".encode())
    site.overrides["/sitemap-index.xml"] = (200, {"Content-Type": "application/xml"}, (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/'
        f'sitemap/0.9"><sitemap><loc>{site.origin}/sitemap-recent.xml</loc>'
        f"<lastmod>{stamp(datetime.now(UTC))}</lastmod></sitemap>"
        f"<sitemap><loc>{site.origin}/sitemap-2025.xml</loc><lastmod>2025-12-31</lastmod>"
        "</sitemap></sitemapindex>").encode())
    site.overrides["/sitemap-recent.xml"] = (200, {"Content-Type": "application/xml"},
                                             news.sitemap(
        [(news.path(n), when) for n, when in news.newest_first()]
        + [(path, old) for path in stale]))
    second = crawled(cfg, db)
    assert stored(db, news, published) == 50 and second["status"] == "ok"
    [gap] = gaps(db)
    assert gap["count"] == 30
    assert gap["message"].startswith("every one of the 20 feed items was new: 30 articles "
                                     "recovered from 2 sitemap documents (since ")
    assert json.loads(gap["evidence"])["sitemaps"] == [site.url("/sitemap-index.xml"),
                                                       site.url("/sitemap-recent.xml")]
    assert site.hits["/sitemap-2025.xml"] == 0
    assert sum(site.hits[path] for path in stale) == 0
    # The site's sitemap lists every article of the site: those it gave are credited to
    # the source that led to them, without its topic label (the feed's own items keep it).
    topics = rows(db, "SELECT p.topic, count(*) AS n FROM article_sources p "
                      "GROUP BY p.topic ORDER BY p.topic")
    assert topics == [{"topic": None, "n": 30}, {"topic": "Caucase", "n": 40}]
    assert rows(db, "SELECT count(*) AS n FROM articles WHERE topic = 'Caucase'") == [
        {"n": 40}]


def test_a_topic_page_reads_past_max_pages_to_fill_a_gap(site, tmp_path):
    news = NewsSite(site, per_listing=10)
    cfg, db = config(tmp_path, site, "topic", "max_pages = 2\n"), tmp_path / "veille.db"
    news.publish(10)
    crawled(cfg, db)
    published = news.publish(35)  # pages: 45-36, 35-26, 25-16, 15-6 (10 known), 5-1
    second = crawled(cfg, db)
    assert stored(db, news, published) == 35
    [gap] = gaps(db)
    # Page 2 (within max_pages), then 3 and 4 past it; page 4 shows known links: it stops.
    assert gap["count"] == 25
    assert gap["message"].startswith("every one of the 10 listing links was new: 25 "
                                     "articles recovered from 3 next pages")
    assert site.hits["/latest/p4/"] == 1 and site.hits["/latest/p5/"] == 0
    assert second["status"] == "ok"


def test_no_gap_on_an_ordinary_poll_or_an_unchanged_one(site, tmp_path):
    news = NewsSite(site)
    cfg, db = config(tmp_path, site), tmp_path / "veille.db"
    news.publish(20)
    crawled(cfg, db)
    news.publish(5)  # 5 new, 15 known: the feed was polled often enough
    assert crawled(cfg, db)["new"] == 5
    assert crawled(cfg, db)["new"] == 0  # the same feed: not even parsed
    assert gaps(db) == []
    assert site.hits["/feed/2.xml"] == 0 and site.hits["/sitemap.xml"] == 0


def test_links_whose_fetches_failed_at_the_last_poll_are_known_and_make_no_gap(site, tmp_path):
    """A poll that showed 20 links whose pages all failed, then shows them again: every
    article is new to the record, yet the links were listed before: no gap."""
    news = NewsSite(site)
    cfg, db = config(tmp_path, site), tmp_path / "veille.db"
    news.publish(20)
    crawled(cfg, db)
    news.publish(20)  # the second poll: 20 new articles, whose pages then fail
    pages = {news.path(n): site.overrides[news.path(n)] for n in range(21, 41)}
    for path in pages:
        site.overrides[path] = (500, {"Content-Type": "text/html"}, b"down")
    failing = crawl(cfg, db)
    assert failing.returncode != 0
    [failed_run] = rows(db, "SELECT status, new FROM crawl_runs ORDER BY id DESC LIMIT 1")
    assert failed_run["new"] == 0 and failed_run["status"] in ("ok", "partial")
    assert len(gaps(db)) == 1  # that poll's links were all new: a gap (nothing recovered)
    site.overrides.update(pages)
    third = crawled(cfg, db)
    assert third["new"] == 20
    assert len(gaps(db)) == 1  # the same 20 links again: listed before, no second gap
    assert site.hits["/feed/2.xml"] == 1  # read for the first gap only


def test_extra_documents_that_fail_are_warnings_and_the_gap_is_recorded_with_0(site, tmp_path):
    news = NewsSite(site)
    cfg, db = config(tmp_path, site), tmp_path / "veille.db"
    news.publish(20)
    crawled(cfg, db)
    news.publish(30)
    site.overrides["/feed/2.xml"] = (500, {"Content-Type": "text/html"}, b"oops")
    del site.overrides["/robots.txt"]  # none: the sitemap at /sitemap.xml, not there either
    second = crawled(cfg, db)
    assert second["status"] == "ok" and second["new"] == 20
    [gap] = gaps(db)
    assert gap["count"] == 0
    assert gap["message"].endswith("; 2 documents could not be read")
    warnings = rows(db, "SELECT url, message FROM fetch_errors WHERE kind = 'gap-fill' "
                        "ORDER BY id")
    assert [w["url"] for w in warnings] == [site.url("/feed/2.xml"), site.url("/sitemap.xml")]
    assert all("\n" not in w["message"] and w["message"].startswith("gap: ")
               for w in warnings)


def test_gap_pages_0_records_the_gap_and_reads_nothing_further(site, tmp_path):
    news = NewsSite(site)
    cfg = config(tmp_path, site, crawl_extra="gap_pages = 0\n")
    db = tmp_path / "veille.db"
    news.publish(20)
    crawled(cfg, db)
    news.publish(50)
    crawled(cfg, db)
    [gap] = gaps(db)
    assert gap["count"] == 0 and site.hits["/feed/2.xml"] == 0
    assert "nothing further to read" in gap["message"]


# -- what uses the record of gaps ---------------------------------------------------------

T0 = datetime.now(UTC).replace(second=0, microsecond=0)  # `veille sources` counts 7 days


@pytest.fixture
def gap_record(tmp_path: Path) -> Path:
    """A record with two runs of source "front" and a gap found by the second."""
    db_path = tmp_path / "veille.db"
    with Store.open(db_path, clock=lambda: T0) as store:
        store.sync_sources([Source("front", "Front page", "feed", "https://example.org/f")])
        for minutes, new in ((60, 20), (20, 50)):
            run = store.db["crawl_runs"].insert({
                "source_id": "front", "started_at": stamp(T0 - timedelta(minutes=minutes)),
                "ended_at": stamp(T0 - timedelta(minutes=minutes - 1)), "status": "ok",
                "new": new}).last_pk
        record_gap(store.db, run, "front", stamp(T0 - timedelta(minutes=60)), 30,
                   "every one of the 20 feed items was new: 30 articles recovered from 2 "
                   "next pages (since ...)", {"next_pages": []},
                   stamp(T0 - timedelta(minutes=19)) or "")
    return db_path


def test_an_adaptive_source_with_a_gap_is_polled_twice_as_often(gap_record):
    source = Source("front", "Front page", "feed", "https://example.org/f", adaptive=True)
    settings = ScheduleSettings(min_every_seconds=60, max_every_seconds=7200)
    with Store.open(gap_record) as store:
        with_gap = adaptive_interval(store.db, source, settings, T0)
        bounded = replace(source, min_every_seconds=1000)
        assert adaptive_interval(store.db, bounded, settings, T0) == 1000  # not below it
        store.db.execute("DELETE FROM source_events")
        without = adaptive_interval(store.db, source, settings, T0)
        # 70 new in 48 h: half the average spacing (1234 s), then halved for the gap
        assert without == pytest.approx(48 * 3600 / 70 / 2)
        assert with_gap == pytest.approx(without / 2)
        # a gap older than the 48-hour window no longer counts
        record_gap(store.db, 2, "front", None, 0, "old", {},
                   stamp(T0 - timedelta(hours=49)) or "")
        assert adaptive_interval(store.db, source, settings, T0) == without


def test_veille_sources_shows_the_gaps(gap_record, tmp_path):
    cfg = write_config(tmp_path / "veille.toml", "https://example.org",
                       '[[source]]\nid = "front"\nname = "Front page"\nkind = "feed"\n'
                       'url = "https://example.org/f"\n')
    runner = CliRunner()
    table = runner.invoke(cli, ["--config", str(cfg), "--db", str(gap_record), "sources"])
    assert table.exit_code == 0, table.output
    header, *lines = [line for line in table.output.splitlines() if line.strip()]
    assert "gaps 7d" in header
    column = header.index("gaps 7d")
    assert lines[-1][column:column + 7].strip() == "1"
    listed = runner.invoke(cli, ["--config", str(cfg), "--db", str(gap_record), "sources",
                                 "--json"])
    [row] = json.loads(listed.output)
    assert row["gaps_7d"] == 1 and row["last_gap_recovered"] == 30
    assert row["last_gap"].startswith("every one of the 20 feed items was new")
    assert row["last_gap_at"] == stamp(T0 - timedelta(minutes=19))


def test_datasette_shows_the_gaps(gap_record):
    ds = build_datasette(gap_record)

    async def get(path: str):
        return await ds.client.get(path)

    table = asyncio.run(get("/veille/source_events.json?_shape=array")).json()
    assert [(r["kind"], r["count"]) for r in table] == [("gap", 30)]
    page = asyncio.run(get("/veille/source_events")).text
    assert "a poll whose items were all new" in page  # the table's description
    front = asyncio.run(get("/")).text
    assert "gap" in front and "30 recovered" in front
    health = asyncio.run(get("/veille/source_health.json?_shape=array")).json()
    assert health[0]["last_gap_at"] == stamp(T0 - timedelta(minutes=19))


# -- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(("keys", "message"), [
    ('kind = "sitemap"\ngap_pages = 3', "'gap_pages' only applies to a topic page or a feed"),
    ('kind = "sitemap"\nsitemap = false', "'sitemap' only applies to a topic page or a feed"),
    ('kind = "feed"\nsitemap = "ftp://example.org/s.xml"', "is not an absolute http(s) URL"),
    ('kind = "feed"\nsitemap = 3', "sitemap"),
    ('kind = "feed"\ngap_pages = 101', "gap_pages = 101: must be between 0 and 100"),
])
def test_bad_gap_settings_are_refused(tmp_path, keys, message):
    from crawler.config.model import load_config
    from crawler.errors import ConfigError

    path = tmp_path / "veille.toml"
    path.write_text(f'[[source]]\nid = "s"\nurl = "https://example.org/f"\n{keys}\n')
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(path)


def test_gap_settings_are_read(tmp_path):
    from crawler.config.model import load_config

    path = tmp_path / "veille.toml"
    path.write_text('[crawl]\ngap_pages = 4\n[[source]]\nid = "a"\nkind = "feed"\n'
                    'url = "https://example.org/f"\nsitemap = "https://example.org/news.xml"\n'
                    '[[source]]\nid = "b"\nkind = "topic"\nurl = "https://example.org/t"\n'
                    'sitemap = false\ngap_pages = 0\n')
    config = load_config(path)
    assert config.crawl.gap_pages == 4
    assert [(s.sitemap, s.gap_pages) for s in config.sources] == [
        ("https://example.org/news.xml", None), (False, 0)]
