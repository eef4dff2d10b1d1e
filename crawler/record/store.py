"""Writes to the record: articles (one transaction each, with their alerts), their URLs and
versions, runs, errors, and what polls remember (HTTP validators, robots.txt copies).

`Store` is the only writer of these tables, the ingester of `veille ingest` included. Inside
an article's transaction it calls the outbox (`crawler.record.outbox`: matches and alerts)
and the story index (`crawler.record.stories`). Elsewhere, the dispatcher writes alerts'
delivery state, and the scheduler a source's timing columns (`scheduler.schedules`).
Each public write is atomic: a crash or a kill leaves either the whole article (row,
URLs, version, full-text entry) or nothing.
"""

from __future__ import annotations

import difflib
import functools
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from crawler.clock import stamp, utc_now
from crawler.config.model import Config, Source
from crawler.page.fingerprints import Fingerprint, article_fingerprint
from crawler.page.links import DEAD, ELSEWHERE, FETCH, UNCHANGED, HttpValidators, Link
from crawler.page.matching import Match
from crawler.record import events
from crawler.record.article import Change, StoredArticle
from crawler.record.identity import AMP, CANONICAL, TEXT, Identity
from crawler.record.outbox import Outbox, sync_alerting
from crawler.record.pages import PageRef
from crawler.record.schema import open_database, write_transaction
from crawler.record.stories import StoryIndex

LOGGER = logging.getLogger(__name__)

# What a write to the database can raise that is no bug of Veille's: disk full, a lock
# held past the busy timeout, an I/O error, a read-only file.
STORAGE_ERRORS = (sqlite3.Error, OSError)


def one_line(exc: BaseException) -> str:
    """An exception as one line of a message."""
    return " ".join(str(exc).split())[:200] or type(exc).__name__


# A stored article by one of its URLs, with the latest time the site showed for it (times
# past :ahead left out) and what tells whether another run fetched it (`Store.known`).
_KNOWN_SQL = (
    "SELECT a.id, a.canonical_url, max(" + ", ".join(
        f"CASE WHEN {column} <= :ahead THEN {column} ELSE '' END"
        for column in ("a.published_at", "a.updated_at", "u.listed_at")) + "), "
    "a.last_fetched_at, a.fetch_epoch FROM article_urls u "
    "JOIN articles a ON a.id = u.article_id WHERE u.url = :url"
)


# A stored article URL, its article, and the latest time the site showed for it
# (published, updated, or listed beside a link): what `Store.known` answers per URL, and
# what `veille ingest` copies to Redis for the workers.
KNOWN_SQL = (
    "SELECT u.url, a.id, a.canonical_url, max(coalesce(a.published_at, ''), "
    "coalesce(a.updated_at, ''), coalesce(u.listed_at, '')) FROM article_urls u "
    "JOIN articles a ON a.id = u.article_id"
)


@dataclass(frozen=True)
class KnownArticle:
    """What the crawler needs to know about an article already stored."""

    id: int
    canonical_url: str
    # The latest time the site showed for it: published, updated, or listed beside a link.
    latest_time: str | None
    last_fetched_at: str | None = None  # when a crawl last fetched its page
    # The newest crawl run that existed when it was last fetched (see Store._stored_during).
    fetch_epoch: int = 0


@dataclass(frozen=True)
class TextAnalysis:
    """What depends on an article alone, computed before its transaction by a `veille
    worker` so that the ingester, the one writer, does less: its story fingerprint, and
    its conflict matches under the conflicts named by `conflicts_digest`."""

    fingerprint: Fingerprint | None
    matches: tuple[Match, ...]
    conflicts_digest: str

    @classmethod
    def of(cls, article: StoredArticle, matcher: Any) -> TextAnalysis:
        return cls(
            article_fingerprint(article.lead, article.body),
            tuple(matcher.match(title=article.title, lead=article.lead, body=article.body,
                                topic=article.topic)),
            matcher.digest,
        )


@dataclass(frozen=True)
class SaveResult:
    """What saving an article did: "new", "updated" or "unchanged", and to which row."""

    outcome: str
    article_id: int
    duplicate_of_other_url: bool = False
    alerts: int = 0  # alerts queued with it
    story_id: int | None = None
    joined_story: bool = False  # a new article that is a copy of a stored story
    # The page's rel=canonical named this stored article (id, URL), whose text is another
    # story: the page was stored under its own URL instead.
    canonical_refused: tuple[int, str] | None = None

    def canonical_warning(self) -> str | None:
        """The warning a refused rel=canonical is recorded with (kind `canonical-refused`)."""
        if self.canonical_refused is None:
            return None
        stored_id, url = self.canonical_refused
        return (f"rel=canonical names {url} (article #{stored_id}), another story: stored "
                f"as article #{self.article_id} under its own URL")


class Store:
    """The database, opened once per crawl, with the writes the crawler makes."""

    def __init__(self, db: sqlite_utils.Database, clock: Callable[[], datetime] = utc_now,
                 outbox: Outbox | None = None, stories: StoryIndex | None = None):
        self.db = db
        self.clock = clock
        self.outbox = outbox
        self.stories = stories or StoryIndex()
        self.identity = Identity(db, self.stories)

    @classmethod
    def open(cls, path: str | os.PathLike[str], clock: Callable[[], datetime] = utc_now,
             outbox: Outbox | None = None, stories: StoryIndex | None = None) -> Store:
        return cls(open_database(path), clock, outbox, stories)

    @classmethod
    def open_for(cls, config: Config, path: str | os.PathLike[str],
                 outbox: Outbox | None = None, stories: StoryIndex | None = None) -> Store:
        """The record at `path` in line with `config`, as every writer opens it: schema
        current, the configured sources registered (names and URLs refreshed, state kept),
        and the conflicts and subscriptions too (`sync_alerting`: a subscription removed
        from the config has its pending alerts cancelled)."""
        store = cls.open(path, outbox=outbox, stories=stories)
        try:
            store.sync_sources(config.sources)
            sync_alerting(store.db, config.conflicts, config.subscriptions, store.now())
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def now(self) -> str:
        return stamp(self.clock()) or ""

    # -- sources -------------------------------------------------------------------------

    def sync_sources(self, sources: Iterable[Source]) -> None:
        """Insert configured sources and refresh their names and URLs; keep their state."""
        now = self.now()
        with write_transaction(self.db):
            for source in sources:
                self.db.execute(
                    "INSERT INTO sources (id, name, kind, url, topic, added_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                    "name=excluded.name, kind=excluded.kind, url=excluded.url, "
                    "topic=excluded.topic",
                    [source.id, source.name, source.kind, source.url, source.topic, now],
                )

    # -- lookups for the spiders ---------------------------------------------------------

    def known(self, url: str) -> KnownArticle | None:
        """The stored article reached by this canonical URL, if any.

        Its latest time leaves out a time more than an hour ahead (a page or a feed dated
        2099): counted, it would be later than any listing, and the article would never
        be fetched again when it changes."""
        row = self.db.execute(
            _KNOWN_SQL, {"url": url, "ahead": stamp(self.clock() + timedelta(hours=1))},
        ).fetchone()
        return KnownArticle(row[0], row[1], row[2] or None, row[3], row[4] or 0) if row else None

    # -- listings: provenance and one fetch per article per crawl ------------------------

    def list_links(self, source_id: str, run_id: int,
                   links: Iterable[Link]) -> list[tuple[str, str | None]]:
        """Record that `source_id` lists `links`, and say what its run does about each:
        (FETCH, UNCHANGED, ELSEWHERE or DEAD; the latest time the record holds for its
        article, None if not stored), in one transaction for the whole listing page.

        A stored article gains (or refreshes) its provenance row for this source at once;
        a link not stored yet waits in pending_listings for its article. A link is fetched
        by the first run to claim it: another run of this crawl (this process or another)
        that holds its claim, or that stored its article since this run started, makes it
        ELSEWHERE. A stored article is fetched again only when the listing shows a time
        later than any the site showed for it before (the site says it changed).
        """
        now = self.now()
        verdicts = []
        with write_transaction(self.db):
            for link in links:
                known = self._record_link(source_id, link, now)
                latest = known.latest_time if known is not None else None
                if known is not None:
                    if self._stored_during(known, run_id):
                        verdicts.append((ELSEWHERE, latest))
                        continue
                    if (link.listed_at or "") <= (latest or ""):
                        verdicts.append((UNCHANGED, latest))
                        continue
                elif self.failed_for_good(link.url):
                    verdicts.append((DEAD, None))
                    continue
                claimed = self._claim(link.key, source_id, run_id, now)
                verdicts.append((FETCH if claimed else ELSEWHERE, latest))
        return verdicts

    def record_listing(self, source_id: str, links: Iterable[Link]) -> None:
        """Record that `source_id` lists `links` (provenance only: the ingester's part of
        `list_links`, for a `veille worker`'s listing; the workers' shared duplicate filter
        makes one fetch of each)."""
        now = self.now()
        with write_transaction(self.db):
            for link in links:
                self._record_link(source_id, link, now)

    def _record_link(self, source_id: str, link: Link, now: str) -> KnownArticle | None:
        """The provenance row of a listed link (pending if its article is not stored);
        its stored article, if any."""
        known = self.known(link.url)
        if known is None and link.alias:
            known = self.known(link.alias)
            if known is not None:  # an AMP link of a stored article: one of its URLs now
                self._add_alias(known.id, source_id, link, now)
        if known is None:
            self._add_pending(source_id, link, now)
        elif self._add_provenance(known.id, source_id, link, now) and self.outbox is not None:
            # Listed by one more source: its label may name a conflict, its subscribers
            # may be owed the article.
            self.outbox.listed(self.db, known.id, source_id, link.topic, now)
        return known

    def _add_alias(self, article_id: int, source_id: str, link: Link, now: str) -> None:
        """Record a listed AMP link whose non-AMP twin (`link.alias`) is a stored article's
        as that article's URL, and the merge (`article_merges`, reason "amp")."""
        added = self.db.execute(
            "INSERT INTO article_urls (url, article_id, kind, source_id, first_seen_at, "
            "last_seen_at, listed_at) VALUES (?, ?, 'amp', ?, ?, ?, ?) "
            "ON CONFLICT(url) DO NOTHING", [link.url, article_id, source_id, now, now,
                                            link.listed_at]).rowcount
        if added:
            self.identity.record_merge(article_id, AMP, f"AMP link of {link.alias}",
                                       link.url, source_id, now)

    def fetched_elsewhere(self, url: str, source_id: str, run_id: int,
                          claimed: bool = False) -> bool:
        """Whether an article request about to go out (`url`, canonical: a listed link, or
        where a redirect led) is to be left to another run: its article was stored since
        this run started (under another of its URLs), or its URL is claimed by another
        running run. Otherwise this run claims the URL (unless `claimed` already)."""
        if self._stored_since(url, run_id):
            return True
        if claimed:
            return False
        with write_transaction(self.db):
            # Asked again under the write lock: another run may have stored the article
            # and released its claim since the read above, and the claim would then pass.
            if self._stored_since(url, run_id):
                return True
            return not self._claim(url, source_id, run_id, self.now())

    def _stored_since(self, url: str, run_id: int) -> bool:
        known = self.known(url)
        return known is not None and self._stored_during(known, run_id)

    def redirected(self, source_id: str, run_id: int, link: Link, target: str) -> None:
        """`link`, listed by `source_id`, redirects to `target`, which another run fetches
        (`OneFetchMiddleware` stopped this run's request there): the link is an address
        of that article and the source lists it, now if it is stored, else when it is."""
        now = self.now()
        with write_transaction(self.db):
            known = self.known(target)
            if known is None:
                self.db.execute(
                    "UPDATE pending_listings SET redirects_to = ? WHERE url = ? "
                    "AND source_id = ?", [target, link.key, source_id])
                return
            self.db.execute(
                "INSERT INTO article_urls (url, article_id, kind, source_id, first_seen_at, "
                "last_seen_at, listed_at) VALUES (?, ?, 'redirect', ?, ?, ?, ?) "
                "ON CONFLICT(url) DO NOTHING",
                [link.url, known.id, source_id, now, now, link.listed_at])
            self.db.execute("DELETE FROM pending_listings WHERE url = ? AND source_id = ?",
                            [link.key, source_id])
            self._record_link(source_id, replace(link, url=target, alias=None), now)

    @staticmethod
    def _stored_during(known: KnownArticle, run_id: int) -> bool:
        """Whether the article was fetched since run `run_id` started (by another run: this
        one does not fetch what it stored).

        Not told by the clock: times are kept to the second, and a crawl that stored the
        article in the second the run started may be another run of this crawl (two at
        once must not both fetch it) or an earlier crawl (cron, back to back: what changed
        must be fetched). Each fetch records the newest run that existed then
        (`fetch_epoch`); run ids grow as runs start, so a fetch made after this run's row
        was written has an epoch of at least its id."""
        return known.fetch_epoch >= run_id

    def _claim(self, url: str, source_id: str, run_id: int, now: str) -> bool:
        """Claim the fetch of `url` for `run_id`; False if another running run holds it.
        A claim left by a run that is no longer running is taken over."""
        row = self.db.execute(
            "INSERT INTO fetch_claims (url, source_id, run_id, claimed_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(url) DO UPDATE SET source_id = excluded.source_id, "
            "run_id = excluded.run_id, claimed_at = excluded.claimed_at "
            "WHERE fetch_claims.run_id = excluded.run_id OR NOT EXISTS (SELECT 1 FROM "
            "crawl_runs r WHERE r.id = fetch_claims.run_id AND r.status = 'running') "
            "RETURNING run_id",
            [url, source_id, run_id, now],
        ).fetchone()
        return row is not None

    def _add_provenance(self, article_id: int, source_id: str, link: Link, now: str) -> bool:
        """Upsert the (article, source) row; whether it is new."""
        [first_listed] = self.db.execute(
            "INSERT INTO article_sources (article_id, source_id, url, topic, listed_at, "
            "first_listed_at, last_listed_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(article_id, source_id) DO UPDATE SET last_listed_at = "
            "excluded.last_listed_at, topic = coalesce(excluded.topic, topic), "
            "listed_at = coalesce(excluded.listed_at, listed_at) RETURNING first_listed_at",
            [article_id, source_id, link.url, link.topic, link.listed_at, now, now],
        ).fetchone()
        return first_listed == now

    def _add_pending(self, source_id: str, link: Link, now: str) -> None:
        self.db.execute(
            "INSERT INTO pending_listings (url, source_id, topic, listed_at, first_listed_at, "
            "last_listed_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(url, source_id) DO UPDATE "
            "SET last_listed_at = excluded.last_listed_at, "
            "topic = coalesce(excluded.topic, topic), "
            "listed_at = coalesce(excluded.listed_at, listed_at)",
            [link.key, source_id, link.topic, link.listed_at, now, now],
        )

    def failed_for_good(self, url: str, days: float = 7.0) -> bool:
        """Whether fetching `url` recently failed in a way a retry will not fix.

        Links that robots.txt forbids or that answer 404/410 are not fetched again for
        `days`, so that they neither cost a request on every poll nor look new.
        """
        since = stamp(self.clock() - timedelta(days=days))
        row = self.db.execute(
            "SELECT 1 FROM fetch_errors WHERE url = ? AND kind IN ('ignored', 'gone') "
            "AND at >= ? LIMIT 1",
            [url, since],
        ).fetchone()
        return row is not None

    def previous_poll(self, source_id: str, run_id: int) -> str | None:
        """When the source's last successful run before `run_id` started (a gap opens
        since then), or None on its first crawl (`crawler.record.events`)."""
        return events.previous_poll(self.db, source_id, run_id)

    def listed_before(self, source_id: str, keys: Sequence[str], run_id: int) -> int:
        """How many of `keys` (`Link.key`s) the source listed before run `run_id` started
        without their article being stored (every fetch of them failed): links it knew,
        which a poll that shows them is no gap for."""
        if not keys:
            return 0
        marks = ", ".join("?" * len(keys))
        return self.db.execute(
            f"SELECT count(*) FROM pending_listings WHERE source_id = ? AND url IN ({marks}) "
            "AND first_listed_at < (SELECT started_at FROM crawl_runs WHERE id = ?)",
            [source_id, *keys, run_id]).fetchone()[0]

    def last_run_finished(self, source_id: str) -> bool:
        """Whether the source's latest finished run ended normally (not killed or failed).

        A crawl that was interrupted may have stored page 1 of a listing and never reached
        page 2, so the next crawl must not stop paginating at a page of known articles.
        """
        row = self.db.execute(
            "SELECT status FROM crawl_runs WHERE source_id = ? "
            "AND status NOT IN ('running', 'queued') "
            "ORDER BY id DESC LIMIT 1",
            [source_id],
        ).fetchone()
        return row is not None and row[0] in ("ok", "partial")

    # -- polling: HTTP validators and robots.txt --------------------------------------

    def validators(self, url: str) -> HttpValidators | None:
        """The validators saved for a listing or feed URL, if any."""
        row = self.db.execute(
            "SELECT etag, last_modified, body_hash FROM http_validators WHERE url = ?", [url]
        ).fetchone()
        return HttpValidators(*row) if row else None

    def save_validators(self, source_id: str, validators: Mapping[str, HttpValidators]) -> None:
        """Save the validators of several URLs in one transaction.

        `changed_at` moves only when a URL's body hash differs from the one saved.
        """
        now = self.now()
        with write_transaction(self.db):
            for url, v in validators.items():
                self.db.execute(
                    "INSERT INTO http_validators (url, source_id, etag, last_modified, "
                    "body_hash, checked_at, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(url) DO UPDATE SET source_id = excluded.source_id, "
                    "etag = excluded.etag, last_modified = excluded.last_modified, "
                    "checked_at = excluded.checked_at, changed_at = CASE WHEN "
                    "http_validators.body_hash IS excluded.body_hash THEN "
                    "http_validators.changed_at ELSE excluded.changed_at END, "
                    "body_hash = excluded.body_hash",
                    [url, source_id, v.etag, v.last_modified, v.body_hash, now, now],
                )

    def cached_robots(self, origin: str, max_age: float) -> tuple[int, bytes] | None:
        """(status, body) of the robots.txt of `origin` ("scheme://netloc") if fetched less
        than `max_age` seconds ago."""
        since = stamp(self.clock() - timedelta(seconds=max_age))
        row = self.db.execute(
            "SELECT status, body FROM robots_cache WHERE origin = ? AND fetched_at > ?",
            [origin, since],
        ).fetchone()
        return (row[0], bytes(row[1] or b"")) if row else None

    def save_robots(self, origin: str, status: int, body: bytes) -> None:
        """Keep the robots.txt just fetched for `origin`, replacing any older copy."""
        with write_transaction(self.db):
            self.db.execute(
                "INSERT OR REPLACE INTO robots_cache (origin, status, body, fetched_at) "
                "VALUES (?, ?, ?, ?)",
                [origin, status, body, self.now()],
            )

    # -- articles ------------------------------------------------------------------------

    def save_article(self, article: StoredArticle, analysis: TextAnalysis | None = None,
                     page: PageRef | None = None) -> SaveResult:
        """Insert a new article, or record a new version, or note that it was seen again.

        `analysis`: its fingerprint and matches, computed already (see `TextAnalysis`).
        `page`: where the response it was extracted from is kept (crawler/record/pages.py).
        """
        now = self.now()
        matches = None
        if analysis is not None and self.outbox is not None \
                and analysis.conflicts_digest == self.outbox.matcher.digest:
            matches = list(analysis.matches)

        @functools.cache
        def fingerprint() -> Fingerprint | None:  # only new or changed texts need one
            if analysis is not None:
                return analysis.fingerprint
            return article_fingerprint(article.lead, article.body)

        change, joined, refused = None, False, None
        identity = self.identity
        with write_transaction(self.db):
            found = identity.find(article, now, fingerprint)
            if found is not None and found.reason in (CANONICAL, AMP) \
                    and self._canonical_disbelieved(found.row, article, fingerprint()):
                refused = (found.row["id"], article.canonical_url)
                article = under_own_url(article)
                found = identity.find(article, now, fingerprint)
            existing = found.row if found is not None else None
            # A copy of another source's text: that article, seen again under one more URL.
            by_text = found is not None and found.reason == TEXT and not found.same_source
            if existing is None:
                article_id = self._insert(article, now)
                outcome = "new"
                story_id, joined = self.stories.assign(
                    self.db, article_id, fingerprint(), article.title, now)
            elif by_text:
                article_id, story_id = existing["id"], existing["story_id"]
                self.db.execute(
                    "UPDATE articles SET last_seen_at = ?, last_fetched_at = ? WHERE id = ?",
                    [now, now, article_id],
                )
                outcome = "unchanged"
            else:
                article_id, story_id = existing["id"], existing["story_id"]
                # A page under a new address of the article (its slug renamed, its GUID
                # changed) is a version of it even when its text is the same.
                assert found is not None
                change = self._update(existing, article, now, moved=found.moved)
                outcome = "updated" if change else "unchanged"
                if change:
                    self.stories.refresh(self.db, article_id, fingerprint(), now)
            identity.remember_guid(article, article_id, now)
            if found is not None and found.merge:
                identity.record_merge(article_id, found.reason, found.evidence,
                                      own_url(article) or article.canonical_url,
                                      article.source_id, now)
            self._add_urls(article_id, article, now)
            # The newest run there is: a run started before this fetch has an id up to it.
            self.db.execute("UPDATE articles SET fetch_epoch = (SELECT coalesce(max(id), 0) "
                            "FROM crawl_runs) WHERE id = ?", [article_id])
            listed_by = self._attach_listings(article_id, article, now)
            if page is not None and not by_text:
                self._record_page(article_id, page)
            alerts = []
            if self.outbox is not None:
                alerts = self.outbox.saved(
                    self.db, article_id, outcome, article, now, story_id=story_id,
                    change=change, matches=matches, listed_by=listed_by,
                )
        return SaveResult(outcome, article_id, duplicate_of_other_url=by_text,
                          alerts=len(alerts), story_id=story_id, joined_story=joined,
                          canonical_refused=refused)

    def _attach_listings(self, article_id: int, article: StoredArticle,
                         now: str) -> dict[str, str | None]:
        """Give the article every source that listed one of its URLs (the pending
        listings of other sources, and the source that fetched it), and return them all:
        {source id: topic label}."""
        urls = [url for url, _ in article.urls]
        marks = ", ".join("?" * len(urls))
        # Links of other sources that redirect here: URLs of the article too.
        self.db.execute(
            "INSERT INTO article_urls (url, article_id, kind, source_id, first_seen_at, "
            "last_seen_at, listed_at) SELECT url, ?, 'redirect', min(source_id), "
            f"min(first_listed_at), max(last_listed_at), max(listed_at) FROM pending_listings "
            f"WHERE redirects_to IN ({marks}) GROUP BY url ON CONFLICT(url) DO NOTHING",
            [article_id, *urls],
        )
        self.db.execute(
            "UPDATE pending_listings SET url = redirects_to, redirects_to = NULL "
            f"WHERE redirects_to IN ({marks}) AND NOT EXISTS (SELECT 1 FROM pending_listings "
            "p WHERE p.url = pending_listings.redirects_to "
            "AND p.source_id = pending_listings.source_id)",
            urls,
        )
        self.db.execute(
            "INSERT INTO article_sources (article_id, source_id, url, topic, listed_at, "
            "first_listed_at, last_listed_at) SELECT ?, source_id, min(url), max(topic), "
            f"max(listed_at), min(first_listed_at), max(last_listed_at) FROM pending_listings "
            f"WHERE url IN ({marks}) GROUP BY source_id "
            "ON CONFLICT(article_id, source_id) DO UPDATE SET "
            "last_listed_at = max(last_listed_at, excluded.last_listed_at), "
            "topic = coalesce(topic, excluded.topic), "
            "listed_at = coalesce(listed_at, excluded.listed_at)",
            [article_id, *urls],
        )
        self.db.execute(f"DELETE FROM pending_listings WHERE url IN ({marks}) "
                        f"OR redirects_to IN ({marks})", urls + urls)
        # The fetching source listed it too, even when no listing was recorded (a page
        # handed over by a `veille worker` whose listing event was lost, a test).
        self.db.execute(
            "INSERT INTO article_sources (article_id, source_id, url, topic, listed_at, "
            "first_listed_at, last_listed_at) VALUES (?, ?, ?, NULL, ?, ?, ?) "
            "ON CONFLICT(article_id, source_id) DO NOTHING",
            [article_id, article.source_id, article.listed_url or article.canonical_url,
             article.listed_at, now, now],
        )
        return dict(self.db.execute(
            "SELECT source_id, topic FROM article_sources WHERE article_id = ?", [article_id]
        ).fetchall())

    def _canonical_disbelieved(self, existing: dict, article: StoredArticle,
                               ours: Fingerprint | None) -> bool:
        """Whether the stored article `existing`, found under the page's rel=canonical
        only, is another story than the page: a page of the site must not replace an
        article's text (and queue an `update` alert) by naming it as its canonical.

        Believed when the page's own URL (fetched, listed, redirect) is already that
        article's, when the text is the same, or when one text mostly contains the other
        (the story index's test: an AMP copy, a re-edited version).
        """
        fetched = own_url(article)
        if fetched is None or existing["content_hash"] == article.content_hash:
            return False  # the page is its own canonical, or the same text
        others = [url for url, _ in article.urls[1:]]
        marks = ", ".join("?" * len(others))
        if self.db.execute(f"SELECT 1 FROM article_urls WHERE article_id = ? AND url IN "
                           f"({marks})", [existing["id"], *others]).fetchone():
            return False
        theirs = self.stories.fingerprint_of(self.db, existing["id"])
        if ours is None or theirs is None:  # too short to tell: not the same story
            return True
        return ours.containment(theirs) < self.stories.settings.threshold

    def _insert(self, article: StoredArticle, now: str) -> int:
        record = _article_record(article)
        record.update(first_seen_at=now, last_seen_at=now, last_fetched_at=now, version=1)
        if record["published_at"] is None:
            # No believable time from the page, its listing or its URL (none, or one in the
            # future that extraction refused): the first sighting dates it, and says so.
            record["published_at"] = now
            record["published_from"] = "first-seen"
        cursor = self.db.execute(
            f"INSERT INTO articles ({', '.join(record)}) VALUES ({', '.join('?' * len(record))})",
            list(record.values()),
        )
        return int(cursor.lastrowid)

    def save_reextraction(self, article_id: int, article: StoredArticle,
                          page: PageRef) -> Change | None:
        """Record what the extractor now reads in a stored article's page (`veille
        reextract`): a changed title, lead or text becomes a new version, like a crawl's,
        with `superseded_by = 'reextract'` on the earlier one; otherwise nothing is written.

        Queues no alert, whatever the store's outbox: the site did not change. With an
        outbox, the changed article's conflict matches are written again (as `veille
        rematch` does). Returns how much changed, or None.
        """
        now = self.now()
        with write_transaction(self.db):
            existing = next(self.db.query("SELECT * FROM articles WHERE id = ?",
                                          [article_id]), None)
            if existing is None:
                return None
            change = self._update(existing, article, now, refetched=False)
            if change is None:
                return None
            self.stories.refresh(self.db, article_id,
                                 article_fingerprint(article.lead, article.body), now)
            self._record_page(article_id, page)
            if self.outbox is not None:
                self.outbox.write_matches(self.db, article_id, self.outbox.matcher.match(
                    title=article.title, lead=article.lead, body=article.body,
                    topic=article.topic), now)
        return change

    def _record_page(self, article_id: int, page: PageRef) -> None:
        """Point the article's current version at the response it was extracted from."""
        self.db.execute(
            "INSERT INTO article_pages (article_id, version, file, byte_offset, record_id) "
            "SELECT id, version, ?, ?, ? FROM articles WHERE id = ? "
            "ON CONFLICT(article_id, version) DO UPDATE SET file = excluded.file, "
            "byte_offset = excluded.byte_offset, record_id = excluded.record_id",
            [page.file, page.offset, page.record_id, article_id],
        )

    def _update(self, existing: dict, article: StoredArticle, now: str,
                refetched: bool = True, moved: bool = False) -> Change | None:
        """Record a new version if the text changed; return how much, or None.

        `refetched`: the site was read again now (a crawl), rather than a stored page
        re-extracted, which leaves the seen and fetched times as they were. `moved`: the
        page is the article under a new address (slug, GUID), a version even if its text
        is the same (its merge row says where it was read).
        """
        changed = (
            moved
            or existing["content_hash"] != article.content_hash
            or (existing["title"] or "") != (article.title or "")
            or (existing["lead"] or "") != (article.lead or "")
        )
        if not changed:
            if refetched:
                self.db.execute(
                    "UPDATE articles SET last_seen_at = ?, last_fetched_at = ? WHERE id = ?",
                    [now, now, existing["id"]],
                )
            return None
        added, removed = word_changes(existing["body"] or "", article.body)
        self.db["article_versions"].insert(
            {
                "article_id": existing["id"], "version": existing["version"],
                "title": existing["title"], "lead": existing["lead"], "body": existing["body"],
                "content_hash": existing["content_hash"],
                "fetched_at": existing["last_fetched_at"], "superseded_at": now,
                "words_added": added, "words_removed": removed,
                "superseded_by": None if refetched else "reextract",
            }
        )
        record = _article_record(article)
        # The first URL that named the article stays its key; the site's canonical may move.
        record.pop("canonical_url")
        if record["published_at"] is None:  # a version without a time keeps the known one
            record.pop("published_at")
            record.pop("published_local")
            record.pop("published_from")
        record.update(version=existing["version"] + 1)
        if refetched:
            record.update(last_seen_at=now, last_fetched_at=now)
        assignments = ", ".join(f"{column} = ?" for column in record)
        self.db.execute(
            f"UPDATE articles SET {assignments} WHERE id = ?", [*record.values(), existing["id"]]
        )
        return Change(added, removed, len((existing["body"] or "").split()))

    def _add_urls(self, article_id: int, article: StoredArticle, now: str) -> None:
        self.db.conn.executemany(
            "INSERT INTO article_urls (url, article_id, kind, source_id, first_seen_at, "
            "last_seen_at, listed_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(url) DO UPDATE SET last_seen_at = excluded.last_seen_at, "
            "listed_at = max(coalesce(listed_at, ''), coalesce(excluded.listed_at, ''))",
            [(url, article_id, kind, article.source_id, now, now,
              article.listed_at if url == article.listed_url else None)
             for url, kind in article.urls],
        )

    # -- runs and errors -----------------------------------------------------------------

    def start_run(self, source_id: str, pid: int) -> int:
        with write_transaction(self.db):
            cursor = self.db.execute(
                "INSERT INTO crawl_runs (source_id, started_at, status, pid) "
                "VALUES (?, ?, 'running', ?)",
                [source_id, self.now(), pid],
            )
            self.db.execute(
                "UPDATE sources SET last_run_at = ? WHERE id = ?", [self.now(), source_id]
            )
        return int(cursor.lastrowid)

    def queue_run(self, source_id: str) -> int:
        """A run handed to `veille worker`s: 'queued' until the ingester closes it."""
        with write_transaction(self.db):
            cursor = self.db.execute(
                "INSERT INTO crawl_runs (source_id, started_at, status) VALUES (?, ?, 'queued')",
                [source_id, self.now()],
            )
            self.db.execute(
                "UPDATE sources SET last_run_at = ? WHERE id = ?", [self.now(), source_id]
            )
        return int(cursor.lastrowid)

    def count_saved(self, run_id: int, outcome: str, alerts: int) -> None:
        """Count an article a queued run's worker sent (`outcome`: "new", "updated" or
        "unchanged", from `save_article`) and the alerts it queued, as the ingester saves it."""
        if outcome not in ("new", "updated", "unchanged"):
            raise ValueError(f"not an outcome of save_article: {outcome!r}")
        with write_transaction(self.db):
            self.db.execute(
                f"UPDATE crawl_runs SET {outcome} = coalesce({outcome}, 0) + 1, "
                "alerts = coalesce(alerts, 0) + ? WHERE id = ?", [alerts, run_id])

    def note_run_failure(self, run_id: int, message: str) -> None:
        """The failure that makes a run fail (its start URL's), kept until it closes."""
        with write_transaction(self.db):
            self.db.execute("UPDATE crawl_runs SET message = ? WHERE id = ?", [message, run_id])

    def finish_run(self, run_id: int, status: str, counts: dict[str, int], message: str | None):
        """Close a run and update its source's health in the same transaction."""
        now = self.now()
        with write_transaction(self.db):
            self.db["crawl_runs"].update(
                run_id, {"ended_at": now, "status": status, "message": message, **counts}
            )
            source_id = self.db["crawl_runs"].get(run_id)["source_id"]
            # What it had claimed and not fetched (failed, or stopped) is free again.
            self.db.execute("DELETE FROM fetch_claims WHERE run_id = ?", [run_id])
            if status == "failed":
                self.db.execute(
                    "UPDATE sources SET last_error = ?, last_error_at = ?, "
                    "failure_count = failure_count + 1, "
                    "failing_since = coalesce(failing_since, ?) WHERE id = ?",
                    [message, now, now, source_id],
                )
            elif status != "interrupted":
                self.db.execute(
                    "UPDATE sources SET last_success_at = ?, failure_count = 0, "
                    "failing_since = NULL, backoff_until = NULL WHERE id = ?",
                    [now, source_id],
                )

    def record_error(
        self, run_id: int | None, source_id: str, url: str | None, kind: str, message: str,
        level: str = "error",
    ) -> None:
        with write_transaction(self.db):
            self.db["fetch_errors"].insert(
                {
                    "run_id": run_id, "source_id": source_id, "url": url, "level": level,
                    "kind": kind, "message": message, "at": self.now(),
                }
            )

    def close_stale_runs(self, alive: Callable[[int], bool]) -> int:
        """Mark runs left 'running' by a process that no longer exists as 'interrupted'."""
        stale = [
            row for row in self.db.execute(
                "SELECT id, pid FROM crawl_runs WHERE status = 'running'"
            ).fetchall()
            if not row[1] or not alive(row[1])
        ]
        with write_transaction(self.db):
            for run_id, _ in stale:
                self.db["crawl_runs"].update(
                    run_id,
                    {"status": "interrupted", "message": "the crawl process ended without "
                     "closing this run (killed or crashed)"},
                )
                self.db.execute("DELETE FROM fetch_claims WHERE run_id = ?", [run_id])
        return len(stale)

    def prune_pending(self, days: float = 30.0) -> int:
        """Forget listed links whose article was never stored (every fetch of them failed)
        after `days`; a source that lists one again records it again."""
        since = stamp(self.clock() - timedelta(days=days))
        with write_transaction(self.db):
            return self.db.execute(
                "DELETE FROM pending_listings WHERE last_listed_at < ?", [since]).rowcount


def own_url(article: StoredArticle) -> str | None:
    """The URL the page was fetched at, when its rel=canonical names another (None when
    the page is its own canonical). It is recorded as `fetched` (or `amp`), or, when it
    is the link that was listed, under the listing's kind."""
    fetched = next((url for url, kind in article.urls[1:] if kind in ("fetched", "amp")), None)
    if fetched is None and article.listed_url != article.canonical_url:
        fetched = article.listed_url
    return fetched


def under_own_url(article: StoredArticle) -> StoredArticle:
    """The article keyed on the URL it was fetched at, without the canonical it named."""
    own = own_url(article)
    assert own is not None
    urls = {own: "canonical"}
    for url, kind in article.urls[1:]:
        urls.setdefault(url, kind)
    return replace(article, canonical_url=own, urls=tuple(urls.items()))


def _article_record(article: StoredArticle) -> dict:
    return {
        "canonical_url": article.canonical_url, "source_id": article.source_id,
        "title": article.title, "lead": article.lead, "body": article.body,
        "authors": json.dumps(list(article.authors), ensure_ascii=False),
        "topic": article.topic, "section": article.section,
        "published_at": article.published_at, "published_local": article.published_local,
        "published_from": article.published_from,
        "updated_at": article.updated_at, "updated_local": article.updated_local,
        "image_url": article.image_url, "image_caption": article.image_caption,
        "language": article.language, "word_count": article.word_count,
        "content_hash": article.content_hash,
    }


def word_changes(old: str, new: str) -> tuple[int, int]:
    """How many words a new text adds and removes compared with the old one."""
    added = removed = 0
    matcher = difflib.SequenceMatcher(a=old.split(), b=new.split(), autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op in ("replace", "delete"):
            removed += a2 - a1
        if op in ("replace", "insert"):
            added += b2 - b1
    return added, removed
