"""An article's date from its witnesses (issue 19): the page, the time beside its link in
a topic page, feed or sitemap, and the day its URL names. The first that gives one dates
it, `published_from` says which; disagreements over 24 hours are recorded as warnings;
an article nothing dates gets its first sighting, flagged "first-seen"."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from conftest import Clock, crawl, rows, write_config

from crawler.crawl.items import ArticleItem
from crawler.crawl.normalize import content_hash, date_disagreements, normalize_article
from crawler.page.extract import extract_article
from crawler.page.listing import ListingHint
from crawler.record.store import Store

URL = "https://news.example/2026/11/20/talks.html"
PAGE = ("<html><head><title>Talks resume</title>{meta}</head><body><article><h1>Talks "
        "resume</h1><p>" + "The delegations met again in Geneva on Friday. " * 12 +
        "</p></article></body></html>")
PUBLISHED = '<meta property="article:published_time" content="2026-11-20T09:15:00+01:00">'
UPDATED = '<meta property="article:modified_time" content="2026-11-24T10:00:00+01:00">'


def item(url: str = URL, meta: str = "", listed_at: datetime | None = None,
         via: str = "feed") -> ArticleItem:
    extracted = extract_article(PAGE.format(meta=meta), url)
    return ArticleItem("s", ListingHint(url, via, listed_at=listed_at), url, (), extracted)


def when(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_first_witness_dates_the_article():
    page = normalize_article(item(meta=PUBLISHED, listed_at=when("2026-11-20T09:00")), ())
    assert (page.published_at, page.published_from) == ("2026-11-20T08:15:00Z", "page")
    feed = normalize_article(item(listed_at=when("2026-11-20T09:00")), ())
    assert (feed.published_at, feed.published_from) == ("2026-11-20T09:00:00Z", "feed")
    # The day its URL names (read by the extraction) comes after a listing's time.
    from_url = normalize_article(item(), ())
    assert (from_url.published_at, from_url.published_from) == ("2026-11-20T00:00:00Z", "url")
    nothing = normalize_article(item(url="https://news.example/a/talks.html"), ())
    assert (nothing.published_at, nothing.published_from) == (None, None)


def test_an_article_nothing_dates_gets_its_first_sighting_flagged(tmp_path):
    clock = Clock()
    store = Store.open(tmp_path / "v.db", clock)
    article = normalize_article(item(url="https://news.example/a/talks.html"), ())
    store.sync_sources([])
    store.db.execute("INSERT INTO sources (id, name, kind, url, added_at) VALUES "
                     "('s', 'S', 'feed', 'https://news.example/rss', '2026-11-20T00:00:00Z')")
    store.save_article(article)
    [row] = rows(tmp_path / "v.db", "SELECT published_at, published_from, first_seen_at, "
                                    "published_local FROM articles")
    assert row == {"published_at": "2026-11-20T12:00:00Z", "published_from": "first-seen",
                   "first_seen_at": "2026-11-20T12:00:00Z", "published_local": None}
    # A later version dated by its page says so; one without a date keeps what is known.
    clock.advance(60)
    dated = normalize_article(item(url="https://news.example/a/talks.html",
                                   meta=PUBLISHED), ())
    body = dated.body + " A new paragraph on the next round of talks."
    store.save_article(dataclasses.replace(dated, body=body, content_hash=content_hash(body)))
    [row] = rows(tmp_path / "v.db", "SELECT published_at, published_from FROM articles")
    assert row == {"published_at": "2026-11-20T08:15:00Z", "published_from": "page"}
    store.close()


def test_witnesses_over_24_hours_apart_disagree():
    agree = item(meta=PUBLISHED, listed_at=when("2026-11-20T20:00"))
    assert date_disagreements(agree) == []
    # A feed that dates the article by its update agrees with the page's update time.
    updated = item(meta=PUBLISHED + UPDATED, listed_at=when("2026-11-24T09:30"))
    assert date_disagreements(updated) == []
    old_feed = item(meta=PUBLISHED, listed_at=when("2026-11-14T08:00"))
    assert date_disagreements(old_feed) == [
        "the page says published 2026-11-20T08:15:00Z, the feed 2026-11-14T08:00:00Z"]
    other_day = item(url="https://news.example/2026/11/10/talks.html", meta=PUBLISHED)
    assert date_disagreements(other_day) == [
        "the URL says 2026-11-10, the page 2026-11-20T08:15:00Z"]


def test_a_crawl_records_a_disagreement_as_a_warning(mini_site, tmp_path):
    article = "/news/2026/11/20/ceasefire-talks-resume-in-geneva.html"  # page: 20 Nov
    mini_site.overrides["/dated.xml"] = (200, {"Content-Type": "application/rss+xml"}, (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Feed</title>'
        f"<item><title>Talks</title><link>{mini_site.url(article)}</link>"
        "<pubDate>Sat, 14 Nov 2026 08:00:00 GMT</pubDate></item></channel></rss>").encode())
    config = write_config(tmp_path / "veille.toml", mini_site.origin,
                          '[[source]]\nid = "dated"\nkind = "feed"\nurl = "{site}/dated.xml"\n')
    db = tmp_path / "veille.db"
    result = crawl(config, db)
    assert result.returncode == 0, result.stderr
    [warning] = rows(db, "SELECT message FROM fetch_errors WHERE kind = 'dates-disagree'")
    assert warning["message"] == ("dates disagree: the page says published "
                                  "2026-11-20T08:15:00Z, the feed 2026-11-14T08:00:00Z")
    [stored] = rows(db, "SELECT published_at, published_from FROM articles")
    assert stored == {"published_at": "2026-11-20T08:15:00Z", "published_from": "page"}
    [run] = rows(db, "SELECT status FROM crawl_runs")
    assert run["status"] == "ok"  # a warning: the run is clean
