"""Stories: one story, many copies. The fingerprints of each article's text (MinHash
signatures, crawler/page/fingerprints.py), banded for locality-sensitive hashing, kept in
SQLite so no process rebuilds the index.

Two texts are the same story when one mostly contains the other: a wire dispatch reprinted
with a new headline, a rewritten first paragraph, boilerplate or related links added, the
last paragraphs cut, typography changed. Containment, not Jaccard similarity, is the test,
because a truncated copy shares only part of the longer text. It is estimated from the
signatures (Jaccard) and the shingle counts, after LSH has picked the candidates; a low
Jaccard threshold for the bands keeps truncated copies among the candidates.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import numpy as np
import sqlite_utils

from crawler.clock import stamp_before
from crawler.config.model import StorySettings
from crawler.page.fingerprints import NUM_PERM, Fingerprint, containment, fingerprint
from crawler.record.schema import write_transaction

LOGGER = logging.getLogger(__name__)


class StoryIndex:
    """The persistent index: assigns each new article to a story, inside its transaction."""

    def __init__(self, settings: StorySettings | None = None):
        self.settings = settings or StorySettings()

    def assign(self, db: sqlite_utils.Database, article_id: int,
               text: str | Fingerprint | None, title: str | None,
               now: str) -> tuple[int, bool]:
        """Put a new article in the story it copies, or in a new story.

        `text` is the article's text, or its fingerprint already computed (None: too short).
        Returns (story id, whether the story already existed). Runs in the caller's
        transaction.
        """
        print_ = fingerprint(text) if isinstance(text, str) else text
        story_id = None
        keys = print_.bands() if print_ is not None else []
        if print_ is not None:
            story_id = self._best_story(db, print_, keys, now)
        joined = story_id is not None
        if story_id is None:  # a story of one article, from one source
            story_id = int(db.execute(
                "INSERT INTO stories (title, first_article_id, first_seen_at, last_seen_at, "
                "articles, sources) VALUES (?, ?, ?, ?, 1, 1)", [title, article_id, now, now],
            ).lastrowid)
        else:
            db.execute(
                "UPDATE stories SET articles = articles + 1, last_seen_at = ?, "
                "sources = (SELECT count(DISTINCT source_id) FROM articles "
                "WHERE story_id = ? OR id = ?) WHERE id = ?",
                [now, story_id, article_id, story_id],
            )
        db.execute("UPDATE articles SET story_id = ? WHERE id = ?", [story_id, article_id])
        if print_ is not None:
            self.store(db, article_id, print_, now, keys)
        return story_id, joined

    def refresh(self, db: sqlite_utils.Database, article_id: int,
                text: str | Fingerprint | None, now: str) -> None:
        """A new version of an article: its fingerprint follows; its story does not change."""
        db.execute("DELETE FROM story_bands WHERE article_id = ?", [article_id])
        db.execute("DELETE FROM article_fingerprints WHERE article_id = ?", [article_id])
        print_ = fingerprint(text) if isinstance(text, str) else text
        if print_ is not None:
            self.store(db, article_id, print_, now)

    @staticmethod
    def fingerprint_of(db: sqlite_utils.Database, article_id: int) -> Fingerprint | None:
        """The fingerprint kept for a stored article's current text (None: too short)."""
        row = db.execute("SELECT signature, size FROM article_fingerprints "
                         "WHERE article_id = ?", [article_id]).fetchone()
        return Fingerprint(np.frombuffer(row[0], dtype=np.uint32), row[1]) if row else None

    def store(self, db: sqlite_utils.Database, article_id: int, print_: Fingerprint,
              now: str, keys: list[int] | None = None) -> None:
        db.execute(
            "INSERT INTO article_fingerprints (article_id, size, signature, indexed_at) "
            "VALUES (?, ?, ?, ?)", [article_id, print_.size, print_.signature.tobytes(), now],
        )
        db.conn.executemany(
            "INSERT OR IGNORE INTO story_bands (band_key, article_id) VALUES (?, ?)",
            [(key, article_id) for key in keys or print_.bands()],
        )

    def _best_story(self, db: sqlite_utils.Database, print_: Fingerprint, keys: list[int],
                    now: str) -> int | None:
        since = _days_before(now, self.settings.window_days)
        marks = ", ".join("?" * len(keys))
        rows = db.execute(
            f"SELECT f.article_id, f.size, f.signature, a.story_id FROM "
            f"(SELECT DISTINCT article_id FROM story_bands WHERE band_key IN ({marks})) c "
            f"JOIN article_fingerprints f ON f.article_id = c.article_id "
            f"JOIN articles a ON a.id = c.article_id WHERE f.indexed_at >= ?",
            [*keys, since],
        ).fetchall()
        return best_candidate(print_, rows, self.settings.threshold)


def best_candidate(print_: Fingerprint, rows: list, threshold: float) -> int | None:
    """The story of the candidate (article id, size, signature, story id) whose text
    `print_`'s most contains, at `threshold` or above; among equal scores, the last one."""
    rows = [row for row in rows if row[3] is not None]
    if not rows:
        return None
    # Every candidate's containment at once (a story reprinted by many sources has as many
    # candidates).
    signatures = np.frombuffer(b"".join(row[2] for row in rows), dtype=np.uint32)
    if len(signatures) != NUM_PERM * len(rows):
        raise ValueError(f"a candidate's signature is not {NUM_PERM} values long")
    sizes = np.array([row[1] for row in rows], dtype=np.int64)
    jaccard = np.count_nonzero(signatures.reshape(len(rows), NUM_PERM) == print_.signature,
                               axis=1) / NUM_PERM
    scores = containment(jaccard, print_.size, sizes)
    best = len(rows) - 1 - int(np.argmax(scores[::-1]))  # the last of the best
    return rows[best][3] if scores[best] >= threshold else None


def prune(db: sqlite_utils.Database, now: str, window_days: float) -> int:
    """Drop band rows older than the window: copies are only looked for among recent
    articles, so the index stays the size of the window, not of the archive."""
    since = _days_before(now, window_days)
    with write_transaction(db):
        return db.execute(
            "DELETE FROM story_bands WHERE article_id IN "
            "(SELECT article_id FROM article_fingerprints WHERE indexed_at < ?)", [since],
        ).rowcount


def _days_before(now: str, days: float) -> str:
    return stamp_before(now, timedelta(days=days))
