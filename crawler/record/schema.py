"""The database schema, as numbered sqlite-utils migrations, and how to open the database.

Every table is created here and only here; nothing adds columns from input data.
Times are ISO 8601 text in UTC (``2026-11-21T12:32:00Z``).
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils
from sqlite_utils import Migrations

from crawler.errors import ReadOnlyDatabaseError
from crawler.wording import plural

LOGGER = logging.getLogger(__name__)

MIGRATIONS = Migrations("veille")
FTS_COLUMNS = ("title", "lead", "body")
# The newest articles the ranked-search index holds (m011_recent_search): ten days at
# 3,000 articles a day.
RECENT_ARTICLES = 30_000
# Segments of the full-text index merged at a time (m008_fts_automerge).
FTS_AUTOMERGE = 16
# How long a writer waits for another writer (a crawl, Datasette's write hooks) before failing;
# $VEILLE_BUSY_TIMEOUT (seconds) sets another.
BUSY_TIMEOUT_MS = 30_000


def busy_timeout_ms() -> int:
    try:
        return max(0, int(float(os.environ["VEILLE_BUSY_TIMEOUT"]) * 1000))
    except (KeyError, ValueError):
        return BUSY_TIMEOUT_MS


@MIGRATIONS()
def m001_core(db: sqlite_utils.Database) -> None:
    """Sources, articles and their URLs, versions, runs and errors, with full-text search."""
    db["sources"].create(
        {
            "id": str, "name": str, "kind": str, "url": str, "topic": str,
            "added_at": str, "last_run_at": str, "last_success_at": str,
            "last_error": str, "last_error_at": str, "failure_count": int,
        },
        pk="id", not_null={"name", "kind", "url"}, defaults={"failure_count": 0},
    )
    db["articles"].create(
        {
            "id": int, "canonical_url": str, "source_id": str, "title": str, "lead": str,
            "body": str, "authors": str, "topic": str, "section": str,
            "published_at": str, "published_local": str, "updated_at": str,
            "updated_local": str, "image_url": str, "image_caption": str, "language": str,
            "word_count": int, "content_hash": str, "version": int,
            "first_seen_at": str, "last_seen_at": str, "last_fetched_at": str,
        },
        pk="id", foreign_keys=[("source_id", "sources", "id")],
        not_null={"canonical_url", "source_id", "content_hash", "first_seen_at"},
        defaults={"version": 1, "word_count": 0},
    )
    db["articles"].create_index(["canonical_url"], unique=True)
    db["articles"].create_index(["content_hash"])
    db["articles"].create_index(["published_at"])
    db["articles"].create_index(["source_id", "published_at"])
    db["article_urls"].create(
        {
            "url": str, "article_id": int, "kind": str, "source_id": str,
            "first_seen_at": str, "last_seen_at": str, "listed_at": str,
        },
        pk="url", foreign_keys=[("article_id", "articles", "id"), ("source_id", "sources", "id")],
        not_null={"article_id", "kind", "first_seen_at"},
    )
    db["article_urls"].create_index(["article_id"])
    db["article_versions"].create(
        {
            "id": int, "article_id": int, "version": int, "title": str, "lead": str,
            "body": str, "content_hash": str, "fetched_at": str, "superseded_at": str,
            "words_added": int, "words_removed": int,
        },
        pk="id", foreign_keys=[("article_id", "articles", "id")],
        not_null={"article_id", "version", "content_hash"},
    )
    db["article_versions"].create_index(["article_id", "version"], unique=True)
    db["crawl_runs"].create(
        {
            "id": int, "source_id": str, "started_at": str, "ended_at": str, "status": str,
            "pid": int, "requests": int, "pages_fetched": int, "new": int, "updated": int,
            "unchanged": int, "errors": int, "warnings": int, "message": str,
        },
        pk="id", foreign_keys=[("source_id", "sources", "id")],
        not_null={"source_id", "started_at", "status"},
        defaults={
            "requests": 0, "pages_fetched": 0, "new": 0, "updated": 0, "unchanged": 0,
            "errors": 0, "warnings": 0,
        },
    )
    db["crawl_runs"].create_index(["source_id", "started_at"])
    db["fetch_errors"].create(
        {
            "id": int, "run_id": int, "source_id": str, "url": str, "level": str,
            "kind": str, "message": str, "at": str,
        },
        pk="id",
        foreign_keys=[("run_id", "crawl_runs", "id"), ("source_id", "sources", "id")],
        not_null={"source_id", "kind", "message", "at"},
    )
    db["fetch_errors"].create_index(["source_id", "at"])
    db["fetch_errors"].create_index(["url"])
    db["articles"].enable_fts(list(FTS_COLUMNS), tokenize="unicode61 remove_diacritics 2")
    _create_fts_triggers(db)


@MIGRATIONS()
def m002_alerts(db: sqlite_utils.Database) -> None:
    """Tracked conflicts, why each article matched, subscriptions and the alert outbox.

    Only what may be published is here: a subscription's id, name, filters and channel
    kind, never its webhook URL, addresses or secrets (those stay in the config file and
    the environment).
    """
    db["conflicts"].create(
        {"id": str, "name": str, "aliases": str, "exclude": str, "topics": str,
         "added_at": str, "removed_at": str},
        pk="id", not_null={"name", "added_at"},
    )
    db["article_conflicts"].create(
        {"article_id": int, "conflict_id": str, "alias": str, "field": str, "fields": str,
         "score": float, "matched_at": str},
        pk=("article_id", "conflict_id"),
        foreign_keys=[("article_id", "articles", "id"), ("conflict_id", "conflicts", "id")],
        not_null={"alias", "field", "score", "matched_at"},
    )
    db["article_conflicts"].create_index(["conflict_id", "article_id"])
    db["subscriptions"].create(
        {"id": str, "name": str, "channel": str, "conflicts": str, "sources": str,
         "languages": str, "mode": str, "schedule": str, "updates": int, "created_at": str,
         "removed_at": str, "last_digest_at": str},
        pk="id", not_null={"name", "channel", "mode", "created_at"}, defaults={"updates": 0},
    )
    db["alerts"].create(
        {"id": int, "uid": str, "subscription_id": str, "article_id": int, "story_id": int,
         "kind": str, "dedup_key": str, "conflicts": str, "status": str, "batch_uid": str,
         "attempts": int, "created_at": str, "next_attempt_at": str, "lease_until": str,
         "claimed_by": str, "sent_at": str, "last_error": str},
        pk="id",
        foreign_keys=[("subscription_id", "subscriptions", "id"), ("article_id", "articles", "id")],
        not_null={"uid", "subscription_id", "kind", "dedup_key", "status", "created_at"},
        defaults={"attempts": 0, "status": "pending"},
    )
    db["alerts"].create_index(["uid"], unique=True)
    # One alert per subscription per story (and per kind): the outbox's guarantee.
    db["alerts"].create_index(["dedup_key"], unique=True)
    db["alerts"].create_index(["status", "subscription_id"])
    db["alerts"].create_index(["article_id"])
    db["alerts"].create_index(["batch_uid"])
    db["crawl_runs"].add_column("alerts", int, not_null_default=0)


@MIGRATIONS()
def m003_polling(db: sqlite_utils.Database) -> None:
    """What scheduled, incremental polls need: each source's timing and health, the HTTP
    validators of listing and feed URLs, and a robots.txt cache."""
    for column, kind in (("next_run_at", str), ("interval_seconds", float),
                         ("failing_since", str), ("backoff_until", str)):
        db["sources"].add_column(column, kind)
    db["http_validators"].create(
        {"url": str, "source_id": str, "etag": str, "last_modified": str, "body_hash": str,
         "checked_at": str, "changed_at": str},
        pk="url", foreign_keys=[("source_id", "sources", "id")], not_null={"checked_at"},
    )
    db["robots_cache"].create(
        {"origin": str, "status": int, "body": bytes, "fetched_at": str},
        pk="origin", not_null={"fetched_at"},
    )


@MIGRATIONS()
def m004_stories(db: sqlite_utils.Database) -> None:
    """Stories (one per set of copies of a text), each article's story, and the MinHash
    fingerprints and LSH bands that find copies (see crawler/record/stories.py)."""
    db["stories"].create(
        {"id": int, "title": str, "first_article_id": int, "first_seen_at": str,
         "last_seen_at": str, "articles": int, "sources": int},
        pk="id", not_null={"first_seen_at"}, defaults={"articles": 0, "sources": 0},
    )
    db["articles"].add_column("story_id", int)
    db["articles"].create_index(["story_id"])
    db["article_fingerprints"].create(
        {"article_id": int, "size": int, "signature": bytes, "indexed_at": str},
        pk="article_id", foreign_keys=[("article_id", "articles", "id")],
        not_null={"size", "signature", "indexed_at"},
    )
    db["article_fingerprints"].create_index(["indexed_at"])
    # One row per (band, article): WITHOUT ROWID keeps it to the key itself.
    db.execute(
        "CREATE TABLE story_bands (band_key INTEGER NOT NULL, article_id INTEGER NOT NULL "
        "REFERENCES articles(id), PRIMARY KEY (band_key, article_id)) WITHOUT ROWID"
    )
    db.execute("CREATE INDEX story_bands_article ON story_bands (article_id)")
    # Articles stored before this migration each start a story of their own.
    db.execute(
        "INSERT INTO stories (id, title, first_article_id, first_seen_at, last_seen_at, "
        "articles, sources) SELECT id, title, id, first_seen_at, last_seen_at, 1, 1 "
        "FROM articles"
    )
    db.execute("UPDATE articles SET story_id = id")


@MIGRATIONS()
def m005_views(db: sqlite_utils.Database) -> None:
    """Views for browsing the record in Datasette (data/datasette/metadata.yaml): each
    article with its source's name, publication day and tracked conflicts."""
    # `conflicts` is a JSON array of names, so that Datasette's array facet can count
    # articles per conflict; `day` falls back to the day Veille first saw an undated page.
    db.create_view("articles_with_conflicts", """
        SELECT a.id, a.published_at,
               substr(coalesce(a.published_at, a.first_seen_at), 1, 10) AS day,
               a.title, s.name AS source, a.topic,
               (SELECT json_group_array(name) FROM (
                    SELECT c.name FROM article_conflicts ac
                    JOIN conflicts c ON c.id = ac.conflict_id
                    WHERE ac.article_id = a.id AND c.removed_at IS NULL
                    ORDER BY ac.score DESC, c.name)) AS conflicts,
               a.language, a.lead, a.canonical_url, a.authors, a.section, a.word_count,
               a.version, a.updated_at, a.first_seen_at, a.story_id, a.source_id,
               (SELECT json_group_array(conflict_id) FROM (
                    SELECT ac.conflict_id FROM article_conflicts ac
                    JOIN conflicts c ON c.id = ac.conflict_id
                    WHERE ac.article_id = a.id AND c.removed_at IS NULL
                    ORDER BY ac.score DESC, ac.conflict_id)) AS conflict_ids
        FROM articles a JOIN sources s ON s.id = a.source_id
    """)


@MIGRATIONS()
def m006_pages(db: sqlite_utils.Database) -> None:
    """Where the raw page each article version was extracted from is kept (a WARC day
    file beside the database, see crawler/record/pages.py), and which versions a re-extraction
    (`veille reextract`), not the site, superseded."""
    # A file name relative to the pages dir (never a path), the record's byte offset and
    # its WARC-Record-ID. One row per (article, version); a re-fetch that leaves the text
    # unchanged moves the current version's row to the newer response.
    db["article_pages"].create(
        {"article_id": int, "version": int, "file": str, "byte_offset": int,
         "record_id": str},
        pk=("article_id", "version"), foreign_keys=[("article_id", "articles", "id")],
        not_null={"file", "byte_offset", "record_id"},
    )
    db["article_versions"].add_column("superseded_by", str)


@MIGRATIONS()
def m007_provenance(db: sqlite_utils.Database) -> None:
    """Every source that listed each article (provenance), listings still waiting for their
    article, the fetch claims that make one fetch per article per crawl, and the runs'
    count of links another source fetched (see crawler/record/store.py, `Store.list_links`)."""
    # One row per (article, source): when the source's listing, feed or sitemap first and
    # last showed the article, the topic label it gave it and the time it showed beside
    # the link. An article belongs to every source that listed it, whatever the order.
    db["article_sources"].create(
        {"article_id": int, "source_id": str, "url": str, "topic": str, "listed_at": str,
         "first_listed_at": str, "last_listed_at": str},
        pk=("article_id", "source_id"),
        foreign_keys=[("article_id", "articles", "id"), ("source_id", "sources", "id")],
        not_null={"first_listed_at", "last_listed_at"},
    )
    db["article_sources"].create_index(["source_id", "article_id"])
    # A link listed by a source whose article is not stored yet (another source's fetch
    # of it is under way, or failed): attached to the article when it is stored.
    # `redirects_to`: where the link redirects, when this source's fetch of it stopped
    # there because another source fetches that page.
    db["pending_listings"].create(
        {"url": str, "source_id": str, "topic": str, "listed_at": str,
         "first_listed_at": str, "last_listed_at": str, "redirects_to": str},
        pk=("url", "source_id"), foreign_keys=[("source_id", "sources", "id")],
        not_null={"first_listed_at", "last_listed_at"},
    )
    # An article URL being fetched by a run: no other run fetches it meanwhile. A run's
    # claims go when it closes (or when a later crawl finds its process gone).
    db["pending_listings"].create_index(["redirects_to"])
    db["fetch_claims"].create(
        {"url": str, "source_id": str, "run_id": int, "claimed_at": str},
        pk="url", not_null={"source_id", "run_id", "claimed_at"},
    )
    db["fetch_claims"].create_index(["run_id"])
    db["crawl_runs"].add_column("fetched_elsewhere", int, not_null_default=0)
    # The record so far: each article belongs to the source that stored it, and to every
    # source whose links to it were stored (article_urls.source_id).
    db.execute(
        "INSERT OR IGNORE INTO article_sources (article_id, source_id, url, topic, listed_at, "
        "first_listed_at, last_listed_at) SELECT a.id, a.source_id, a.canonical_url, a.topic, "
        "NULL, a.first_seen_at, a.last_seen_at FROM articles a"
    )
    db.execute(
        "INSERT OR IGNORE INTO article_sources (article_id, source_id, url, topic, listed_at, "
        "first_listed_at, last_listed_at) SELECT u.article_id, u.source_id, min(u.url), "
        "NULL, max(u.listed_at), min(u.first_seen_at), max(u.last_seen_at) "
        "FROM article_urls u WHERE u.source_id IS NOT NULL GROUP BY u.article_id, u.source_id"
    )
    db.execute("DROP VIEW IF EXISTS articles_with_conflicts")
    _articles_view(db)


@MIGRATIONS()
def m008_fts_automerge(db: sqlite_utils.Database) -> None:
    """The full-text index merges its segments 16 at a time (FTS5's default: 4).

    FTS5 does merge work on every write while a level of its index holds `automerge`
    segments or more. At 4 that work was most of an article's INSERT on the
    1,000,000-article archive of `python -m bench.article_cost` (2 ms of CPU for a long
    article); at 16 an entry is merged about half as many times (log16 instead of log4 of
    the index's size), and a search reads at most 15 segments a level instead of 3 (no
    slower on that archive: README). Kept in the index's own config table, so every
    connection uses it.
    """
    db.execute("INSERT INTO articles_fts (articles_fts, rank) VALUES ('automerge', ?)",
               [FTS_AUTOMERGE])


@MIGRATIONS()
def m009_story_hashes(db: sqlite_utils.Database) -> None:
    """Story fingerprints hash each word 4-gram from its words' CRC-32 in numpy, no longer
    by the SHA-1 of the 4-gram (datasketch's hashing): 0.36 instead of 0.61 ms an article
    (median on the corpus pages). Signatures of the two hashings cannot be compared, so
    the fingerprints still indexed (those with band rows: the story window) are computed
    again from their articles' text, with their band rows; older ones are left as they
    were (no story looks for copies among them). About 1 ms an article, once."""
    from crawler.page.fingerprints import article_fingerprint

    indexed = [row[0] for row in db.execute("SELECT DISTINCT article_id FROM story_bands")]
    for start in range(0, len(indexed), 1000):
        chunk = indexed[start:start + 1000]
        marks = ", ".join("?" * len(chunk))
        texts = db.execute(f"SELECT id, lead, body FROM articles WHERE id IN ({marks})",
                           chunk).fetchall()
        db.execute(f"DELETE FROM story_bands WHERE article_id IN ({marks})", chunk)
        for article_id, lead, body in texts:
            print_ = article_fingerprint(lead, body)
            if print_ is None:  # cannot happen for an indexed text; nothing to keep then
                db.execute("DELETE FROM article_fingerprints WHERE article_id = ?",
                           [article_id])
                continue
            db.execute("UPDATE article_fingerprints SET size = ?, signature = ? "
                       "WHERE article_id = ?",
                       [print_.size, print_.signature.tobytes(), article_id])
            db.conn.executemany(
                "INSERT OR IGNORE INTO story_bands (band_key, article_id) VALUES (?, ?)",
                [(key, article_id) for key in print_.bands()])
    if indexed:
        LOGGER.info("story fingerprints of %d articles computed again (new hashing)",
                    len(indexed))


@MIGRATIONS()
def m010_fetch_epoch(db: sqlite_utils.Database) -> None:
    """`articles.fetch_epoch`: the newest crawl run when the article was last fetched, so
    that a run tells "fetched by another run since I started" without the clock (see
    `Store._stored_during`). Articles fetched before it count as fetched before any run."""
    db["articles"].add_column("fetch_epoch", int, not_null_default=0)


def fill_recent_search(db: sqlite_utils.Database | sqlite3.Connection) -> None:
    """(Re)fill the recent full-text index with the RECENT_ARTICLES newest articles: at its
    migration, and after a bulk load that bypassed its triggers (the benchmarks')."""
    cols = ", ".join(FTS_COLUMNS)
    db.execute("DELETE FROM articles_recent_fts")
    db.execute(f"INSERT INTO articles_recent_fts (rowid, {cols}) SELECT id, {cols} "
               f"FROM articles WHERE id > (SELECT coalesce(max(id), 0) FROM articles) - "
               f"{RECENT_ARTICLES}")


@MIGRATIONS()
def m011_recent_search(db: sqlite_utils.Database) -> None:
    """A second full-text index of the RECENT_ARTICLES newest articles only, for ranked
    search (`/veille/search`): bm25 counts, for each word searched, every article of its
    index that holds it, so on the whole index a common word costs 30 ms at 1,000,000
    articles before anything is ranked; on this one, under 1 ms (README, `bench.search`).
    It keeps its own copy of the texts (an external-content index cannot forget a row
    without its text), and its triggers keep it to the window: each new article pushes
    out the one RECENT_ARTICLES older."""
    cols = ", ".join(FTS_COLUMNS)
    new = ", ".join(f"new.{c}" for c in FTS_COLUMNS)
    db.execute(f"CREATE VIRTUAL TABLE articles_recent_fts USING fts5({cols}, "
               f"tokenize='unicode61 remove_diacritics 2')")
    fill_recent_search(db)
    db.execute(
        f"CREATE TRIGGER articles_recent_ai AFTER INSERT ON articles BEGIN "
        f"INSERT INTO articles_recent_fts (rowid, {cols}) VALUES (new.id, {new}); "
        f"DELETE FROM articles_recent_fts WHERE rowid <= new.id - {RECENT_ARTICLES}; END")
    db.execute(
        f"CREATE TRIGGER articles_recent_au AFTER UPDATE OF {cols} ON articles BEGIN "
        f"UPDATE articles_recent_fts SET "
        + ", ".join(f"{c} = new.{c}" for c in FTS_COLUMNS)
        + " WHERE rowid = old.id; END")
    db.execute("CREATE TRIGGER articles_recent_ad AFTER DELETE ON articles BEGIN "
               "DELETE FROM articles_recent_fts WHERE rowid = old.id; END")


@MIGRATIONS()
def m012_published_from(db: sqlite_utils.Database) -> None:
    """`articles.published_from`: where `published_at` came from ("page", "listing",
    "feed", "sitemap", "url", or "first-seen" when nothing dated the article and its first
    sighting did). Articles stored before it: "first-seen" where the site gave no local
    time and published_at is the first sighting, else unknown (NULL)."""
    db["articles"].add_column("published_from", str)
    db.execute("UPDATE articles SET published_from = 'first-seen' "
               "WHERE published_local IS NULL AND published_at = first_seen_at")



@MIGRATIONS()
def m013_identity_and_events(db: sqlite_utils.Database) -> None:
    """Layered identity and what happens to sources.

    `article_guids`: the feed GUIDs a source gave each article (a GUID known for that
    source names the article, whatever its URL became). `article_merges`: each time a
    page or link joined a stored article by something other than its own URL (its
    rel=canonical, an AMP variant, a GUID, a same-source headline with near-identical
    text, identical text), with the reason and its evidence. `source_events`: what a run
    noticed about its source (`gap`: a poll where every listed item was new, with the
    interval it may have missed and the articles recovered)."""
    db["article_guids"].create(
        {"source_id": str, "guid": str, "article_id": int, "first_seen_at": str},
        pk=("source_id", "guid"),
        foreign_keys=[("source_id", "sources", "id"), ("article_id", "articles", "id")],
        not_null={"article_id", "first_seen_at"},
    )
    db["article_guids"].create_index(["article_id"])
    db["article_merges"].create(
        {"id": int, "article_id": int, "version": int, "reason": str, "url": str,
         "source_id": str, "evidence": str, "at": str},
        pk="id",
        foreign_keys=[("article_id", "articles", "id"), ("source_id", "sources", "id")],
        not_null={"article_id", "reason", "at"},
    )
    db["article_merges"].create_index(["article_id"])
    # The same source's articles of the last 48 hours, whose headlines a page is compared
    # with (crawler/record/identity.py), without reading all of the source's.
    db["articles"].create_index(["source_id", "first_seen_at"])
    db["article_sources"].create_index(["source_id", "last_listed_at"])
    db["source_events"].create(
        {"id": int, "source_id": str, "run_id": int, "kind": str, "since": str,
         "until": str, "count": int, "message": str, "evidence": str, "at": str},
        pk="id",
        foreign_keys=[("source_id", "sources", "id"), ("run_id", "crawl_runs", "id")],
        not_null={"source_id", "kind", "at"},
    )
    db["source_events"].create_index(["source_id", "kind", "at"])


@MIGRATIONS()
def m014_source_breakage(db: sqlite_utils.Database) -> None:
    """A source's breakage now (crawler/crawl/breakage.py): `broken_since` when its oldest
    open incident started, `broken_check` the checks failing ("no-links", "short-bodies",
    "rate-drop", "feed-malformed", "robots-forbidden"; comma-separated when several),
    `broken_message` why, in one line. NULL when nothing is broken. Each incident is a
    `source_events` row of kind `broken`, closed by one of kind `recovered`."""
    for column in ("broken_since", "broken_check", "broken_message"):
        db["sources"].add_column(column, str)


@MIGRATIONS()
def m015_operator_notices(db: sqlite_utils.Database) -> None:
    """What the operator is told (crawler/alerts/operators.py), and the daemon's heartbeat.

    `operator_notices`: one row per notice to a subscription with `operators = true`: a
    source broken or recovered, a delivery given up on, polling stopped or resumed. It is
    sent as alerts are (the same statuses, attempts, lease and backoff); `dedup_key`
    (subscription, incident, kind) makes each incident notify once and its recovery once.
    `title` and `body` are written when the notice is queued, from redacted text only: no
    URL, address or secret of a subscription. `heartbeats`: when `veille run` last started
    or ended a poll (`at`), so that any process that sends alerts can tell that it stopped."""
    db["operator_notices"].create(
        {"id": int, "uid": str, "subscription_id": str, "incident": str, "kind": str,
         "dedup_key": str, "source_id": str, "about_subscription": str, "event_id": int,
         "title": str, "body": str, "details": str, "status": str, "batch_uid": str,
         "attempts": int, "created_at": str, "next_attempt_at": str, "lease_until": str,
         "claimed_by": str, "sent_at": str, "last_error": str},
        pk="id",
        foreign_keys=[("subscription_id", "subscriptions", "id")],
        not_null={"uid", "subscription_id", "incident", "kind", "dedup_key", "title",
                  "status", "created_at"},
        defaults={"attempts": 0, "status": "pending"},
    )
    db["operator_notices"].create_index(["uid"], unique=True)
    db["operator_notices"].create_index(["dedup_key"], unique=True)
    db["operator_notices"].create_index(["status", "subscription_id"])
    db["operator_notices"].create_index(["about_subscription", "kind"])
    db["operator_notices"].create_index(["subscription_id", "event_id"])
    db["operator_notices"].create_index(["batch_uid"])
    # Incidents are looked up by kind at each dispatch (a few rows among the gaps).
    db["source_events"].create_index(["kind", "id"])
    db["heartbeats"].create(
        {"name": str, "pid": int, "started_at": str, "at": str, "stopped_at": str},
        pk="name", not_null={"at"},
    )

def _articles_view(db: sqlite_utils.Database) -> None:
    # `conflicts`, `sources` and `topics` are JSON arrays, so that Datasette's array facet
    # counts articles per conflict, per source that listed them and per topic label; `day`
    # falls back to the day Veille first saw an undated page. `source` is the source whose
    # fetch stored the article.
    db.create_view("articles_with_conflicts", """
        SELECT a.id, a.published_at,
               substr(coalesce(a.published_at, a.first_seen_at), 1, 10) AS day,
               a.title, s.name AS source,
               (SELECT json_group_array(name) FROM (
                    SELECT so.name FROM article_sources p JOIN sources so ON so.id = p.source_id
                    WHERE p.article_id = a.id ORDER BY so.name)) AS sources,
               a.topic,
               (SELECT json_group_array(topic) FROM (
                    SELECT DISTINCT p.topic FROM article_sources p
                    WHERE p.article_id = a.id AND p.topic IS NOT NULL ORDER BY p.topic))
                    AS topics,
               (SELECT json_group_array(name) FROM (
                    SELECT c.name FROM article_conflicts ac
                    JOIN conflicts c ON c.id = ac.conflict_id
                    WHERE ac.article_id = a.id AND c.removed_at IS NULL
                    ORDER BY ac.score DESC, c.name)) AS conflicts,
               a.language, a.lead, a.canonical_url, a.authors, a.section, a.word_count,
               a.version, a.updated_at, a.first_seen_at, a.story_id, a.source_id,
               (SELECT json_group_array(conflict_id) FROM (
                    SELECT ac.conflict_id FROM article_conflicts ac
                    JOIN conflicts c ON c.id = ac.conflict_id
                    WHERE ac.article_id = a.id AND c.removed_at IS NULL
                    ORDER BY ac.score DESC, ac.conflict_id)) AS conflict_ids
        FROM articles a JOIN sources s ON s.id = a.source_id
    """)


def _create_fts_triggers(db: sqlite_utils.Database) -> None:
    # sqlite-utils' own update trigger fires on every UPDATE; ours only when indexed text
    # changes, so that touching last_seen_at on a re-crawl does not rewrite the index.
    cols = ", ".join(FTS_COLUMNS)
    new = ", ".join(f"new.{c}" for c in FTS_COLUMNS)
    old = ", ".join(f"old.{c}" for c in FTS_COLUMNS)
    db.execute(
        f"CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN "
        f"INSERT INTO articles_fts (rowid, {cols}) VALUES (new.id, {new}); END"
    )
    db.execute(
        f"CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN "
        f"INSERT INTO articles_fts (articles_fts, rowid, {cols}) VALUES ('delete', old.id, {old});"
        f" END"
    )
    db.execute(
        f"CREATE TRIGGER articles_au AFTER UPDATE OF {cols} ON articles BEGIN "
        f"INSERT INTO articles_fts (articles_fts, rowid, {cols}) VALUES ('delete', old.id, {old});"
        f" INSERT INTO articles_fts (rowid, {cols}) VALUES (new.id, {new}); END"
    )


@contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """A transaction that takes the write lock at once (BEGIN IMMEDIATE).

    A deferred transaction that reads, then writes, fails at once with "database is
    locked" if another process committed in between (its snapshot is stale, and the busy
    timeout cannot help). Several crawl processes and the dispatcher write the same
    database, so every write starts here. Nested use becomes a savepoint.
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    db.conn.execute("COMMIT")


def connect(path: str | os.PathLike[str]) -> sqlite_utils.Database:
    """Open the database with the pragmas every connection needs (WAL, foreign keys)."""
    db = sqlite_utils.Database(path)
    db.execute(f"PRAGMA busy_timeout = {busy_timeout_ms()}")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA synchronous = NORMAL")
    return db


def open_database(path: str | os.PathLike[str]) -> sqlite_utils.Database:
    """Open (creating if needed) the database at `path` and bring its schema up to date.

    Raises:
        ReadOnlyDatabaseError: this user cannot write the file or its folder.
    """
    refuse_read_only(path)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = connect(path)
    if not MIGRATIONS.pending(db):
        return db
    # Two processes opening a fresh database at once must not both create the tables.
    with open(f"{path}.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if db.journal_mode != "wal":
            db.enable_wal()
        pending = MIGRATIONS.pending(db)
        if pending:
            LOGGER.info("Applying %d migration(s) to %s", len(pending), path)
            MIGRATIONS.apply(db)
    return db


def writable(path: str | os.PathLike[str]) -> bool:
    """Whether this user can write the database: its file, and its folder, where SQLite
    keeps its journal or WAL files and Veille its lock files. A read-only mount counts as
    unwritable even for root."""
    file = Path(path)
    folder = file.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # open_database creates the missing folders
    return (not file.exists() or os.access(file, os.W_OK)) and os.access(folder, os.W_OK)


def refuse_read_only(path: str | os.PathLike[str]) -> None:
    """Raise ReadOnlyDatabaseError, with the one line a write command ends with, when this
    user cannot write the database (before a lock file or SQLite fails on it)."""
    if not writable(path):
        raise ReadOnlyDatabaseError(
            f"{path}: database is read-only (this user cannot write the file or its folder); "
            "commands that only read it (sources, history, alerts, conflicts, serve) work")


def needs_immutable(path: str | os.PathLike[str]) -> bool:
    """Whether a reader must open the database `immutable=1`: when this user cannot write
    it and no -wal file is left beside it (no writer has it open; every commit is in the
    main file). SQLite reads a WAL database `mode=ro` only if its -shm file exists or it
    can create it, in the owner's folder, with this user's permissions; with a -wal file
    left, `mode=ro` it must be, as immutable would miss the commits the -wal holds."""
    return not writable(path) and not Path(f"{path}-wal").exists()


def open_read_only(path: str | os.PathLike[str]) -> sqlite_utils.Database:
    """Open the database for reading only: nothing is created, migrated or written.

    Raises:
        ReadOnlyDatabaseError: the file is missing, cannot be opened read-only, or its
            schema is older than the code's migrations (only a writable copy can be
            upgraded).
    """
    if not Path(path).is_file():
        raise ReadOnlyDatabaseError(f"{path}: no such database, and its folder is read-only")
    mode = "immutable=1" if needs_immutable(path) else "mode=ro"
    conn = sqlite3.connect(f"{Path(path).absolute().as_uri()}?{mode}", uri=True)
    db = sqlite_utils.Database(conn)
    try:
        db.execute(f"PRAGMA busy_timeout = {busy_timeout_ms()}")
        db.execute("PRAGMA query_only = ON")  # even immutable, nothing here may write
        pending = MIGRATIONS.pending(db)
    except sqlite3.OperationalError as exc:  # a -wal file left without its -shm
        db.close()
        raise ReadOnlyDatabaseError(f"{path}: cannot be read read-only: {exc}") from exc
    if pending:
        db.close()
        raise ReadOnlyDatabaseError(
            f"{path}: database is read-only and its schema is older than this version of "
            f"Veille ({plural(len(pending), 'migration')} to apply): upgrade a writable copy "
            "(any `veille` command on it does)")
    return db


def open_for_reading(path: str | os.PathLike[str]) -> sqlite_utils.Database:
    """Open the database for a command that only reads: as `open_database` when this user
    can write it (so a new version's migrations are applied), read-only when not (a copy
    published read-only, a read-only mount)."""
    return open_database(path) if writable(path) else open_read_only(path)
