"""The alert dispatcher: sends what the outbox queued, retries failures, never loses one.

Each run claims due alerts (status ``sending``, with a lease and the claimer's pid) in one
transaction, sends each batch through its subscription's channel, and records the result.
A batch keeps its id (``batch_uid``) across retries: receivers get it as the
Idempotency-Key, the Atom entry id or the Message-ID, so a batch re-sent after a
dispatcher was killed mid-send can be recognised as a repeat.

Alert statuses: pending -> sending -> sent; or back to pending with a later
``next_attempt_at`` on a temporary failure; or failed (permanent failure, or
`max_attempts` reached; `veille alerts retry` requeues). Alerts of a subscription
removed from the config are ``cancelled``.

Operator notices (`crawler.alerts.operators`, table ``operator_notices``) go the same way,
one notice per delivery, before a subscription's alerts: `send_due` queues those the record
calls for, and a delivery given up on (or working again) queues its own.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlite_utils

from crawler.alerts.channels import AlertMessage, MatchedTerm, OtherCopy
from crawler.alerts.channels.apprise import send_apprise, split_urls
from crawler.alerts.channels.atom import write_feed
from crawler.alerts.channels.mail import send_email
from crawler.alerts.channels.message import Message, OperatorNotice
from crawler.alerts.channels.webhook import send_webhook
from crawler.alerts.operators import NOTICES, Operators, notice_messages
from crawler.clock import parse_time, stamp, utc_now
from crawler.config.model import (
    AlertSettings,
    Config,
    EmailChannel,
    FeedChannel,
    Subscription,
    WebhookChannel,
)
from crawler.config.redaction import redact, service_url_secrets, url_secrets
from crawler.config.subscriptions import AppriseChannel
from crawler.errors import DeliveryError
from crawler.processes import holder_alive, this_process
from crawler.record.schema import write_transaction
from crawler.record.store import Store
from crawler.wording import plural

LOGGER = logging.getLogger(__name__)
ALERTS = "alerts"


@dataclass
class DispatchReport:
    """What one dispatcher run did."""

    batches: int = 0
    sent: int = 0  # alerts delivered
    retrying: int = 0  # alerts back to pending after a temporary failure
    failed: int = 0  # alerts given up on in this run
    errors: list[str] = field(default_factory=list)
    waiting: int = 0  # alerts and notices still pending or being sent when the run ended
    notices: int = 0  # operator notices delivered (counted in neither `sent` nor `batches`)
    queued_notices: int = 0  # operator notices queued by this run (`send_due`)


def send_due(config: Config, db_path: str | os.PathLike[str], only: Sequence[str] = (),
             environ: Mapping[str, str] | None = None,
             polling_limit: Callable[[], float | None] | None = None) -> DispatchReport:
    """Send the due alerts and operator notices of the record at `db_path` (of the
    subscriptions in `only`, or of all): what `veille alerts send`, `crawl --send` and the
    daemon do. First the operator notices the record calls for are queued: sources broken
    or recovered, and, given `polling_limit` (the longest interval between two polls of a
    source, in seconds), polling stopped for twice that or resumed."""
    with Store.open_for(config, db_path) as store:
        dispatcher = Dispatcher(store.db, config.subscriptions, config.alerts,
                                user_agent=config.crawl.user_agent, environ=environ,
                                polling_limit=polling_limit)
        queued = dispatcher.operators.queue() if dispatcher.operators.subscriptions else 0
        report = dispatcher.run(only)
        report.queued_notices = queued
        report.waiting = store.db.execute(
            "SELECT (SELECT count(*) FROM alerts WHERE status IN ('pending', 'sending')) + "
            f"(SELECT count(*) FROM {NOTICES} WHERE status IN ('pending', 'sending'))"
        ).fetchone()[0]
    return report


class Dispatcher:
    """Sends pending alerts for the configured subscriptions."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        subscriptions: Sequence[Subscription],
        settings: AlertSettings | None = None,
        *,
        user_agent: str = "Veille",
        clock: Callable[[], datetime] = utc_now,
        environ: Mapping[str, str] | None = None,
        polling_limit: Callable[[], float | None] | None = None,
    ):
        self.db = db
        self.subscriptions = {s.id: s for s in subscriptions}
        self.settings = settings or AlertSettings()
        self.user_agent = user_agent
        self.clock = clock
        self.environ = os.environ if environ is None else environ
        self.claimer = this_process()
        self.operators = Operators(db, subscriptions, clock, polling_limit=polling_limit)

    def run(self, only: Sequence[str] = ()) -> DispatchReport:
        """Send every due batch (of the subscriptions in `only`, or of all): an operator
        subscription's notices first, then its alerts."""
        report = DispatchReport()
        for sub in self.subscriptions.values():
            if only and sub.id not in only:
                continue
            if sub.operators:
                for batch_uid in self._claim(sub, NOTICES):
                    self._send(sub, batch_uid, report, NOTICES)
            for batch_uid in self._claim(sub):
                self._send(sub, batch_uid, report)
        return report

    # -- claiming ------------------------------------------------------------------------

    def _claim(self, sub: Subscription, table: str = ALERTS) -> list[str]:
        """Mark this subscription's due alerts (or operator notices, each a batch of its
        own, always sent at once) as being sent by us; return their batches."""
        now = self.clock()
        now_text = stamp(now)
        with write_transaction(self.db):
            rows = self.db.execute(
                f"SELECT id, uid, batch_uid, status, claimed_by, lease_until FROM {table} "
                "WHERE subscription_id = ? AND status IN ('pending', 'sending') "
                "AND coalesce(next_attempt_at, '') <= ? ORDER BY id",
                [sub.id, now_text],
            ).fetchall()
            # A batch being sent is left alone while its lease runs and its sender lives.
            rows = [r for r in rows
                    if r[3] == "pending" or (r[5] or "") <= now_text or not holder_alive(r[4])]
            fresh = [r for r in rows if not r[2]]
            assignments: dict[int, str] = {}
            due = table == ALERTS and sub.mode == "digest" and self._digest_due(sub, now)
            if sub.mode == "immediate" or table == NOTICES:
                assignments = {r[0]: r[1] for r in fresh}
            elif fresh and due:
                batch = uuid.uuid4().hex
                assignments = {r[0]: batch for r in fresh}
            if due:
                self.db.execute(
                    "UPDATE subscriptions SET last_digest_at = ? WHERE id = ?", [now_text, sub.id]
                )
            for alert_id, batch in assignments.items():
                self.db.execute(f"UPDATE {table} SET batch_uid = ? WHERE id = ?",
                                [batch, alert_id])
            # Oldest first: alerts go out in the order their articles arrived.
            batches = list(dict.fromkeys(
                r[2] or assignments[r[0]] for r in rows if r[2] or r[0] in assignments
            ))
            lease = stamp(now + timedelta(seconds=self.settings.lease_seconds))
            for batch in batches:
                self.db.execute(
                    f"UPDATE {table} SET status = 'sending', lease_until = ?, claimed_by = ?, "
                    "attempts = attempts + 1 WHERE batch_uid = ? AND status IN "
                    "('pending', 'sending')",
                    [lease, self.claimer, batch],
                )
        return batches

    def _digest_due(self, sub: Subscription, now: datetime) -> bool:
        row = self.db.execute(
            "SELECT coalesce(last_digest_at, created_at) FROM subscriptions WHERE id = ?",
            [sub.id],
        ).fetchone()
        if row is None or row[0] is None:
            return False
        last = parse_time(row[0])
        return digest_due(sub, last, now)

    # -- sending -------------------------------------------------------------------------

    def _send(self, sub: Subscription, batch_uid: str, report: DispatchReport,
              table: str = ALERTS) -> None:
        if not self._renew(batch_uid, table):
            # Its lease ran out while earlier batches were sent, and another dispatcher
            # took it: that one sends it, not this one as well.
            LOGGER.info("%s: batch %s taken over by another dispatcher", sub.id, batch_uid)
            return
        messages: list[Message] = list(
            self.messages(batch_uid) if table == ALERTS
            else notice_messages(self.db, "batch_uid = ? ORDER BY id", [batch_uid]))
        if table == ALERTS:
            report.batches += 1
        try:
            self.deliver(sub, batch_uid, messages)
        except DeliveryError as exc:
            self._failed(sub, batch_uid, messages, exc, report, table)
            return
        with write_transaction(self.db):
            self.db.execute(
                f"UPDATE {table} SET status = 'sent', sent_at = ?, lease_until = NULL, "
                "last_error = NULL WHERE batch_uid = ? AND status = 'sending'",
                [stamp(self.clock()), batch_uid],
            )
            self.operators.delivered(sub)
        if table == ALERTS:
            report.sent += len(messages)
            LOGGER.info("%s: sent %d alert(s) by %s (batch %s)", sub.id, len(messages),
                        sub.channel_kind, batch_uid)
        else:
            report.notices += len(messages)
            LOGGER.info("%s: sent operator notice by %s: %s", sub.id, sub.channel_kind,
                        messages[0].title)

    def _renew(self, batch_uid: str, table: str = ALERTS) -> bool:
        """Start a batch's lease again as its sending starts (a run claims every due batch
        at once, then sends them one by one); False if another dispatcher holds it now."""
        lease = stamp(self.clock() + timedelta(seconds=self.settings.lease_seconds))
        with write_transaction(self.db):
            return self.db.execute(
                f"UPDATE {table} SET lease_until = ? WHERE batch_uid = ? AND "
                "status = 'sending' AND claimed_by = ?",
                [lease, batch_uid, self.claimer]).rowcount > 0

    def deliver(self, sub: Subscription, batch_uid: str, messages: Sequence[Message]) -> None:
        """Hand one batch to the subscription's channel.

        Raises:
            DeliveryError: the channel could not deliver, or a secret is missing. Its message
                is redacted (`crawler.config.redaction`): it is stored in the published database and
                logged, so no URL credentials, query, fragment or configured secret is left.
        """
        try:
            self._deliver(sub, batch_uid, messages)
        except DeliveryError as exc:
            public = DeliveryError(redact(str(exc), self._secrets(sub)), exc.permanent)
            # chained to the network error itself: the unredacted message stays out of tracebacks
            raise public from exc.__cause__

    def _deliver(self, sub: Subscription, batch_uid: str, messages: Sequence[Message]) -> None:
        channel = sub.channel
        if isinstance(channel, WebhookChannel):
            secret = self._secret(sub, channel.secret_env)
            send_webhook(channel, secret, batch_uid, messages, user_agent=self.user_agent)
        elif isinstance(channel, EmailChannel):
            password = self._secret(sub, channel.password_env)
            send_email(channel, password, batch_uid, messages, sub.name)
        elif isinstance(channel, FeedChannel):
            # The feed is the subscription's latest alerts: those already sent, plus these.
            # (write_feed keeps the newest max_entries of them, newest first)
            recent = self._feed_messages(sub, channel.max_entries, exclude=batch_uid)
            write_feed(channel, sub.id, sub.name, [*messages, *recent],
                       stamp(self.clock()) or "")
        elif isinstance(channel, AppriseChannel):
            urls = split_urls(self._secret(sub, channel.urls_env) or "")
            send_apprise(urls, batch_uid, messages, sub.name, variable=channel.urls_env)

    def _secrets(self, sub: Subscription) -> list[str | None]:
        """The values an error message about `sub` must not repeat."""
        channel = sub.channel
        if isinstance(channel, WebhookChannel):
            return [*url_secrets(channel.url), self.environ.get(channel.secret_env or "")]
        if isinstance(channel, EmailChannel):
            return [self.environ.get(channel.password_env or "")]
        if isinstance(channel, AppriseChannel):
            urls = split_urls(self.environ.get(channel.urls_env) or "")
            return [piece for url in urls for piece in service_url_secrets(url)]
        return []

    def _secret(self, sub: Subscription, name: str | None) -> str | None:
        if name is None:
            return None
        value = self.environ.get(name)
        if not value:
            raise DeliveryError(
                f"subscription {sub.id!r}: environment variable {name} is not set", permanent=True
            )
        return value

    def _failed(self, sub: Subscription, batch_uid: str, messages: Sequence[Message],
                exc: DeliveryError, report: DispatchReport, table: str = ALERTS) -> None:
        """Record a failed delivery. `exc` comes redacted from `deliver` (the database is
        published, logs are shared); addresses are masked here too for the record. A
        delivery given up on is told to the operator subscriptions in the same transaction."""
        now = self.clock()
        count = len(messages)
        public = redact(str(exc), self._secrets(sub))
        attempts = self.db.execute(
            f"SELECT max(attempts) FROM {table} WHERE batch_uid = ?", [batch_uid]
        ).fetchone()[0] or 1
        message = f"{sub.id}: {public}"
        report.errors.append(message)
        with write_transaction(self.db):
            if exc.permanent or attempts >= self.settings.max_attempts:
                failed = self.db.execute(
                    f"UPDATE {table} SET status = 'failed', last_error = ?, lease_until = NULL "
                    "WHERE batch_uid = ? AND status = 'sending'",
                    [public, batch_uid],
                ).rowcount
                if failed:
                    what = plural(count, "alert") if table == ALERTS else \
                        f"the operator notice \"{messages[0].title}\""
                    about_delivery = table == NOTICES and all(
                        isinstance(m, OperatorNotice) and m.kind.startswith("delivery-")
                        for m in messages)
                    self.operators.delivery_failed(sub, what, public, attempts, batch_uid,
                                                   about_delivery=about_delivery)
                report.failed += count
                LOGGER.error("%s (gave up after %d attempt(s))", message, attempts)
                return
            delay = min(self.settings.backoff_seconds * 2 ** (attempts - 1),
                        self.settings.backoff_cap_seconds)
            self.db.execute(
                f"UPDATE {table} SET status = 'pending', last_error = ?, lease_until = NULL, "
                "next_attempt_at = ? WHERE batch_uid = ? AND status = 'sending'",
                [public, stamp(now + timedelta(seconds=delay)), batch_uid],
            )
        report.retrying += count
        LOGGER.warning("%s (attempt %d, next in %.0f s)", message, attempts, delay)

    # -- messages ------------------------------------------------------------------------

    def messages(self, batch_uid: str) -> list[AlertMessage]:
        """The alerts of one batch, as channels see them."""
        rows = self.db.query(_MESSAGE_SQL + " WHERE al.batch_uid = ? ORDER BY al.id", [batch_uid])
        return [self._message(row) for row in rows]

    def _feed_messages(self, sub: Subscription, limit: int, exclude: str) -> list[Message]:
        rows = self.db.query(
            _MESSAGE_SQL + " WHERE al.subscription_id = ? AND al.status = 'sent' "
            "AND al.batch_uid != ? ORDER BY al.created_at DESC, al.id DESC LIMIT ?",
            [sub.id, exclude, limit],
        )
        recent: list[Message] = [self._message(row) for row in rows]
        if sub.operators:  # the feed shows the notices it was sent among the alerts
            recent += notice_messages(
                self.db, "subscription_id = ? AND status = 'sent' AND batch_uid != ? "
                "ORDER BY created_at DESC, id DESC LIMIT ?", [sub.id, exclude, limit])
        return recent

    def _message(self, row: dict) -> AlertMessage:
        wanted = json.loads(row["conflicts"] or "[]")
        matched = tuple(
            MatchedTerm(m["conflict_id"], m["name"], m["alias"], m["field"])
            for m in self.db.query(
                "SELECT ac.conflict_id, c.name, ac.alias, ac.field FROM article_conflicts ac "
                "JOIN conflicts c ON c.id = ac.conflict_id WHERE ac.article_id = ? "
                "ORDER BY ac.score DESC",
                [row["article_id"]],
            )
            if m["conflict_id"] in wanted
        )
        copies = tuple(OtherCopy(c["name"], c["url"], c["title"]) for c in self.db.query(
            # Other articles of the same story (wire copies elsewhere), then other sources'
            # URLs of this very article (identical text under another address).
            "SELECT s.name, a.canonical_url AS url, a.title FROM articles a "
            "JOIN sources s ON s.id = a.source_id WHERE a.story_id = ? AND a.id != ? "
            "UNION SELECT s.name, min(u.url), NULL FROM article_urls u "
            "JOIN sources s ON s.id = u.source_id WHERE u.article_id = ? AND u.source_id != ? "
            "GROUP BY s.name ORDER BY 1, 2",
            [row["story_id"], row["article_id"], row["article_id"], row["source_id"]],
        ))
        return AlertMessage(
            uid=row["uid"], subscription_id=row["subscription_id"], kind=row["kind"],
            created_at=row["created_at"], title=row["title"] or row["canonical_url"],
            url=row["canonical_url"], source_id=row["source_id"],
            source_name=row["source_name"], published_at=row["published_at"],
            language=row["language"], lead=row["lead"], topic=row["topic"],
            image_url=row["image_url"], conflicts=tuple(m.conflict for m in matched) or
            tuple(wanted), matched=matched, other_copies=copies,
        )


_MESSAGE_SQL = (
    "SELECT al.uid, al.subscription_id, al.kind, al.created_at, al.conflicts, al.article_id, "
    "al.story_id, "
    "a.title, a.canonical_url, a.source_id, s.name AS source_name, a.published_at, "
    "a.language, a.lead, a.topic, a.image_url FROM alerts al "
    "JOIN articles a ON a.id = al.article_id JOIN sources s ON s.id = a.source_id"
)


def digest_due(sub: Subscription, last: datetime, now: datetime) -> bool:
    """Whether a digest is due at `now`, the previous one having gone out at `last`."""
    if sub.every_minutes and now >= last + timedelta(minutes=sub.every_minutes):
        return True
    if sub.at:
        zone = ZoneInfo(sub.timezone)
        local_now, local_last = now.astimezone(zone), last.astimezone(zone)
        day = local_last.date()
        while day <= local_now.date():
            for clock in sub.at:
                hour, minute = map(int, clock.split(":"))
                slot = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                if local_last < slot <= local_now:
                    return True
            day += timedelta(days=1)
    return False


def retry_failed(db: sqlite_utils.Database, subscription: str | None = None,
                 alert_ids: Sequence[int] = ()) -> int:
    """Put failed alerts back in the queue, with a fresh count of attempts; without
    `alert_ids`, failed operator notices too."""
    count = 0
    with write_transaction(db):
        for table in (ALERTS,) if alert_ids else (ALERTS, NOTICES):
            sql = (f"UPDATE {table} SET status = 'pending', attempts = 0, "
                   "next_attempt_at = NULL WHERE status = 'failed'")
            params: list = []
            if subscription:
                sql += " AND subscription_id = ?"
                params.append(subscription)
            if alert_ids:
                sql += f" AND id IN ({', '.join('?' * len(alert_ids))})"
                params.extend(alert_ids)
            count += db.execute(sql, params).rowcount
    return count


def sample_message(sub: Subscription, now: str) -> AlertMessage:
    """A message that says it is a test, for `veille alerts test`."""
    return AlertMessage(
        uid=uuid.uuid4().hex, subscription_id=sub.id, kind="test", created_at=now,
        title=f"Veille test message for subscription {sub.name!r}",
        url="https://github.com/veille/veille#alerts", source_id="veille",
        source_name="Veille", published_at=now,
        lead="If you can read this, alerts for this subscription reach you.",
        conflicts=tuple(sub.conflicts),
    )
