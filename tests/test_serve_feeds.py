"""Following a search in a feed reader: the `.atom` twin of any search or filter of the
articles, and of the conflict queries, read through Datasette's in-process client on the
demo record. Its id does not depend on where it is served; its title says what it follows;
it carries an ETag and a Last-Modified and answers 304 to a reader that already has it."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import feedparser
import pytest
from demo_record import demo_record

from crawler.serve import build_datasette
from crawler.serve.desk import word_diff

KARABAKH = "Haut-Karabakh (Arménie-Azerbaïdjan)"
SEARCH = "/veille/articles_with_conflicts.atom?_search=Stepanakert"


def get(ds, path: str, **headers: str):
    async def request():
        return await ds.client.get(path, headers=headers or None)
    return asyncio.run(request())


@pytest.fixture(scope="module")
def ds(tmp_path_factory: pytest.TempPathFactory):
    return build_datasette(demo_record(tmp_path_factory))


def feed_of(response):
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    return feed


def test_a_search_is_a_feed_of_its_articles(ds):
    feed = feed_of(get(ds, SEARCH))
    rows = get(ds, "/veille/articles_with_conflicts.json?_search=Stepanakert&_shape=array").json()
    assert [e.title for e in feed.entries] == [r["title"] for r in rows] and len(rows) == 3
    assert [e.link for e in feed.entries] == [r["canonical_url"] for r in rows]
    assert [e.id for e in feed.entries] == [f"urn:veille:article:{r['id']}" for r in rows]
    assert feed.feed.title == ('Veille: Articles with their conflicts where search matches '
                               '"Stepanakert"')
    assert feed.feed.id == "urn:veille:feed:/veille/articles_with_conflicts?_search=Stepanakert"
    assert [link.href for link in feed.feed.links if link.rel == "alternate"] == [
        "http://localhost/veille/articles_with_conflicts?_search=Stepanakert"]
    # The page says it can be followed, and where.
    page = get(ds, "/veille/articles_with_conflicts?_search=Stepanakert").text
    assert 'rel="alternate" type="application/atom+xml"' in page
    assert "Follow this search in a feed reader" in page
    assert "articles_with_conflicts.atom?_search=Stepanakert" in page


def test_a_filter_is_a_feed_named_after_it(ds):
    path = (f"/veille/articles_with_conflicts.atom?conflicts__arraycontains={quote(KARABAKH)}"
            "&language=en")
    feed = feed_of(get(ds, path))
    rows = get(ds, path.replace(".atom", ".json") + "&_shape=array").json()
    assert len(feed.entries) == len(rows) > 0
    assert KARABAKH in feed.feed.title and '"en"' in feed.feed.title
    # The articles table with its labels expanded (as its page links to it) too.
    labelled = feed_of(get(ds, "/veille/articles.atom?_search=Kalaban&_labels=on"))
    assert [e.title for e in labelled.entries] == [
        "Mali fuel shortages ease as escorted convoys reach Bamako"]
    assert labelled.feed.title == 'Veille: Articles where search matches "Kalaban"'


def test_conflict_feeds_are_named_after_their_conflict(ds):
    assert feed_of(get(ds, "/veille/conflict_feed.atom?conflict=karabakh")).feed.title == \
        f"Veille: {KARABAKH}"
    sudan = feed_of(get(ds, "/veille/latest_by_conflict.atom?conflict=sudan"))
    assert sudan.feed.title == "Veille: Soudan" and sudan.entries
    assert all(e.id.startswith("urn:veille:article:") for e in sudan.entries)
    assert feed_of(get(ds, "/veille/latest_by_conflict.atom?conflict=")).feed.title == \
        "Veille: every conflict"
    # The query's page offers the conflicts by name, and its feed.
    page = get(ds, "/veille/latest_by_conflict?conflict=sudan").text
    assert '<select id="qp1" name="conflict">' in page
    assert '<option value="sudan" selected>Soudan</option>' in page
    assert "latest_by_conflict.atom?conflict=sudan" in page
    assert "from article_conflicts ac" not in page  # no SQL above the results


def test_the_feed_id_does_not_depend_on_the_address(ds, tmp_path_factory):
    here = feed_of(get(ds, SEARCH)).feed.id
    elsewhere = feed_of(get(ds, SEARCH + "&_size=10", host="news.example.org:8443"))
    assert elsewhere.feed.id == here
    assert elsewhere.feed.links[0].href.startswith("http://news.example.org:8443/")
    proxied = build_datasette(demo_record(tmp_path_factory), settings={"base_url": "/news/"})
    assert feed_of(get(proxied, SEARCH)).feed.id == here
    other = feed_of(get(ds, "/veille/articles_with_conflicts.atom?_search=Bamako")).feed.id
    assert other != here


def test_etag_and_last_modified_spare_a_reader_the_download(ds):
    first = get(ds, SEARCH)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    newest = max(e.updated for e in feed_of(first).entries)
    assert modified == "Mon, 23 Nov 2026 19:24:00 GMT" and newest == "2026-11-23T19:24:00+00:00"
    assert get(ds, SEARCH).headers["etag"] == etag  # the same feed, the same tag
    again = get(ds, SEARCH, **{"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    assert get(ds, SEARCH, **{"if-modified-since": modified}).status_code == 304
    older = get(ds, SEARCH, **{"if-modified-since": "Mon, 23 Nov 2026 19:00:00 GMT"})
    assert older.status_code == 200
    stale = get(ds, SEARCH, **{"if-none-match": '"an-older-tag"'})
    assert stale.status_code == 200 and stale.headers["etag"] == etag
    other = get(ds, "/veille/articles_with_conflicts.atom?_search=Bamako")
    assert other.headers["etag"] != etag


def test_best_matches_first_and_its_feed(ds):
    """/veille/search ranks the matches (bm25), the best first; an empty search finds
    nothing rather than failing; its feed is named after the words."""
    found = get(ds, "/veille/search.json?q=Stepanakert&_shape=array").json()
    newest = get(ds, "/veille/articles_with_conflicts.json?_search=Stepanakert&_shape=array"
                 ).json()
    assert {r["article_id"] for r in found} == {r["id"] for r in newest}
    scores = [r["score"] for r in found]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]
    assert get(ds, "/veille/search.json?q=&_shape=array").json() == []
    assert get(ds, '/veille/search.json?q="unbalanced&_shape=array').status_code == 200
    feed = feed_of(get(ds, "/veille/search.atom?q=Kalaban"))
    assert feed.feed.title == 'Veille: Best matches for a search "Kalaban"'
    assert [e.title for e in feed.entries] == [
        "Mali fuel shortages ease as escorted convoys reach Bamako"]
    # A list's search offers the same words ranked.
    page = get(ds, "/veille/articles_with_conflicts?_search=Stepanakert").text
    assert 'href="/veille/search?q=Stepanakert"' in page


def test_a_page_of_other_rows_has_no_feed(ds):
    assert "atom" not in get(ds, "/veille/sources.json").json().get("renderers", {})
    assert get(ds, "/veille/sources.atom").status_code == 400


def test_the_package_exports_what_it_says():
    import crawler.serve as serve
    assert sorted(serve.__all__) == sorted(
        name for name in vars(serve) if not name.startswith("_") and name not in
        {"app", "cells", "desk", "feeds", "paths", "plugin"})


def test_word_diff_marks_the_changed_words():
    diff = word_diff("The convoy left at dawn from the border post",
                     "The convoy left at noon from the border post")
    assert diff == ("The convoy left at <del>dawn</del> <ins>noon</ins> from the border post")
    long = word_diff(" ".join(f"w{i}" for i in range(40)) + " end",
                     " ".join(f"w{i}" for i in range(40)) + " finish")
    assert long.startswith('<span class="elided">…</span>') and "<del>end</del>" in long
