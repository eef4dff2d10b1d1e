"""`veille sources`: the configured sources with their schedule, health and next run."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

import click

from crawler.cli.main import Context, cli
from crawler.cli.output import emit, format_options

WARNINGS_HOURS = 24  # `veille sources` counts each source's warnings over this window

COLUMNS = (
    ("id", "source"), ("kind", "kind"), ("schedule", "schedule"), ("articles", "articles"),
    ("last_run", "last run"), ("last_status", "status"), ("failures", "failures"),
    (f"errors_{WARNINGS_HOURS}h", f"errors {WARNINGS_HOURS}h"),
    (f"no_text_{WARNINGS_HOURS}h", f"no text {WARNINGS_HOURS}h"),
    (f"warnings_{WARNINGS_HOURS}h", f"warnings {WARNINGS_HOURS}h"),
    ("next_run", "next run"), ("problem", "last error"),
)


@cli.group(invoke_without_command=True)
@format_options
@click.pass_context
def sources(ctx: click.Context, fmt: str) -> None:
    """List the configured sources with their schedule, last run, health and next run.

    "articles" counts the articles a source lists (its topic pages, feed or sitemap),
    whichever source's crawl fetched them; the JSON has "fetched" beside it.

    A source failing for longer than [schedule] failing_alarm (a day) is flagged FAILING;
    "failures" counts its failed runs in a row. "errors" counts what its runs missed over
    the last 24 hours (pages not fetched, documents cut off: a "partial" run has some),
    "no text" its pages stored without article text (fewer than 40 words) over the
    same 24 hours, "warnings" its other warnings (entries skipped, broken JSON-LD,
    a malformed feed, a page robots.txt forbids...); each is a row of fetch_errors.

    Example: veille sources --csv > sources.csv
    """
    if ctx.invoked_subcommand is not None:
        return
    obj: Context = ctx.obj
    report = source_report(obj)
    for row in report:
        flag = f"FAILING since {row['failing_since']}: " if row["failing"] else ""
        row["problem"] = f"{flag}{row['last_error'] or ''}" or None
    if fmt != "table":
        for row in report:
            del row["problem"]
    emit(report, fmt, COLUMNS)


def source_report(obj: Context) -> list[dict[str, Any]]:
    """One row per configured source: its state in the record (none yet if the database
    does not exist: it is not created for a listing)."""
    from crawler.clock import stamp, utc_now
    from crawler.crawl.pipelines import NO_TEXT
    from crawler.record.schema import writable
    from crawler.record.store import Store
    from scheduler.schedules import SourceState, failing_for_long, next_due, timetable

    config = obj.load()
    now = utc_now()
    rows: dict[str, Any] = {}
    last: dict[str, Any] = {}
    counts: dict[str, int] = {}
    fetched: dict[str, int] = {}
    warned: dict[str, tuple[int, int, int]] = {}
    blank: dict[str, Any] = defaultdict(lambda: None)  # a source never run
    if obj.database.exists():
        # Brought in line with the config when this user can write it; else read as it is.
        opened = (Store.open_for(config, obj.db_file) if writable(obj.database)
                  else Store(obj.read_database()))
        with opened as store:
            rows = {r["id"]: r for r in store.db["sources"].rows}
            # A read-only copy may lack a source configured since: shown as never run.
            last = {
                r["source_id"]: r for r in store.db.query(
                    "SELECT * FROM crawl_runs WHERE id IN "
                    "(SELECT max(id) FROM crawl_runs GROUP BY source_id)"
                )
            }
            # An article counts for every source that lists it, whichever one fetched it.
            counts = dict(store.db.execute(
                "SELECT source_id, count(*) FROM article_sources GROUP BY source_id"
            ).fetchall())
            fetched = dict(store.db.execute(
                "SELECT source_id, count(*) FROM articles GROUP BY source_id").fetchall())
            warned = {
                source_id: (errors, no_text, others)
                for source_id, errors, no_text, others in store.db.execute(
                    "SELECT source_id, sum(level = 'error'), "
                    "sum(level = 'warning' AND kind = ?), "
                    "sum(level = 'warning' AND kind != ?) FROM fetch_errors WHERE at >= ? "
                    "GROUP BY source_id",
                    [NO_TEXT, NO_TEXT, stamp(now - timedelta(hours=WARNINGS_HOURS))])
            }
    else:
        click.echo(f"{obj.database} does not exist yet: `veille crawl` creates it",
                   err=True)
    report = []
    for source in config.sources:
        row, run = rows.get(source.id, blank), last.get(source.id, {})
        state = SourceState.from_row(row)
        due = row["next_run_at"] or stamp(next_due(source, config.schedule, state,
                                                 config.crawl.timezone))
        errors, no_text, others = warned.get(source.id, (0, 0, 0))
        report.append({
            "id": source.id, "kind": source.kind, "url": source.url,
            "schedule": timetable(source, config.schedule, state,
                                  config.crawl.timezone).split(": ", 1)[1],
            "articles": counts.get(source.id, 0), "fetched": fetched.get(source.id, 0),
            "last_run": run.get("started_at"),
            "last_status": run.get("status"), "last_success": row["last_success_at"],
            "failures": row["failure_count"] or 0, "failing_since": row["failing_since"],
            "failing": failing_for_long(state, config.schedule, now),
            "backoff_until": row["backoff_until"], "next_run": due or "now",
            "last_error": row["last_error"],
            f"errors_{WARNINGS_HOURS}h": errors or 0,
            f"no_text_{WARNINGS_HOURS}h": no_text or 0,
            f"warnings_{WARNINGS_HOURS}h": others or 0,
        })
    return report
