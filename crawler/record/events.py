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
