"""Which stored article a fetched page is: layered identity.

A page is the same article as a stored one when, in this order:

1. one of its URLs is known (the URL it was listed or fetched at, a redirect, its
   rel=canonical, its AMP or non-AMP twin);
2. its feed GUID is known for the source that listed it;
3. the same source stored or listed, within `TITLE_WINDOW`, an article whose headline
   normalises to the page's and whose text the page's nearly contains (the story index's
   containment test);
4. its text is identical (long enough to tell).

Only the first layer is the page's own address; the others are merges, recorded in
`article_merges` with their reason and evidence, since they are what folds a renamed
slug, a new GUID, an edited headline or an AMP variant into the article it already is.
Everything here runs inside the article's transaction (`Store.save_article`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import sqlite_utils

from crawler.clock import stamp_before
from crawler.page.fingerprints import Fingerprint
from crawler.record.article import StoredArticle
from crawler.record.stories import StoryIndex

# A body shorter than this is too thin to say two URLs hold the same article.
MIN_WORDS_FOR_TEXT_DEDUP = 30

# A headline matches a stored one of the same source seen this recently, when the texts
# are near-identical: one contains this much of the other at least (or the story index's
# threshold, if set higher).
TITLE_WINDOW = timedelta(hours=48)
NEAR_IDENTICAL = 0.8

# The layers, as `article_merges.reason` names them ("url" is no merge: the page's own).
URL, CANONICAL, AMP, GUID, TITLE, TEXT = "url", "canonical", "amp", "guid", "title", "text"


@dataclass(frozen=True)
class Identified:
    """The stored article a page is, and by which layer (`reason`) it was recognised."""

    row: dict
    reason: str
    evidence: str | None = None
    # Whether the stored article is the same source's (a copy of another source's text
    # is a duplicate of it, never a move of this source's article).
    same_source: bool = True

    @property
    def merge(self) -> bool:
        """Whether the page joined the article by something other than its own URL."""
        return self.reason != URL

    @property
    def moved(self) -> bool:
        """Whether the page is the article under a new address its own source gave it (a
        renamed slug under the same GUID, a new GUID and slug under the same headline):
        a version even when its text is the same, which records where it was read. The
        same text under another URL is a version only if its headline or lead changed
        (a site may serve one text at two addresses at once)."""
        return self.reason in (GUID, TITLE)


def normal_title(title: str | None) -> str:
    """A headline as compared across edits of its spelling: no accents, case, punctuation
    or spacing differences ("Karabakh : l'armée…" and "KARABAKH — L’ARMEE..." agree)."""
    text = unicodedata.normalize("NFKD", title or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


def own_urls(article: StoredArticle) -> set[str]:
    """The URLs the page itself was reached at (listed, redirected through, fetched): its
    rel=canonical only when it names no other page."""
    own = {url for url, kind in article.urls[1:] if kind != "amp" or url == article.listed_url}
    if article.listed_url:
        own.add(article.listed_url)
    if not own or own == {article.canonical_url}:
        own.add(article.canonical_url)
    return own


class Identity:
    """The lookups of layered identity over one database; texts are compared with the
    story index's fingerprints and its containment threshold."""

    def __init__(self, db: sqlite_utils.Database, stories: StoryIndex):
        self.db = db
        self.stories = stories
        self.threshold = stories.settings.threshold

    def find(self, article: StoredArticle, now: str,
             fingerprint: Callable[[], Fingerprint | None]) -> Identified | None:
        """The stored article `article` is, by the first layer that knows it; None if new.
        `fingerprint`: the page's text fingerprint, computed only if a layer needs it."""
        return (self.by_url(article)
                or self.by_guid(article, fingerprint)
                or self.by_title(article, now, fingerprint)
                or self.by_text(article))

    def by_url(self, article: StoredArticle) -> Identified | None:
        urls = [url for url, _ in article.urls]
        rows = self._rows(
            "SELECT u.url AS _url, a.* FROM article_urls u JOIN articles a "
            f"ON a.id = u.article_id WHERE u.url IN ({', '.join('?' * len(urls))})", urls)
        found = {row.pop("_url"): row for row in rows}
        first = next((url for url in urls if url in found), None)
        if first is None:
            return None
        row = found[first]
        own = own_urls(article)
        if any(found.get(url, {}).get("id") == row["id"] for url in own):
            return Identified(row, URL)
        kinds = dict(article.urls)
        if "amp" in kinds.values() and kinds.get(first) != "amp":
            return Identified(row, AMP, f"AMP page whose canonical is {first}")
        if kinds.get(first) == "amp":
            return Identified(row, AMP, f"the AMP twin {first} is stored")
        return Identified(row, CANONICAL, f"rel=canonical names {first}")

    def by_guid(self, article: StoredArticle,
                fingerprint: Callable[[], Fingerprint | None]) -> Identified | None:
        """The article the listing source's feed gave this GUID before. Disbelieved when
        the headline and the text both differ: a feed that repeats one GUID for every
        entry must not fold its articles together."""
        if not article.guid:
            return None
        rows = self._rows(
            "SELECT a.* FROM article_guids g JOIN articles a ON a.id = g.article_id "
            "WHERE g.source_id = ? AND g.guid = ?", [article.source_id, article.guid])
        if not rows:
            return None
        row = rows[0]
        if normal_title(row["title"]) != normal_title(article.title) \
                and row["content_hash"] != article.content_hash \
                and self._containment(row, fingerprint) < self.threshold:
            return None
        return Identified(row, GUID, f"feed GUID {article.guid}")

    def by_title(self, article: StoredArticle, now: str,
                 fingerprint: Callable[[], Fingerprint | None]) -> Identified | None:
        """An article of the same source, seen within TITLE_WINDOW, with the same headline
        once normalised and a text this page's nearly contains."""
        title = normal_title(article.title)
        if len(title.split()) < 3:  # "Live", "Breaking news": too short to name an article
            return None
        since = stamp_before(now, TITLE_WINDOW)
        # Headlines first (a busy source stores hundreds in 48 hours), whole rows for the
        # few that match.
        candidates = self.db.execute(
            "SELECT id, title FROM articles WHERE id IN ("
            "SELECT id FROM articles WHERE source_id = :source AND published_at >= :since "
            "UNION SELECT id FROM articles WHERE source_id = :source AND first_seen_at >= "
            ":since UNION SELECT article_id FROM article_sources WHERE source_id = :source "
            "AND last_listed_at >= :since) ORDER BY id DESC",
            {"source": article.source_id, "since": since}).fetchall()
        for article_id, candidate in candidates:
            if normal_title(candidate) != title:
                continue
            [row] = self._rows("SELECT * FROM articles WHERE id = ?", [article_id])
            if row["content_hash"] == article.content_hash:
                return Identified(row, TITLE, f"headline {article.title!r}, same text")
            score = self._containment(row, fingerprint)
            if score >= max(self.threshold, NEAR_IDENTICAL):
                return Identified(row, TITLE, f"headline {article.title!r}, "
                                              f"{score:.0%} of the text in common")
        return None

    def by_text(self, article: StoredArticle) -> Identified | None:
        """The article with the very same text, when it is long enough to tell: the same
        source's (a slug renamed with its headline), or another's (a copy)."""
        if article.word_count < MIN_WORDS_FOR_TEXT_DEDUP:
            return None
        rows = self._rows("SELECT * FROM articles WHERE content_hash = ? ORDER BY id LIMIT 1",
                          [article.content_hash])
        if not rows:
            return None
        row = rows[0]
        same_source = row["source_id"] == article.source_id
        return Identified(row, TEXT, "identical text" + (
            "" if same_source else f" (stored from {row['source_id']})"), same_source)

    def _containment(self, row: dict, fingerprint: Callable[[], Fingerprint | None]) -> float:
        """How much of the shorter text the other holds (symmetric), by the page's
        fingerprint and the one the story index keeps for the stored article."""
        ours, theirs = fingerprint(), self.stories.fingerprint_of(self.db, row["id"])
        if ours is None or theirs is None:
            return 0.0
        return ours.containment(theirs)

    def remember_guid(self, article: StoredArticle, article_id: int, now: str) -> None:
        """Keep the GUID the source's feed gave the article (the first article a GUID
        named keeps it)."""
        if article.guid:
            self.db.execute(
                "INSERT INTO article_guids (source_id, guid, article_id, first_seen_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT(source_id, guid) DO NOTHING",
                [article.source_id, article.guid, article_id, now])

    def record_merge(self, article_id: int, reason: str, evidence: str | None,
                     url: str | None, source_id: str, now: str) -> None:
        """Write why a page or link joined a stored article (`article_merges`), at the
        version the article is now."""
        self.db.execute(
            "INSERT INTO article_merges (article_id, version, reason, url, source_id, "
            "evidence, at) SELECT id, version, ?, ?, ?, ?, ? FROM articles WHERE id = ?",
            [reason, url, source_id, evidence, now, article_id])

    def _rows(self, sql: str, params: list | dict) -> list[dict]:
        """Rows as dicts, without the savepoint sqlite-utils wraps each query in (this
        runs inside the article's transaction)."""
        cursor = self.db.execute(sql, params)
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
