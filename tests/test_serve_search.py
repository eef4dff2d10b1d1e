"""Ranked search (/veille/search) on a record of its own: the recent-articles index its
ranking reads follows every insert, change and deletion and keeps to its window, and the
search still finds what has left the window (after the ranked matches, newest first)."""

from __future__ import annotations

import asyncio

import pytest

from crawler.record.schema import RECENT_ARTICLES, open_database
from crawler.serve import build_datasette

TEXTS = {
    1: ("Ceasefire talks stall at the border",
        "Negotiators left without a date.", "The crossing stays closed to trucks."),
    2: ("Harvest festival draws crowds to the valley",
        "Farmers sold out by noon.", "The river crossing reopened for the visitors."),
    3: ("River crossing: the ferry returns",
        "A ferry replaces the broken bridge.", "The crossing, the crossing, the crossing."),
}


def add(db, article_id: int, title: str, lead: str, body: str) -> None:
    db.execute(
        "INSERT INTO articles (id, canonical_url, source_id, title, lead, body, "
        "content_hash, first_seen_at, published_at) VALUES (?, ?, 'desk', ?, ?, ?, ?, ?, ?)",
        [article_id, f"https://news.example/{article_id}", title, lead, body,
         f"hash-{article_id}", "2026-11-20T12:00:00Z", f"2026-11-20T12:{article_id % 60:02d}:00Z"])


@pytest.fixture
def record(tmp_path):
    path = tmp_path / "veille.db"
    db = open_database(path)
    db.execute("INSERT INTO sources (id, name, kind, url) VALUES "
               "('desk', 'The Desk', 'feed', 'https://news.example/rss')")
    for article_id, texts in TEXTS.items():
        add(db, article_id, *texts)
    db.conn.commit()
    yield path, db
    db.close()


def recent(db, words: str) -> list[int]:
    return [r[0] for r in db.execute(
        "SELECT rowid FROM articles_recent_fts WHERE articles_recent_fts MATCH ? "
        "ORDER BY rowid", [words])]


def search(path, words: str) -> list[dict]:
    async def request():
        ds = build_datasette(path)
        return await ds.client.get(f"/veille/search.json?q={words}&_shape=array")
    response = asyncio.run(request())
    assert response.status_code == 200, response.text
    return response.json()


def test_the_recent_index_follows_the_articles(record):
    _, db = record
    assert recent(db, "crossing") == [1, 2, 3]
    db.execute("UPDATE articles SET body = 'The bridge stays closed.' WHERE id = 1")
    assert recent(db, "crossing") == [2, 3] and recent(db, "bridge") == [1, 3]
    db.execute("UPDATE articles SET last_seen_at = '2026-11-21T00:00:00Z' WHERE id = 2")
    assert recent(db, "festival") == [2]
    db.execute("DELETE FROM articles WHERE id = 2")
    assert recent(db, "festival") == []
    db.execute("INSERT INTO articles_recent_fts (articles_recent_fts) VALUES ('integrity-check')")


def test_best_matches_first_then_what_left_the_window(record):
    path, db = record
    found = search(path, "crossing")
    # The ferry story says it four times, in its title too: the best match.
    assert [r["article_id"] for r in found][0] == 3
    assert all(r["score"] is not None for r in found)
    # An article RECENT_ARTICLES newer pushes the first three out of the window...
    add(db, RECENT_ARTICLES + 10, "A quiet day at the crossing", "Nothing moved.", "Calm.")
    db.conn.commit()
    assert recent(db, "crossing") == [RECENT_ARTICLES + 10]
    found = search(path, "crossing")
    # ...the search still finds them: after the ranked ones, newest first, without a score.
    assert [r["article_id"] for r in found] == [RECENT_ARTICLES + 10, 3, 2, 1]
    assert found[0]["score"] is not None and [r["score"] for r in found[1:]] == [None] * 3
