"""The store: one row per article, versions on change, atomic writes, FTS in sync."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest
from conftest import Clock

from crawler.config.model import Source
from crawler.crawl.normalize import content_hash
from crawler.record.article import StoredArticle
from crawler.record.schema import MIGRATIONS, open_database
from crawler.record.store import Store, word_changes

BODY = " ".join(f"Paragraph word{i} about the ceasefire negotiations." for i in range(12))


def other_body(key: str) -> str:
    """A text that shares no wording with BODY or with another key's text: another story."""
    return " ".join(f"{key}{i} notes {key}-point{i}." for i in range(20))


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(tmp_path, clock):
    store = Store.open(tmp_path / "veille.db", clock)
    store.sync_sources([Source(id="s1", name="Source one", kind="topic",
                               url="https://news.example/topic/")])
    yield store
    store.close()


def article(url="https://news.example/2026/a.html", body=BODY, **changes) -> StoredArticle:
    base = StoredArticle(
        source_id="s1", canonical_url=url, urls=((url, "canonical"),), title="Talks resume",
        lead="Negotiators met again.", body=body, authors=("Anna Keller",), topic="Conflicts",
        section=None, published_at="2026-11-20T08:15:00Z",
        published_local="2026-11-20T09:15:00+01:00", updated_at=None, updated_local=None,
        image_url=None, image_caption=None, language="en", word_count=len(body.split()),
        content_hash=content_hash(body), listed_url=url, listed_at=None,
    )
    return replace(base, **changes)


def test_schema_is_versioned_and_reopening_applies_nothing(tmp_path):
    db = open_database(tmp_path / "v.db")
    assert not MIGRATIONS.pending(db)
    assert db.journal_mode == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert {"sources", "articles", "article_urls", "article_versions", "crawl_runs",
            "fetch_errors", "articles_fts"} <= set(db.table_names())
    db.close()
    again = open_database(tmp_path / "v.db")
    assert [m.name for m in MIGRATIONS.applied(again)] == [
        "m001_core", "m002_alerts", "m003_polling", "m004_stories", "m005_views", "m006_pages",
        "m007_provenance", "m008_fts_automerge", "m009_story_hashes", "m010_fetch_epoch",
        "m011_recent_search", "m012_published_from", "m013_identity_and_events",
        "m014_source_breakage", "m015_operator_notices"]


def test_the_full_text_index_merges_16_segments_at_a_time_in_new_and_migrated_databases(
        tmp_path):
    """m008: FTS5's automerge is kept in the index's config table, for every connection;
    a database made before it gets it, and its search answers as before."""
    import sqlite3

    import sqlite_utils

    from crawler.record import schema

    def automerge(path) -> list:
        with sqlite3.connect(path) as conn:
            return conn.execute("SELECT v FROM articles_fts_config WHERE k = 'automerge'"
                                ).fetchall()

    fresh = open_database(tmp_path / "fresh.db")
    fresh.close()
    assert automerge(tmp_path / "fresh.db") == [(16,)]
    older = sqlite_utils.Database(tmp_path / "older.db")
    before = [m for m in MIGRATIONS._migrations if m.name != "m008_fts_automerge"]
    MIGRATIONS.ensure_migrations_table(older)
    for migration in before:
        migration.fn(older)
        MIGRATIONS._record_applied(older, migration.name)
    older.execute("INSERT INTO sources (id, name, kind, url) VALUES ('s1', 'S', 'rss', 'u')")
    older.execute("INSERT INTO articles (canonical_url, source_id, title, body, content_hash, "
                  "first_seen_at) VALUES ('u1', 's1', 'Cessez-le-feu', 'Le Darfour', 'h', 't')")
    older.conn.commit()
    older.close()
    assert automerge(tmp_path / "older.db") == []
    db = open_database(tmp_path / "older.db")
    assert not MIGRATIONS.pending(db)
    assert db.execute("SELECT rowid FROM articles_fts WHERE articles_fts MATCH 'darfour'"
                      ).fetchall() == [(1,)]
    db.close()
    assert automerge(tmp_path / "older.db") == [(schema.FTS_AUTOMERGE,)]


def test_new_then_unchanged(store):
    first = store.save_article(article())
    again = store.save_article(article())
    assert (first.outcome, again.outcome) == ("new", "unchanged")
    assert first.article_id == again.article_id
    assert store.db["articles"].count == 1


def test_urls_of_one_article(store):
    url = "https://news.example/2026/a.html"
    store.save_article(article(urls=((url, "canonical"), (url + "?page=1", "listing"))))
    store.save_article(article(urls=(("https://news.example/amp/2026/a.html", "amp"),
                                      (url, "canonical"))))
    assert store.db["articles"].count == 1
    kinds = {r["url"]: r["kind"] for r in store.db["article_urls"].rows}
    assert kinds == {url: "canonical", url + "?page=1": "listing",
                     "https://news.example/amp/2026/a.html": "amp"}
    known = store.known("https://news.example/amp/2026/a.html")
    assert known is not None and known.canonical_url == url


def test_same_text_under_another_url_is_one_article(store):
    store.sync_sources([Source(id="s2", name="Reprints", kind="topic",
                               url="https://reprints.example/")])
    store.save_article(article())
    other = "https://reprints.example/2026/reprint.html"
    result = store.save_article(article(url=other, urls=((other, "canonical"),),
                                        source_id="s2", title="Talks are resuming"))
    assert result.outcome == "unchanged" and result.duplicate_of_other_url
    assert store.db["articles"].count == 1
    assert store.known(other).canonical_url == "https://news.example/2026/a.html"
    # Another source's copy is no version of the article: recorded as a merge only.
    assert [(m["reason"], m["url"], m["source_id"]) for m in store.db["article_merges"].rows
            ] == [("text", other, "s2")]


def test_short_texts_are_not_merged_by_text(store):
    short = "Live: follow our coverage."
    store.save_article(article(body=short))
    other = "https://news.example/2026/b.html"
    store.save_article(article(url=other, urls=((other, "canonical"),), body=short))
    assert store.db["articles"].count == 2


def test_changed_text_makes_a_version(store, clock):
    store.save_article(article())
    clock.advance(90)
    new_body = BODY + " A late paragraph on the prisoner exchange was added."
    result = store.save_article(article(body=new_body, updated_at="2026-11-20T13:00:00Z"))
    assert result.outcome == "updated"
    row = store.db["articles"].get(result.article_id)
    assert row["version"] == 2 and row["body"] == new_body
    assert row["updated_at"] == "2026-11-20T13:00:00Z"
    assert row["first_seen_at"] == "2026-11-20T12:00:00Z"
    old = list(store.db["article_versions"].rows)
    assert len(old) == 1
    assert old[0]["version"] == 1 and old[0]["body"] == BODY
    assert old[0]["superseded_at"] == "2026-11-20T13:30:00Z"
    assert (old[0]["words_added"], old[0]["words_removed"]) == (9, 0)


def test_title_change_alone_is_an_update(store):
    store.save_article(article())
    assert store.save_article(article(title="Talks resume in Geneva")).outcome == "updated"


def test_full_text_index_follows_updates(store):
    store.save_article(article())
    hits = lambda q: store.db.execute(  # noqa: E731
        "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?", [q]).fetchone()[0]
    assert hits("negotiations") == 1
    store.save_article(article(body=BODY.replace("negotiations", "discussions")))
    assert hits("negotiations") == 0 and hits("discussions") == 1
    assert hits("negociations") == 0
    store.save_article(article(body=BODY + " Négociations à Genève."))
    assert hits("negociations") == 1  # accents folded


def test_a_failed_save_leaves_nothing(store, monkeypatch):
    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "_add_urls", broken)
    with pytest.raises(sqlite3.OperationalError):
        store.save_article(article())
    assert store.db["articles"].count == 0
    assert store.db.execute("SELECT count(*) FROM articles_fts").fetchone()[0] == 0


def test_foreign_keys_are_enforced(store):
    with pytest.raises(sqlite3.IntegrityError):
        store.save_article(article(source_id="not-a-source"))


def test_runs_and_source_health(store, clock):
    run = store.start_run("s1", pid=123)
    store.record_error(run, "s1", "https://news.example/x", "http", "HTTP 500 from ...")
    store.finish_run(run, "failed", {"errors": 1}, "HTTP 500 from https://news.example/topic/")
    source = store.db["sources"].get("s1")
    assert source["failure_count"] == 1 and source["last_error"].startswith("HTTP 500")
    run2 = store.start_run("s1", pid=123)
    store.finish_run(run2, "ok", {"new": 3}, None)
    source = store.db["sources"].get("s1")
    assert source["failure_count"] == 0 and source["last_success_at"] == "2026-11-20T12:00:00Z"
    assert store.db["fetch_errors"].count == 1


def test_stale_runs_are_marked_interrupted(store):
    dead, alive = store.start_run("s1", pid=111), store.start_run("s1", pid=222)
    assert store.close_stale_runs(lambda pid: pid == 222) == 1
    assert store.db["crawl_runs"].get(dead)["status"] == "interrupted"
    assert store.db["crawl_runs"].get(alive)["status"] == "running"


def test_word_changes():
    assert word_changes("a b c d", "a b x d e") == (2, 1)


def test_an_article_without_a_believable_time_is_dated_by_its_first_sighting(store, clock):
    """No time from the page or its listing (or a future one that extraction refused):
    published_at is the first sighting, published_local stays empty; a later version
    without a time keeps it."""
    result = store.save_article(article(published_at=None, published_local=None))
    row = store.db["articles"].get(result.article_id)
    assert row["published_at"] == row["first_seen_at"] == "2026-11-20T12:00:00Z"
    assert row["published_local"] is None
    clock.advance(90)
    store.save_article(article(body=BODY + " An added line.", published_at=None,
                               published_local=None))
    row = store.db["articles"].get(result.article_id)
    assert row["version"] == 2 and row["published_at"] == "2026-11-20T12:00:00Z"
