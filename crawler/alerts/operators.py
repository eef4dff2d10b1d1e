"""Operator notices: what subscriptions with `operators = true` are told about Veille itself.

Three kinds of incident, each notified once when it opens and once when it closes:

- a source broken, then recovered: the `source_events` rows of kind `broken` and `recovered`
  that the crawl writes (crawler/crawl/breakage.py);
- a delivery given up on (an alert batch, or a notice to another operator subscription,
  failed after its last retry), then that subscription's next successful delivery;
- polling stopped: no poll started or ended (the daemon's heartbeat, or a crawl run from
  cron) for longer than the limit its caller gives (twice the longest interval, as the
  daemon's health check computes it), then polling resumed.

Notices are rows of `operator_notices`, queued in a write transaction with a unique key per
(subscription, incident, kind), so two dispatchers that notice the same incident queue it
once; the dispatcher sends them as it sends alerts (retries, backoff, never lost).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlite_utils

from crawler.alerts.channels.message import OperatorNotice
from crawler.clock import parse_time_or_none, readable_utc, stamp
from crawler.config.model import Subscription
from crawler.record.schema import write_transaction
from crawler.wording import plural

LOGGER = logging.getLogger(__name__)

NOTICES = "operator_notices"
DAEMON = "daemon"  # the heartbeat row `veille run` keeps
_MAX_ERROR = 300
_RECENT_RUNS = 50  # the newest crawl runs looked at for the latest end


def write_heartbeat(db: sqlite_utils.Database, now: datetime, pid: int, *,
                    started: bool = False, stopped: bool = False) -> None:
    """Record that the daemon (process `pid`) starts, polls, or stops, at `now`."""
    at = stamp(now)
    with write_transaction(db):
        if started:
            db.execute(
                "INSERT INTO heartbeats (name, pid, started_at, at, stopped_at) "
                "VALUES (?, ?, ?, ?, NULL) ON CONFLICT(name) DO UPDATE SET pid = excluded.pid, "
                "started_at = excluded.started_at, at = excluded.at, stopped_at = NULL",
                [DAEMON, pid, at, at])
        elif stopped:
            db.execute("UPDATE heartbeats SET stopped_at = ? WHERE name = ? AND pid = ?",
                       [at, DAEMON, pid])
        else:
            db.execute("UPDATE heartbeats SET at = ? WHERE name = ? AND pid = ?",
                       [at, DAEMON, pid])


def duration_text(seconds: float) -> str:
    """"45 s", "12 min", "3 h 5 min", "2 d 4 h": how long, in a notice."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


class Operators:
    """Queues the notices of the operator subscriptions among `subscriptions`."""

    def __init__(self, db: sqlite_utils.Database, subscriptions: Sequence[Subscription],
                 clock: Callable[[], datetime], *,
                 polling_limit: Callable[[], float | None] | None = None):
        self.db = db
        self.subscriptions = [s for s in subscriptions if s.operators]
        self._ids = {s.id for s in self.subscriptions}
        self.clock = clock
        self.polling_limit = polling_limit

    # -- incidents found in the record ----------------------------------------------------

    def queue(self) -> int:
        """Queue the notices of source incidents and of polling; cancel those waiting for a
        subscription that no longer takes them. Returns the number queued."""
        now = self.clock()
        with write_transaction(self.db):
            ids = list(self._ids)
            marks = ", ".join("?" * len(ids)) or "NULL"
            self.db.execute(
                f"UPDATE {NOTICES} SET status = 'cancelled', last_error = 'the subscription "
                "no longer takes operator notices' WHERE status IN ('pending', 'sending') "
                f"AND subscription_id NOT IN ({marks})", ids)
            # Broken events closed by a recovery: the same for every subscription.
            closed = {row[0] for row in self.db.execute(
                "SELECT CAST(json_extract(evidence, '$.broken_event_id') AS INTEGER) "
                "FROM source_events WHERE kind = 'recovered'")}
            known = self._known()
            queued = 0
            for sub in known:
                queued += self._sources(sub, closed, now)
            queued += self._polling(known, now)
        if queued:
            LOGGER.info("operator notices: %s queued", plural(queued, "notice"))
        return queued

    def _known(self) -> list[tuple[Subscription, str]]:
        """The operator subscriptions the record knows, with when it first saw each."""
        created = dict(self.db.execute(
            "SELECT id, created_at FROM subscriptions WHERE removed_at IS NULL").fetchall())
        return [(s, created[s.id]) for s in self.subscriptions if s.id in created]

    def _sources(self, known: tuple[Subscription, str], closed: set[int],
                 now: datetime) -> int:
        sub, created_at = known
        queued = 0
        # An incident still open is told whenever the subscription appeared; one that
        # opened and closed (`closed`) before it did is history.
        for row in list(self.db.query(
            "SELECT e.id, e.source_id, e.since, e.message, e.evidence, e.at, s.name "
            "FROM source_events e LEFT JOIN sources s ON s.id = e.source_id "
            "WHERE e.kind = 'broken' AND NOT EXISTS (SELECT 1 FROM operator_notices n "
            "WHERE n.subscription_id = ? AND n.event_id = e.id AND n.kind = 'broken') "
            "ORDER BY e.id", [sub.id])):
            if row["id"] in closed and row["at"] < created_at:
                continue
            evidence = _json(row["evidence"])
            check = str(evidence.get("check") or "check")
            since = row["since"] or row["at"]
            message = _unprefixed(_line(row["message"] or check), row["name"],
                                  row["source_id"])
            title = f"source {row['source_id']} broken: {message}"
            body = "\n".join([
                f"Source {row['source_id']} ({row['name'] or row['source_id']}) is broken "
                f"since {readable_utc(since)}: {message}",
                f"Check: {check}.",
                "`veille sources` shows it BROKEN; a recovery notice follows when it "
                "yields articles again.",
            ])
            queued += self._insert(
                sub.id, f"source:{row['source_id']}:{check}:{row['id']}", "broken", title, body,
                now, source_id=row["source_id"], event_id=row["id"],
                details={"check": check, "since": since, "message": row["message"],
                         "evidence": evidence, "broken_event_id": row["id"]})
        # A recovery follows the breakage notice the subscription was sent, never alone.
        for row in list(self.db.query(
            "SELECT r.id, r.source_id, r.since, r.until, r.message, r.evidence, r.at, "
            "n.incident, n.event_id AS broken_id, s.name FROM source_events r "
            "JOIN operator_notices n ON n.subscription_id = ? AND n.kind = 'broken' AND "
            "n.event_id = CAST(json_extract(r.evidence, '$.broken_event_id') AS INTEGER) "
            "LEFT JOIN sources s ON s.id = r.source_id "
            "WHERE r.kind = 'recovered' AND NOT EXISTS (SELECT 1 FROM operator_notices m "
            "WHERE m.subscription_id = ? AND m.event_id = r.id AND m.kind = 'recovered') "
            "ORDER BY r.id", [sub.id, sub.id])):
            evidence = _json(row["evidence"])
            check = str(evidence.get("check") or "check")
            until = row["until"] or row["at"]
            lasted = _between(row["since"], until)
            title = f"source {row['source_id']} recovered: {check}" + \
                (f" (broken for {lasted})" if lasted else "")
            lines = [f"Source {row['source_id']} ({row['name'] or row['source_id']}) "
                     f"recovered at {readable_utc(until)}: {check} passes again."]
            if row["since"]:
                lines.append(f"It was broken from {readable_utc(row['since'])}"
                             + (f", for {lasted}." if lasted else "."))
            if row["message"]:
                lines.append(_unprefixed(_line(row["message"]), row["name"], row["source_id"]))
            queued += self._insert(
                sub.id, row["incident"], "recovered", title, "\n".join(lines), now,
                source_id=row["source_id"], event_id=row["id"],
                details={"check": check, "since": row["since"], "until": until,
                         "broken_event_id": row["broken_id"], "evidence": evidence})
        return queued

    def _polling(self, known: Sequence[tuple[Subscription, str]], now: datetime) -> int:
        """Polling stopped (no poll for longer than the limit) or resumed."""
        if not self.subscriptions or self.polling_limit is None:
            return 0
        last, who = self.last_poll()
        if last is None:
            return 0  # nothing polled yet: nothing that could have stopped
        limit = self.polling_limit()
        if limit is None:
            return 0  # no source to poll
        quiet = (now - last).total_seconds()
        stale = quiet > 2 * limit
        incident = f"polling:{stamp(last)}"
        queued = 0
        for row in list(self.db.query(
            "SELECT n.subscription_id, n.incident, n.details FROM operator_notices n "
            "WHERE n.kind = 'polling-stopped' AND NOT EXISTS (SELECT 1 FROM "
            "operator_notices m WHERE m.dedup_key = n.subscription_id || '|' || n.incident "
            "|| '|polling-resumed') ORDER BY n.id")):
            if stale and row["incident"] == incident:
                continue  # still stopped
            if row["subscription_id"] not in self._ids:
                continue
            stopped_since = _json(row["details"]).get("last_poll")
            lasted = _between(stopped_since, stamp(last))
            title = f"polling resumed at {readable_utc(stamp(last))}" + \
                (f" after {lasted}" if lasted else "")
            body = (f"A poll started or ended at {readable_utc(stamp(last))} ({who}); none had "
                    f"since {readable_utc(stopped_since)}.")
            queued += self._insert(row["subscription_id"], row["incident"], "polling-resumed",
                                   title, body, now,
                                   details={"last_poll": stamp(last), "stopped_since":
                                            stopped_since})
        if stale:
            title = f"daemon stopped polling since {readable_utc(stamp(last))}"
            body = "\n".join([
                f"No poll started or ended for {duration_text(quiet)}, more than twice the "
                f"longest interval between two polls of a source ({duration_text(limit)}).",
                f"The last: {who}.",
                "Check `veille run` (systemd: `systemctl status veille`) or the cron line of "
                "`veille crawl --due`; a notice follows when polling resumes.",
            ])
            for sub, _ in known:
                queued += self._insert(sub.id, incident, "polling-stopped", title, body, now,
                                       details={"last_poll": stamp(last), "quiet_seconds":
                                                round(quiet), "limit_seconds": round(2 * limit)})
        return queued

    def last_poll(self) -> tuple[datetime | None, str]:
        """When a poll last started or ended (the daemon's heartbeat or a crawl run), and
        who did it, in words."""
        candidates: list[tuple[datetime, str]] = []
        beat = self.db.execute(
            "SELECT pid, at, stopped_at FROM heartbeats WHERE name = ?", [DAEMON]).fetchone()
        moment = parse_time_or_none(beat[1]) if beat is not None else None
        if moment is not None:
            stopped = parse_time_or_none(beat[2])
            what = f"the daemon (pid {beat[0]}) at {readable_utc(beat[1])}"
            if stopped is not None:
                what += f"; it was shut down at {readable_utc(beat[2])}"
            candidates.append((moment, what))
        runs = self.db.execute(
            "SELECT source_id, started_at, ended_at FROM crawl_runs ORDER BY id DESC LIMIT ?",
            [_RECENT_RUNS]).fetchall()
        for source_id, started_at, ended_at in runs:
            for text, verb in ((started_at, "started"), (ended_at, "ended")):
                moment = parse_time_or_none(text)
                if moment is not None:
                    candidates.append((moment, f"a crawl of {source_id} {verb} at "
                                               f"{readable_utc(text)}"))
        if not candidates:
            return None, ""
        return max(candidates, key=lambda c: c[0])

    # -- deliveries -----------------------------------------------------------------------

    def delivery_failed(self, sub: Subscription, what: str, error: str, attempts: int,
                        batch_uid: str, about_delivery: bool = False) -> int:
        """A delivery to `sub` was given up on: tell every other operator subscription.

        Runs inside the transaction that marks it failed. `what` says what was lost ("3
        alerts", "an operator notice"); `error` is the redacted error. A notice that was
        itself about a delivery (`about_delivery`) is not reported further: two operator
        subscriptions that both fail would otherwise tell each other for ever.
        """
        if about_delivery or not self.subscriptions:
            return 0
        now = self.clock()
        error = _line(error)
        shown = error if len(error) <= _MAX_ERROR else error[:_MAX_ERROR] + "…"
        title = f"delivery to {sub.id} given up ({sub.channel_kind}): {shown}"
        body = "\n".join([
            f"Veille gave up delivering {what} to subscription {sub.id} ({sub.name}) by "
            f"{sub.channel_kind} after {plural(attempts, 'attempt')}, at "
            f"{readable_utc(stamp(now))}.",
            f"Last error: {shown}",
            f"`veille alerts --status failed --subscription {sub.id}` lists what was not "
            f"delivered; once the receiver is fixed, `veille alerts retry --subscription "
            f"{sub.id} && veille alerts send` sends it again.",
        ])
        incident = f"delivery:{sub.id}:{batch_uid}:{stamp(now)}"
        queued = 0
        for other, _ in self._known():
            if other.id != sub.id:
                queued += self._insert(
                    other.id, incident, "delivery-failed", title, body, now,
                    about=sub.id, details={"subscription": sub.id, "channel": sub.channel_kind,
                                           "error": shown, "attempts": attempts, "what": what})
        return queued

    def delivered(self, sub: Subscription) -> int:
        """A delivery to `sub` succeeded: the operator subscriptions told that its
        deliveries failed are told they work again (once). Runs inside the transaction
        that marks it sent."""
        if not self.subscriptions:
            return 0
        now = self.clock()
        queued = 0
        for row in list(self.db.query(
            "SELECT n.subscription_id, n.incident, n.created_at FROM operator_notices n "
            "WHERE n.about_subscription = ? AND n.kind = 'delivery-failed' AND n.id = "
            "(SELECT max(m.id) FROM operator_notices m WHERE m.about_subscription = ? AND "
            "m.subscription_id = n.subscription_id AND m.kind IN ('delivery-failed', "
            "'delivery-recovered'))", [sub.id, sub.id])):
            if row["subscription_id"] not in self._ids:
                continue
            title = f"delivery to {sub.id} works again ({sub.channel_kind})"
            body = (f"Subscription {sub.id} ({sub.name}) received a delivery by "
                    f"{sub.channel_kind} at {readable_utc(stamp(now))}; the last one given up "
                    f"on was at {readable_utc(row['created_at'])}. What was given up on stays "
                    f"failed until `veille alerts retry --subscription {sub.id}`.")
            queued += self._insert(row["subscription_id"], row["incident"],
                                   "delivery-recovered", title, body, now, about=sub.id,
                                   details={"subscription": sub.id,
                                            "channel": sub.channel_kind})
        return queued

    # -- rows -----------------------------------------------------------------------------

    def _insert(self, sub_id: str, incident: str, kind: str, title: str, body: str,
                now: datetime, *, source_id: str | None = None, about: str | None = None,
                event_id: int | None = None, details: Mapping[str, Any] | None = None) -> int:
        uid = uuid.uuid4().hex
        cursor = self.db.execute(
            f"INSERT INTO {NOTICES} (uid, subscription_id, incident, kind, dedup_key, "
            "source_id, about_subscription, event_id, title, body, details, status, "
            "batch_uid, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) "
            "ON CONFLICT(dedup_key) DO NOTHING",
            [uid, sub_id, incident, kind, f"{sub_id}|{incident}|{kind}", source_id, about,
             event_id, _line(title), body, json.dumps(dict(details or {}), ensure_ascii=False),
             uid, stamp(now)])
        if cursor.rowcount:
            LOGGER.info("%s: operator notice queued: %s", sub_id, _line(title))
        return cursor.rowcount


def notice_messages(db: sqlite_utils.Database, where: str, params: Sequence[Any]
                    ) -> list[OperatorNotice]:
    """Operator notices as channels see them, from `operator_notices` rows (`where` is an
    SQL condition with its `params`)."""
    return [OperatorNotice(
        uid=row["uid"], subscription_id=row["subscription_id"], kind=row["kind"],
        incident=row["incident"], created_at=row["created_at"], title=row["title"],
        body=row["body"] or "", source_id=row["source_id"],
        about_subscription=row["about_subscription"], details=_json(row["details"]),
    ) for row in db.query(f"SELECT * FROM {NOTICES} WHERE {where}", params)]


def _json(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _line(text: str) -> str:
    return " ".join(str(text).split())


def _unprefixed(message: str, *names: str | None) -> str:
    """A breakage message without the "Source name: " it starts with (the title names the
    source already)."""
    for name in names:
        if name and message.startswith(f"{name}: "):
            return message[len(name) + 2:]
    return message


def _between(start: str | None, end: str | None) -> str | None:
    first, last = parse_time_or_none(start), parse_time_or_none(end)
    if first is None or last is None or last < first:
        return None
    return duration_text((last - first).total_seconds())
