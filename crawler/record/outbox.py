"""The alert outbox: conflict matches and queued alerts, written with the article itself.

`Outbox.record` runs inside the transaction that stores an article, so an article and its
alerts are committed together: a crash between storing and sending loses no alert, and a
re-crawl (which stores nothing new) queues none.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

import sqlite_utils

from crawler.clock import stamp_before
from crawler.config.model import Conflict, Subscription
from crawler.page.matching import FIELDS, Match, Matcher
from crawler.record.article import Change, StoredArticle
from crawler.record.schema import write_transaction

LOGGER = logging.getLogger(__name__)


def schedule_text(subscription: Subscription) -> str:
    """How often a subscription is sent, in words ("immediate", "every 30 min", ...)."""
    if subscription.mode == "immediate":
        return "immediate"
    parts = []
    if subscription.every_minutes:
        parts.append(f"every {subscription.every_minutes} min")
    if subscription.at:
        parts.append(f"at {', '.join(subscription.at)} {subscription.timezone}")
    return "digest " + " and ".join(parts)


def sync_alerting(
    db: sqlite_utils.Database, conflicts: Sequence[Conflict],
    subscriptions: Sequence[Subscription], now: str,
) -> None:
    """Register the configured conflicts and subscriptions; keep when each was first seen.

    A subscription's `created_at` is when the database first saw it: articles stored
    before then never alert it. Conflicts and subscriptions removed from the config are
    marked `removed_at`, and their pending alerts are cancelled.
    """
    with write_transaction(db):
        for conflict in conflicts:
            db.execute(
                "INSERT INTO conflicts (id, name, aliases, exclude, topics, added_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name, "
                "aliases = excluded.aliases, exclude = excluded.exclude, "
                "topics = excluded.topics, removed_at = NULL",
                [conflict.id, conflict.name, _json(conflict.aliases), _json(conflict.exclude),
                 _json(conflict.topics), now],
            )
        _mark_removed(db, "conflicts", [c.id for c in conflicts], now)
        for sub in subscriptions:
            db.execute(
                "INSERT INTO subscriptions (id, name, channel, conflicts, sources, languages, "
                "mode, schedule, updates, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET name = excluded.name, "
                "channel = excluded.channel, conflicts = excluded.conflicts, "
                "sources = excluded.sources, languages = excluded.languages, "
                "mode = excluded.mode, schedule = excluded.schedule, "
                "updates = excluded.updates, removed_at = NULL",
                [sub.id, sub.name, sub.channel_kind, _json(sub.conflicts), _json(sub.sources),
                 _json(sub.languages), sub.mode, schedule_text(sub), int(sub.updates), now],
            )
        removed = _mark_removed(db, "subscriptions", [s.id for s in subscriptions], now)
        if removed:
            marks = ", ".join("?" * len(removed))
            db.execute(
                f"UPDATE alerts SET status = 'cancelled', last_error = "
                f"'the subscription was removed from the config' "
                f"WHERE status IN ('pending', 'sending') AND subscription_id IN ({marks})",
                removed,
            )


def _mark_removed(db: sqlite_utils.Database, table: str, kept: list[str], now: str) -> list[str]:
    marks = ", ".join("?" * len(kept)) or "NULL"
    gone = [row[0] for row in db.execute(
        f"SELECT id FROM {table} WHERE removed_at IS NULL AND id NOT IN ({marks})", kept
    ).fetchall()]
    for row_id in gone:
        db.execute(f"UPDATE {table} SET removed_at = ? WHERE id = ?", [now, row_id])
    return gone


@dataclass
class RematchReport:
    """What `Outbox.rematch` changed."""

    articles: int = 0
    flagged: int = 0  # articles matching at least one conflict
    added: int = 0  # (article, conflict) pairs new since the last match
    removed: int = 0  # pairs that no longer match


class Outbox:
    """Matches stored articles against the tracked conflicts and queues their alerts."""

    def __init__(self, conflicts: Sequence[Conflict], subscriptions: Sequence[Subscription],
                 max_age_seconds: float | None = None, update_threshold: float = 0.2):
        self.matcher = Matcher(conflicts)
        self.subscriptions = tuple(subscriptions)
        self.max_age = timedelta(seconds=max_age_seconds) if max_age_seconds else None
        self.update_threshold = update_threshold

    def saved(
        self, db: sqlite_utils.Database, article_id: int, outcome: str,
        article: StoredArticle, now: str, story_id: int | None = None,
        change: Change | None = None, matches: list[Match] | None = None,
        listed_by: Mapping[str, str | None] | None = None,
    ) -> list[int]:
        """Store the article's matches; queue alerts for a new story, and for a substantial
        update to subscriptions that asked for updates.

        Must run inside the transaction that saved the article. Returns the ids of the
        alerts queued. `matches`, if given, were computed already (under this matcher).
        `listed_by`: every source that listed the article so far, with the topic label its
        listing gave (article_sources): each label can name a conflict, and a subscription
        limited to some sources follows the article if any of them listed it.
        """
        if outcome == "unchanged":
            return []
        listed_by = dict(listed_by or {article.source_id: None})
        if matches is None:
            matches = self.matcher.match(
                title=article.title, lead=article.lead, body=article.body, topic=article.topic
            )
        matches = self._with_labels(matches, listed_by.values(), article.topic)
        self.write_matches(db, article_id, matches, now)
        if not matches or self._too_old(article.published_at, now):
            return []
        story = story_id if story_id is not None else article_id
        if outcome == "new":
            kind, key = "new", "new:{sub}:" + str(story)
        elif change is not None and change.share >= self.update_threshold:
            version = db.execute("SELECT version FROM articles WHERE id = ?",
                                 [article_id]).fetchone()[0]
            kind, key = "update", "update:{sub}:" + f"{article_id}:{version}"
        else:
            return []
        matched = {m.conflict_id for m in matches}
        queued = []
        for sub in self._active(db, now):
            wanted = [c for c in sub.conflicts if c in matched]
            if not wanted or not _follows(sub, listed_by, article.language) \
                    or (kind == "update" and not sub.updates):
                continue
            alert = self._queue(db, sub, article_id, story, kind, key, wanted, now)
            if alert is not None:
                queued.append(alert)
        return queued

    def listed(self, db: sqlite_utils.Database, article_id: int, source_id: str,
               topic: str | None, now: str) -> list[int]:
        """A stored article was listed by one more source (`Store.list_links`): the same
        alerts as if that source had stored it. Its label may match one more conflict
        (kept in article_conflicts), and subscriptions limited to that source follow it
        now. Alerts are "new" alerts, keyed by story as ever, so none is sent twice; only
        subscriptions that existed when the article was first stored are considered.
        Returns the ids of the alerts queued.
        """
        labelled = self.matcher.match(title=None, lead=None, body=None, topic=topic) \
            if topic else []
        if not labelled and not any(source_id in sub.sources for sub in self.subscriptions):
            return []
        row = db.execute(
            "SELECT story_id, language, published_at, first_seen_at FROM articles "
            "WHERE id = ?", [article_id]).fetchone()
        if row is None:
            return []
        story_id, language, published_at, first_seen = row
        matches = [
            Match(r[0], r[1], r[2], r[4], tuple(json.loads(r[3] or "[]")))
            for r in db.execute(
                "SELECT conflict_id, alias, field, fields, score FROM article_conflicts "
                "WHERE article_id = ?", [article_id]).fetchall()
        ]
        merged = self._with_labels(matches, (topic,), None)
        if merged != matches:
            self.write_matches(db, article_id, merged, now)
        if not merged or self._too_old(published_at, now):
            return []
        before = {m.conflict_id for m in matches}
        gained = {m.conflict_id for m in merged} - before
        listed_by = dict(db.execute(
            "SELECT source_id, topic FROM article_sources WHERE article_id = ?",
            [article_id]).fetchall())
        matched = {m.conflict_id for m in merged}
        story = story_id if story_id is not None else article_id
        queued = []
        for sub in self._active(db, first_seen):
            # Only what this listing changed: a conflict it added, or a source it added.
            if source_id not in sub.sources and not gained.intersection(sub.conflicts):
                continue
            wanted = [c for c in sub.conflicts if c in matched]
            if not wanted or not _follows(sub, listed_by, language):
                continue
            alert = self._queue(db, sub, article_id, story, "new", f"new:{{sub}}:{story}",
                                wanted, now)
            if alert is not None:
                queued.append(alert)
        return queued

    def _queue(self, db: sqlite_utils.Database, sub: Subscription, article_id: int,
               story: int, kind: str, key: str, conflicts: list[str], now: str) -> int | None:
        # The unique dedup key makes this one alert per subscription per story: a later
        # copy of the story from another source finds the key taken and adds nothing.
        cursor = db.execute(
            "INSERT INTO alerts (uid, subscription_id, article_id, story_id, kind, "
            "dedup_key, conflicts, status, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?) ON CONFLICT(dedup_key) DO NOTHING",
            [uuid.uuid4().hex, sub.id, article_id, story, kind,
             key.replace("{sub}", sub.id), _json(conflicts), now],
        )
        return int(cursor.lastrowid) if cursor.rowcount else None

    def _with_labels(self, matches: list[Match], labels: Iterable[str | None],
                     matched_label: str | None) -> list[Match]:
        """`matches` with the conflicts that the listings' topic labels name (other than
        `matched_label`, which `matches` already looked at): a label equal to one of a
        conflict's `topics` counts as a topic match, as the article's own label does."""
        extra = [m for label in dict.fromkeys(labels) if label and label != matched_label
                 for m in self.matcher.match(title=None, lead=None, body=None, topic=label)]
        return with_topic_matches(matches, extra) if extra else matches

    def write_matches(
        self, db: sqlite_utils.Database, article_id: int, matches: Iterable[Match], now: str
    ) -> None:
        """Replace the article's rows in article_conflicts with `matches`."""
        db.execute("DELETE FROM article_conflicts WHERE article_id = ?", [article_id])
        for m in matches:
            db.execute(
                "INSERT INTO article_conflicts (article_id, conflict_id, alias, field, fields, "
                "score, matched_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [article_id, m.conflict_id, m.alias, m.field, _json(m.fields), m.score, now],
            )

    def rematch(self, db: sqlite_utils.Database, now: str) -> RematchReport:
        """Match every stored article again (after a config change); queue no alert.

        Matches of conflicts no longer tracked are dropped with the rest of the article's
        rows. Each batch of articles is one transaction.
        """
        report = RematchReport()
        ids = [row[0] for row in db.execute("SELECT id FROM articles ORDER BY id").fetchall()]
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            with write_transaction(db):
                marks = ", ".join("?" * len(chunk))
                before = {
                    (r[0], r[1]) for r in db.execute(
                        f"SELECT article_id, conflict_id FROM article_conflicts "
                        f"WHERE article_id IN ({marks})", chunk,
                    ).fetchall()
                }
                after = set()
                for row in db.query(
                    f"SELECT id, title, lead, body, topic FROM articles WHERE id IN ({marks})",
                    chunk,
                ):
                    matches = self.matcher.match(
                        title=row["title"], lead=row["lead"], body=row["body"], topic=row["topic"]
                    )
                    self.write_matches(db, row["id"], matches, now)
                    after |= {(row["id"], m.conflict_id) for m in matches}
                report.articles += len(chunk)
                report.added += len(after - before)
                report.removed += len(before - after)
                report.flagged += len({a for a, _ in after})
        return report

    def _too_old(self, published_at: str | None, now: str) -> bool:
        if self.max_age is None or not published_at:
            return False
        return published_at < stamp_before(now, self.max_age)

    def _active(self, db: sqlite_utils.Database, now: str) -> list[Subscription]:
        # Only subscriptions the database already knew: one first seen later than this
        # article (an unsynced config) must not be alerted for it.
        known = {
            row[0] for row in db.execute(
                "SELECT id FROM subscriptions WHERE removed_at IS NULL AND created_at <= ?",
                [now],
            ).fetchall()
        }
        return [s for s in self.subscriptions if s.id in known]


def _follows(sub: Subscription, listed_by: Iterable[str], language: str | None) -> bool:
    """Whether `sub` follows an article listed by the sources `listed_by`, in `language`."""
    if sub.sources and not set(sub.sources).intersection(listed_by):
        return False
    if sub.languages and (language or "").lower()[:2] not in sub.languages:
        return False
    return True


def with_topic_matches(matches: list[Match], labelled: Iterable[Match]) -> list[Match]:
    """Merge topic-label matches (field "topic", score 1.0) into an article's matches: a
    conflict found only by a label is added; one found in the lead or body is found by
    its label first (as `Matcher.match` ranks fields); one in the title keeps it first."""
    by_id = {m.conflict_id: m for m in matches}
    for label in labelled:
        match = by_id.get(label.conflict_id)
        if match is None:
            by_id[label.conflict_id] = label
        elif "topic" not in match.fields:
            fields = tuple(f for f in FIELDS if f in match.fields or f == "topic")
            by_id[label.conflict_id] = (
                replace(match, fields=fields) if fields[0] != "topic"
                else replace(label, fields=fields)
            )
    return list(by_id.values())


def _json(values: Iterable[str]) -> str:
    return json.dumps(list(values), ensure_ascii=False)
