"""What a run noticed about its source (`source_events`): gaps, a poll that may have missed
items, with the interval and what was recovered; read back by the schedule and the listings."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from crawler.record.schema import write_transaction

GAP = "gap"  # the kind of a gap event


@dataclass(frozen=True)
class GapSummary:
    """A source's gaps since a time: how many, and the last one's time, count and message."""

    count: int
    last_at: str | None
    last_count: int | None
    last_message: str | None


def previous_poll(db: sqlite_utils.Database, source_id: str, run_id: int) -> str | None:
    """When the source's last successful run before `run_id` started (its listing was read
    then), or None: this is its first crawl, or none of the earlier ones finished well."""
    row = db.execute(
        "SELECT started_at FROM crawl_runs WHERE source_id = ? AND id < ? "
        "AND status IN ('ok', 'partial') ORDER BY id DESC LIMIT 1", [source_id, run_id],
    ).fetchone()
    return row[0] if row else None


def record_gap(db: sqlite_utils.Database, run_id: int, source_id: str, since: str | None,
               count: int, message: str, evidence: Mapping[str, Any], at: str) -> int:
    """One gap event: `since` the previous successful poll, until this run's start, with
    `count` articles recovered; its id."""
    with write_transaction(db):
        until = db.execute("SELECT started_at FROM crawl_runs WHERE id = ?",
                           [run_id]).fetchone()
        cursor = db.execute(
            "INSERT INTO source_events (source_id, run_id, kind, since, until, count, "
            "message, evidence, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [source_id, run_id, GAP, since, until[0] if until else at, count, message,
             json.dumps(evidence, ensure_ascii=False, sort_keys=True), at],
        )
    return int(cursor.lastrowid)


def gap_summaries(db: sqlite_utils.Database, since: str) -> dict[str, GapSummary]:
    """Per source with a gap recorded at or after `since`: its gaps since then."""
    rows = db.execute(
        "SELECT source_id, count(*), max(at), "
        "(SELECT e2.count FROM source_events e2 WHERE e2.source_id = e.source_id "
        " AND e2.kind = :gap ORDER BY e2.at DESC, e2.id DESC LIMIT 1), "
        "(SELECT e2.message FROM source_events e2 WHERE e2.source_id = e.source_id "
        " AND e2.kind = :gap ORDER BY e2.at DESC, e2.id DESC LIMIT 1) "
        "FROM source_events e WHERE kind = :gap AND at >= :since GROUP BY source_id",
        {"gap": GAP, "since": since},
    ).fetchall()
    return {source_id: GapSummary(n, last_at, last_count, message)
            for source_id, n, last_at, last_count, message in rows}


def gaps_since(db: sqlite_utils.Database, source_id: str, since: str) -> int:
    """How many gaps the source had at or after `since`."""
    return db.execute(
        "SELECT count(*) FROM source_events WHERE source_id = ? AND kind = ? AND at >= ?",
        [source_id, GAP, since],
    ).fetchone()[0]


# -- breakage: incidents opened and closed (crawler/crawl/breakage.py) ----------------------

BROKEN = "broken"  # the kind of the event that opens a breakage incident
RECOVERED = "recovered"  # and of the one that closes it

_OPEN_SQL = (
    "SELECT b.id, json_extract(b.evidence, '$.check'), b.since, b.message, b.run_id "
    "FROM source_events b WHERE b.source_id = ? AND b.kind = 'broken' AND NOT EXISTS ("
    " SELECT 1 FROM source_events r WHERE r.source_id = b.source_id AND r.kind = 'recovered'"
    " AND json_extract(r.evidence, '$.broken_event_id') = b.id) ORDER BY b.since, b.id")


@dataclass(frozen=True)
class Incident:
    """An open breakage: its `broken` event, the check that failed, since when and why."""

    event_id: int
    check: str
    since: str
    message: str
    run_id: int | None


def open_incidents(db: sqlite_utils.Database, source_id: str) -> dict[str, Incident]:
    """The source's open breakage incidents, by check (one at most per check)."""
    return {check: Incident(event_id, check, since, message, run_id)
            for event_id, check, since, message, run_id in db.execute(_OPEN_SQL, [source_id])}


def open_incident(db: sqlite_utils.Database, run_id: int, source_id: str, check: str,
                  since: str, message: str, evidence: Mapping[str, Any], at: str
                  ) -> int | None:
    """The `broken` event of a new incident, and the source's state; None (nothing
    written) when one is open already for this source and check."""
    with write_transaction(db):
        if check in open_incidents(db, source_id):
            return None
        cursor = db.execute(
            "INSERT INTO source_events (source_id, run_id, kind, since, message, evidence, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [source_id, run_id, BROKEN, since, message,
             json.dumps({**evidence, "check": check}, ensure_ascii=False, sort_keys=True), at])
        _source_state(db, source_id)
    return int(cursor.lastrowid)


def close_incident(db: sqlite_utils.Database, run_id: int, source_id: str, check: str,
                   message: str, evidence: Mapping[str, Any], at: str) -> int | None:
    """The `recovered` event closing the source's open incident of `check` (its `since`
    kept, `until` = `at`), and the source's state; None when none is open."""
    with write_transaction(db):
        incident = open_incidents(db, source_id).get(check)
        if incident is None:
            return None
        cursor = db.execute(
            "INSERT INTO source_events (source_id, run_id, kind, since, until, message, "
            "evidence, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [source_id, run_id, RECOVERED, incident.since, at, message,
             json.dumps({**evidence, "check": check, "broken_event_id": incident.event_id},
                        ensure_ascii=False, sort_keys=True), at])
        _source_state(db, source_id)
    return int(cursor.lastrowid)


def _source_state(db: sqlite_utils.Database, source_id: str) -> None:
    """`sources.broken_*` from the open incidents: the oldest's start, every failing
    check, their messages (NULL when none is open)."""
    incidents = list(open_incidents(db, source_id).values())
    db.execute(
        "UPDATE sources SET broken_since = ?, broken_check = ?, broken_message = ? "
        "WHERE id = ?",
        [min((i.since for i in incidents), default=None),
         ", ".join(i.check for i in incidents) or None,
         "; ".join(i.message for i in incidents) or None, source_id])


def run_findings(db: sqlite_utils.Database, run_id: int, no_text: str, not_stored: str
                 ) -> tuple[str | None, str | None, str | None, int, int]:
    """What a closed run found, from its rows: the kind, URL and message of the error
    that failed it (the one whose message the run carries), the article pages it read
    (saved, or left unstored: `no_text` rows reading `not_stored`) and how many had no
    text (its `no_text` rows)."""
    fatal = db.execute(
        "SELECT f.kind, f.url, f.message FROM fetch_errors f JOIN crawl_runs r "
        "ON r.id = f.run_id WHERE f.run_id = ? AND f.message = r.message "
        "ORDER BY f.id LIMIT 1", [run_id]).fetchone()
    saved, short, unstored = db.execute(
        "SELECT coalesce(new, 0) + coalesce(updated, 0) + coalesce(unchanged, 0), "
        "(SELECT count(*) FROM fetch_errors WHERE run_id = r.id AND kind = ?), "
        "(SELECT count(*) FROM fetch_errors WHERE run_id = r.id AND kind = ? "
        "AND message = ?) FROM crawl_runs r WHERE r.id = ?",
        [no_text, no_text, not_stored, run_id]).fetchone() or (0, 0, 0)
    kind, url, message = fatal or (None, None, None)
    return kind, url, message, saved + unstored, short
