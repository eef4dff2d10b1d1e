"""Overlapping sources: one fetch per article per crawl, and every source that listed it.

The demo site is one newsroom's view of three outlets through eight overlapping doors
(topic listings, feeds, a sitemap); the fixture server counts every request. A second
site, served here, holds its article pages until two `veille crawl` processes have both
read their listings, so that the two runs overlap in time for certain.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import PROJECT, crawl, rows, write_config

from crawler.config.model import Conflict, Source, Subscription
from crawler.config.subscriptions import FeedChannel
from crawler.crawl.normalize import content_hash
from crawler.page.links import DEAD, ELSEWHERE, FETCH, UNCHANGED, Link
from crawler.record.article import StoredArticle
from crawler.record.outbox import Outbox, sync_alerting
from crawler.record.store import Store

PROVENANCE = (
    "SELECT a.canonical_url, p.source_id, p.topic, p.listed_at FROM article_sources p "
    "JOIN articles a ON a.id = p.article_id ORDER BY 1, 2"
)


def _per_source_subscriptions(config: Path, source_ids: list[str]) -> None:
    """One Atom subscription per source, limited to it, following every demo conflict."""
    text = config.read_text(encoding="utf-8")
    for sid in source_ids:
        text += (f'\n[[subscription]]\nid = "only-{sid}"\nname = "Only {sid}"\n'
                 f'conflicts = ["karabakh", "ukraine", "sudan", "sahel"]\n'
                 f'sources = ["{sid}"]\n[subscription.feed]\ntitle = "Only {sid}"\n')
    config.write_text(text, encoding="utf-8")


def test_overlapping_sources_fetch_each_article_once_and_all_are_credited(
        demo_site, demo_config, tmp_path):
    source_ids = [r["id"] for r in _sources(demo_config)]
    _per_source_subscriptions(demo_config, source_ids)
    first_db, second_db = tmp_path / "first.db", tmp_path / "second.db"

    first = crawl(demo_config, first_db)
    assert first.returncode == 0, first.stderr
    # Every listing, feed, sitemap and article page was requested once; only robots.txt
    # is asked by each source's crawler until one copy is cached.
    again = {path: n for path, n in demo_site.hits.items() if n > 1 and path != "/robots.txt"}
    assert again == {}
    assert len(rows(first_db, "SELECT id FROM articles")) == 36

    # The summary counts the links left to another source, not "unchanged".
    total = first.stdout.strip().splitlines()[-1]
    assert "36 new, 0 updated, 0 unchanged" in total, first.stdout
    runs = rows(first_db, "SELECT source_id, new, unchanged, fetched_elsewhere FROM crawl_runs")
    elsewhere = sum(r["fetched_elsewhere"] for r in runs)
    assert f"{elsewhere} fetched by another source" in total
    assert elsewhere > 30 and all(r["unchanged"] == 0 for r in runs)

    # Provenance: the sitemap lists all 22 Levant articles, whoever fetched them.
    listed = Counter(r["source_id"] for r in rows(first_db, "SELECT source_id FROM "
                                                            "article_sources"))
    assert listed["levant-sitemap"] == 22 and listed["levant-rss"] == 22
    assert listed["levant-karabakh"] > 0 and listed["gazette-rss"] == 6
    # Each topic listing's label is kept on its row.
    labels = {r["topic"] for r in rows(first_db, "SELECT topic FROM article_sources WHERE "
                                                  "source_id = 'levant-karabakh'")}
    assert labels == {"Nagorny Karabakh"}

    # Subscriptions limited to one source get every article that source lists (and that
    # matches), not just those it happened to fetch first.
    for sid in source_ids:
        owed = {r["story_id"] for r in rows(
            first_db, "SELECT DISTINCT a.story_id FROM article_sources p "
                      "JOIN articles a ON a.id = p.article_id "
                      "JOIN article_conflicts c ON c.article_id = a.id "
                      "WHERE p.source_id = ?", [sid])}
        alerted = {r["story_id"] for r in rows(
            first_db, "SELECT story_id FROM alerts WHERE subscription_id = ?", [f"only-{sid}"])}
        assert alerted == owed, sid

    # The same crawl again, into a new database: the same provenance, row for row.
    demo_site.reset_hits()
    second = crawl(demo_config, second_db)
    assert second.returncode == 0, second.stderr
    assert rows(first_db, PROVENANCE) == rows(second_db, PROVENANCE)
    assert _alert_keys(first_db) == _alert_keys(second_db)


def _alert_keys(db: Path) -> set[tuple[str, str]]:
    """(subscription, story) of each alert, a story named by all its articles' URLs (which
    copy of a wire story came first may differ from one crawl to the next)."""
    return {(r["subscription_id"], r["urls"]) for r in rows(
        db, "SELECT al.subscription_id, (SELECT group_concat(canonical_url, ' ') FROM "
            "(SELECT canonical_url FROM articles a WHERE a.story_id = al.story_id "
            "ORDER BY canonical_url)) AS urls FROM alerts al")}


def _sources(config: Path) -> list[dict]:
    import tomllib

    return tomllib.loads(config.read_text(encoding="utf-8"))["source"]


# -- two processes at once ----------------------------------------------------------------

ARTICLE_WORDS = (
    "The harbour council met on a grey morning to weigh the ferry timetable, the price of "
    "diesel and the state of the northern quay, where three mooring posts have cracked "
    "since the spring storms and the fishermen now tie up two boats to each remaining post "
)


class GatedSite:
    """Two RSS feeds and one topic page listing the same articles; one article is also
    listed under a short link that redirects to it. Article pages wait until both feeds
    have been served (or 30 s), so that the crawls reading them overlap."""

    ARTICLES = ("/news/harbour-council-weighs-ferry-timetable.html",
                "/news/quay-repairs-to-start-before-winter.html",
                "/news/fishermen-share-mooring-posts.html")

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.feeds_served: set[str] = set()
        self.both_read = threading.Event()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                site.hits[self.path] += 1
                status, kind, body, extra = site.answer(self.path)
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, path: str) -> tuple[int, str, bytes, dict[str, str]]:
        if path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nDisallow:\n", {}
        if path in ("/a.xml", "/b.xml"):
            self.feeds_served.add(path)
            if len(self.feeds_served) == 2:
                self.both_read.set()
            links = [*self.ARTICLES] if path == "/a.xml" else ["/go/ferry", *self.ARTICLES[1:]]
            items = "".join(
                f"<item><title>Item {n}</title><link>{self.origin}{link}</link>"
                f"<category>{'Port' if path == '/a.xml' else 'Harbour'}</category>"
                f"<pubDate>Fri, 20 Nov 2026 0{n}:00:00 +0000</pubDate></item>"
                for n, link in enumerate(links, 1))
            feed = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{path}</title>'
                    f"<link>{self.origin}/</link><description>d</description>{items}"
                    f"</channel></rss>")
            return 200, "application/rss+xml", feed.encode(), {}
        if path == "/go/ferry":
            return 301, "text/plain", b"", {"Location": self.origin + self.ARTICLES[0]}
        if path in self.ARTICLES:
            self.both_read.wait(30)
            n = self.ARTICLES.index(path)
            title = path.rsplit("/", 1)[1].removesuffix(".html").replace("-", " ").title()
            body = " ".join(f"<p>{ARTICLE_WORDS} (part {k} of story {n}).</p>" for k in range(4))
            page = (f"<html><head><title>{title}</title>"
                    f'<link rel="canonical" href="{self.origin}{path}"></head>'
                    f"<body><article><h1>{title}</h1>{body}</article></body></html>")
            return 200, "text/html; charset=utf-8", page.encode(), {}
        return 404, "text/plain", b"not found", {}

    def __enter__(self) -> GatedSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.both_read.set()
        self.server.shutdown()
        self.server.server_close()


GATED_SOURCES = """
[[source]]
id = "port-a"
kind = "feed"
url = "{site}/a.xml"

[[source]]
id = "port-b"
kind = "feed"
url = "{site}/b.xml"
"""


def test_two_crawl_processes_at_once_fetch_each_article_once(tmp_path):
    with GatedSite() as site:
        config = write_config(tmp_path / "veille.toml", site.origin, GATED_SOURCES)
        fresh = tmp_path / "fresh.db"
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "crawler", "--config", str(config), "--db", str(fresh),
                 "crawl", "--no-progress", "--source", sid],
                cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for sid in ("port-a", "port-b")
        ]
        outputs = [p.communicate(timeout=120) for p in procs]
        assert all(p.returncode == 0 for p in procs), outputs
        assert site.both_read.is_set()
    # Each article page once, although both processes listed all three, one of them
    # through a link that redirects.
    assert [site.hits[path] for path in GatedSite.ARTICLES] == [1, 1, 1], site.hits
    assert len(rows(fresh, "SELECT id FROM articles")) == 3
    provenance = {(r["canonical_url"].rsplit("/", 1)[1], r["source_id"], r["topic"])
                  for r in rows(fresh, PROVENANCE)}
    assert provenance == {(path.rsplit("/", 1)[1], sid, label)
                          for path in GatedSite.ARTICLES
                          for sid, label in (("port-a", "Port"), ("port-b", "Harbour"))}
    runs = rows(fresh, "SELECT source_id, new, fetched_elsewhere FROM crawl_runs")
    assert sum(r["new"] for r in runs) == 3
    assert sum(r["fetched_elsewhere"] for r in runs) == 3
    assert rows(fresh, "SELECT * FROM fetch_claims") == []


# -- the store's part ------------------------------------------------------------------


class ArticleFactory:
    """Sources and stored articles of the store tests."""

    @staticmethod
    def source(sid: str) -> Source:
        return Source(id=sid, name=f"Source {sid}", kind="feed", url=f"https://{sid}.example/")

    @staticmethod
    def article(source_id: str, url: str, published: str = "2026-11-20T08:00:00Z"
                ) -> StoredArticle:
        body = " ".join(f"{ARTICLE_WORDS} ({url}, {k})" for k in range(3))
        return StoredArticle(
            source_id=source_id, canonical_url=url, urls=((url, "canonical"),),
            title="Valley roads reopen", lead=None, body=body, authors=(), topic=None,
            section=None, published_at=published, published_local=None, updated_at=None,
            updated_local=None, image_url=None, image_caption=None, language="en",
            word_count=len(body.split()), content_hash=content_hash(body), listed_url=url,
        )


@pytest.fixture
def article_factory() -> type[ArticleFactory]:
    return ArticleFactory


@pytest.fixture
def two_stores(tmp_path, article_factory):
    """Two connections to one database, as two crawl processes have."""
    first, second = Store.open(tmp_path / "v.db"), Store.open(tmp_path / "v.db")
    first.sync_sources([article_factory.source("a"), article_factory.source("b")])
    yield first, second
    first.close()
    second.close()


def test_a_claim_makes_one_fetch_until_its_run_ends(two_stores, article_factory):
    first, second = two_stores
    run_a, run_b = first.start_run("a", 1), second.start_run("b", 2)
    link = Link("https://example.org/news/one-story.html", topic="Port")
    assert first.list_links("a", run_a, [link]) == [(FETCH, None)]
    assert second.list_links("b", run_b, [link]) == [(ELSEWHERE, None)]
    # b's listing waits for the article; a stores it: both sources own it.
    first.save_article(article_factory.article("a", link.url))
    assert {r["source_id"] for r in first.db.query("SELECT * FROM article_sources")} == \
        {"a", "b"}
    assert list(first.db.query("SELECT * FROM pending_listings")) == []
    # Listed again by b in the same crawl: stored since b's run started.
    [(verdict, _)] = second.list_links("b", run_b, [link])
    assert verdict == ELSEWHERE
    first.finish_run(run_a, "ok", {}, None)
    assert list(first.db.query("SELECT * FROM fetch_claims")) == []


def test_a_dead_runs_claim_is_taken_over(two_stores):
    first, second = two_stores
    run_a, run_b = first.start_run("a", 1), second.start_run("b", 2)
    link = Link("https://example.org/news/two.html")
    assert first.list_links("a", run_a, [link]) == [(FETCH, None)]
    first.close_stale_runs(lambda pid: pid != 1)  # a's process died
    assert second.list_links("b", run_b, [link]) == [(FETCH, None)]


def test_known_articles_are_unchanged_unless_listed_later(two_stores, article_factory):
    first, _ = two_stores
    url = "https://example.org/news/three.html"
    first.save_article(article_factory.article("a", url, published="2026-11-20T08:00:00Z"))
    run = first.start_run("b", 3)
    # The run started after the store, one second later at least, for the comparison.
    first.db.execute("UPDATE crawl_runs SET started_at = '2999-01-01T00:00:00Z'")
    assert first.list_links("b", run, [Link(url, listed_at="2026-11-20T08:00:00Z")]) \
        == [(UNCHANGED, "2026-11-20T08:00:00Z")]
    assert first.list_links("b", run, [Link(url, listed_at="2026-11-20T09:30:00Z")]) \
        == [(FETCH, "2026-11-20T08:00:00Z")]


def test_a_crawl_ended_in_the_second_the_next_started_is_no_other_run(tmp_path,
                                                                       article_factory):
    """Times are to the second: a crawl that stored an article and ended in the second the
    next crawl started (cron, back to back) is no other run of that crawl. A later listing
    of the article is fetched, not left to a run that is over."""
    from datetime import UTC, datetime

    url = "https://example.org/news/back-to-back.html"
    with Store.open(tmp_path / "v.db", clock=lambda: datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
                    ) as store:
        store.sync_sources([article_factory.source("a"), article_factory.source("b")])
        first = store.start_run("a", 1)
        assert store.list_links("a", first, [Link(url, listed_at="2026-11-20T08:00:00Z")]) \
            == [(FETCH, None)]
        store.save_article(article_factory.article("a", url))
        store.finish_run(first, "ok", {}, None)
        second = store.start_run("b", 1)
        [(verdict, _)] = store.list_links("b", second,
                                          [Link(url, listed_at="2026-11-20T08:30:00Z")])
        assert verdict == FETCH


def test_an_article_dated_2099_is_fetched_again_when_listed_later(two_stores,
                                                                    article_factory):
    """A time more than an hour ahead (a page or a feed dated 2099) does not count as the
    article's latest: otherwise no listing would ever be later, and a change never fetched."""
    first, _ = two_stores
    url = "https://example.org/news/dated-2099.html"
    first.save_article(article_factory.article("a", url, published="2099-01-01T00:00:00Z"))
    run = first.start_run("b", 3)
    first.db.execute("UPDATE crawl_runs SET started_at = '2999-01-01T00:00:00Z'")
    assert first.list_links("b", run, [Link(url, listed_at="2026-11-20T09:30:00Z")]) \
        == [(FETCH, None)]


def test_dead_links_are_recorded_but_not_fetched(two_stores):
    first, _ = two_stores
    url = "https://example.org/news/gone.html"
    first.record_error(None, "a", url, "gone", "HTTP 404 from " + url)
    run = first.start_run("b", 3)
    assert first.list_links("b", run, [Link(url)]) == [(DEAD, None)]
    assert [r["source_id"] for r in first.db.query("SELECT * FROM pending_listings")] == ["b"]


def test_a_later_listings_label_and_source_reach_the_subscribers(tmp_path, article_factory):
    conflict = Conflict("karabakh", "Nagorny Karabakh", ("Stepanakert",),
                        topics=("Nagorny Karabakh",))
    channel = FeedChannel(tmp_path / "feed.xml")
    follow_b = Subscription(id="only-b", name="Only b", conflicts=("karabakh",),
                            sources=("b",), channel=channel)
    everyone = Subscription(id="all", name="All", conflicts=("karabakh",), channel=channel)
    outbox = Outbox([conflict], [follow_b, everyone])
    store = Store.open(tmp_path / "v.db", outbox=outbox)
    store.sync_sources([article_factory.source("a"), article_factory.source("b")])
    sync_alerting(store.db, [conflict], [follow_b, everyone], "2000-01-01T00:00:00Z")
    url = "https://example.org/news/valley-roads.html"
    # Source a (no label) stores an article that does not name the conflict.
    store.save_article(article_factory.article("a", url))
    assert list(store.db.query("SELECT * FROM alerts")) == []
    # Source b lists it under the conflict's label: the label matches, and both
    # subscriptions are owed the article, once.
    run = store.start_run("b", 9)
    store.list_links("b", run, [Link(url, topic="Nagorny Karabakh")])
    store.list_links("b", run, [Link(url, topic="Nagorny Karabakh")])
    [match] = store.db.query("SELECT * FROM article_conflicts")
    assert (match["conflict_id"], match["field"]) == ("karabakh", "topic")
    alerts = list(store.db.query("SELECT subscription_id, kind, conflicts FROM alerts "
                                 "ORDER BY subscription_id"))
    assert alerts == [{"subscription_id": "all", "kind": "new", "conflicts": '["karabakh"]'},
                      {"subscription_id": "only-b", "kind": "new",
                       "conflicts": '["karabakh"]'}]
    store.close()


def test_the_view_lists_every_source_and_label(tmp_path, article_factory):
    store = Store.open(tmp_path / "v.db")
    store.sync_sources([article_factory.source("a"), article_factory.source("b")])
    url = "https://example.org/news/four.html"
    run = store.start_run("b", 3)
    store.list_links("b", run, [Link(url, topic="Harbour")])
    store.save_article(article_factory.article("a", url))
    [row] = store.db.query("SELECT source, sources, topics FROM articles_with_conflicts")
    assert json.loads(row["sources"]) == ["Source a", "Source b"]
    assert json.loads(row["topics"]) == ["Harbour"]
    store.close()


def test_a_topic_listing_goes_on_past_a_page_another_source_fetches(mini_site, tmp_path):
    """Pagination stops at a page of articles stored by earlier crawls, not at a page whose
    articles another source's run is fetching right now (they are new)."""
    from parsel import Selector

    from crawler.page.listing import find_article_links
    from crawler.page.urls import canonicalize
    from crawler.record.schema import open_database

    config = write_config(tmp_path / "veille.toml", mini_site.origin, """
[[source]]
id = "mini-topic"
kind = "topic"
url = "{site}/news/conflicts/"
topic = "Conflicts"
max_pages = 3
""")
    db_path = tmp_path / "veille.db"
    page_one = (Path(__file__).parent / "fixtures" / "sites" / "mini" / "news" / "conflicts"
                / "index.html").read_text(encoding="utf-8")
    links = [canonicalize(h.url) for h in find_article_links(
        Selector(text=page_one), mini_site.url("/news/conflicts/"), ("127.0.0.1",))]
    db = open_database(db_path)
    # Another source's run, alive (this process), holds the claims on page 1's links.
    db["sources"].insert({"id": "other", "name": "Other", "kind": "feed",
                          "url": mini_site.url("/feed.xml")})
    run = db["crawl_runs"].insert({"source_id": "other", "started_at": "2026-11-20T12:00:00Z",
                                   "status": "running", "pid": __import__("os").getpid()}
                                  ).last_pk
    for url in links:
        db["fetch_claims"].insert({"url": url, "source_id": "other", "run_id": run,
                                   "claimed_at": "2026-11-20T12:00:00Z"})
    db.close()
    done = crawl(config, db_path, "--source", "mini-topic")
    assert done.returncode == 0, done.stderr
    assert all(mini_site.hits[_path_of(url)] == 0 for url in links)
    assert mini_site.hits["/news/conflicts/page/2/"] == 1
    assert mini_site.hits["/news/conflicts/page/3/"] == 1
    [run_row] = rows(db_path, "SELECT new, fetched_elsewhere FROM crawl_runs "
                              "WHERE source_id = 'mini-topic'")
    # Page 1's four links (three articles and one page robots.txt forbids) are left to the
    # other run; pages 2 and 3 hold the site's three other articles.
    assert len(links) == 4 and run_row == {"new": 3, "fetched_elsewhere": 4}
    pending = {r["url"] for r in rows(db_path, "SELECT url FROM pending_listings")}
    assert pending == set(links)  # attached to their articles when the other run stores them


def _path_of(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path
