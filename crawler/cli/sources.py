"""`veille sources`: the configured sources with their schedule, health and next run;
`veille sources import` and `export`: OPML, as feed readers write it."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from crawler.cli.main import Context, cli
from crawler.cli.output import TABLE, emit, format_options
from crawler.config.model import SOURCE_KINDS
from crawler.errors import BadInputError
from crawler.wording import plural

WARNINGS_HOURS = 24  # `veille sources` counts each source's warnings over this window
GAPS_DAYS = 7  # and its gaps (polls whose items were all new) over this one

COLUMNS = (
    ("id", "source"), ("kind", "kind"), ("schedule", "schedule"), ("articles", "articles"),
    ("last_run", "last run"), ("last_status", "status"), ("failures", "failures"),
    (f"errors_{WARNINGS_HOURS}h", f"errors {WARNINGS_HOURS}h"),
    (f"no_text_{WARNINGS_HOURS}h", f"no text {WARNINGS_HOURS}h"),
    (f"warnings_{WARNINGS_HOURS}h", f"warnings {WARNINGS_HOURS}h"),
    (f"gaps_{GAPS_DAYS}d", f"gaps {GAPS_DAYS}d"),
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
    "gaps" counts its polls of the last 7 days whose items were all new (items may have
    been missed: the crawl read further to recover them); the JSON has the last one's
    time, message and articles recovered ("last_gap_at", "last_gap", "last_gap_recovered").

    A source that answers but stopped yielding articles is BROKEN (its status), with why
    in the last column: its listing shows no article link, its pages no text, it went
    quiet against its own history, its feed turned malformed or robots.txt now forbids
    it. The JSON has "broken", "broken_since", "broken_check" and "broken_why"; each
    incident is a pair of source_events rows (broken, recovered).

    Example: veille sources --csv > sources.csv
    """
    if ctx.invoked_subcommand is not None:
        return
    obj: Context = ctx.obj
    report = source_report(obj)
    if fmt == TABLE:  # the table's last column: why it is broken, the last error, a flag
        for row in report:
            flag = f"FAILING since {row['failing_since']}: " if row["failing"] else ""
            problem = f"{flag}{row['last_error'] or ''}"
            if row["broken"]:
                row["last_status"] = "BROKEN"
                why = (f"BROKEN since {row['broken_since']} ({row['broken_check']}): "
                       f"{row['broken_why']}")
                problem = f"{why}; {problem}" if problem else why
            row["problem"] = problem or None
    emit(report, fmt, COLUMNS)


def source_report(obj: Context) -> list[dict[str, Any]]:
    """One row per configured source: its state in the record (none yet if the database
    does not exist: it is not created for a listing)."""
    from crawler.clock import stamp, utc_now
    from crawler.crawl.pipelines import NO_TEXT
    from crawler.record.events import gap_summaries
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
    gaps: dict[str, Any] = {}
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
            if "source_events" in store.db.table_names():  # a read-only copy may predate it
                gaps = gap_summaries(store.db, stamp(now - timedelta(days=GAPS_DAYS)) or "")
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
        gap = gaps.get(source.id)
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
            f"gaps_{GAPS_DAYS}d": gap.count if gap else 0,
            "last_gap_at": gap.last_at if gap else None,
            "last_gap": gap.last_message if gap else None,
            "last_gap_recovered": gap.last_count if gap else None,
            # An open breakage incident (crawler.crawl.breakage); absent from a read-only
            # copy made before it.
            "broken": bool(row.get("broken_since")),
            "broken_since": row.get("broken_since"),
            "broken_check": row.get("broken_check"),
            "broken_why": row.get("broken_message"),
        })
    return report


@sources.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(SOURCE_KINDS), default="feed", show_default=True,
              help="The kind of source each outline becomes.")
@click.option("--dry-run", is_flag=True, help="Show what would be added; write nothing.")
@click.pass_obj
def import_opml(obj: Context, file: Path, kind: str, dry_run: bool) -> None:
    """Add the feeds of an OPML file (a feed reader's export) as sources.

    Reads OPML as Miniflux, NetNewsWire, Feedly and other feed readers write it: each
    feed (xmlUrl) becomes a source, named by its title, with the folder it is filed in
    as its topic ("Monde", or "Monde / Afrique" for a folder in a folder). Feeds already
    configured are skipped. The sources are appended to the configuration file, keeping
    its comments and layout, once the whole result is checked.

    Example: veille sources import subscriptions.opml
    """
    from crawler.config.editing import append_sources
    from crawler.config.opml import plan_import, read_opml

    config = obj.load()
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise BadInputError(f"{file}: cannot be read: {exc.strerror or exc}") from None
    entries, skipped = plan_import(read_opml(data, str(file)), config, kind)
    for item in skipped:
        click.echo(f"skipped {item.url}: {item.reason}")
    if entries:
        append_sources(obj.config_file, entries, dry_run=dry_run,
                       comment=f"Imported from {file.name} by `veille sources import`")
    verb = "would add" if dry_run else "added"
    for entry in entries:
        topic = f"  (topic: {entry['topic']})" if entry.get("topic") else ""
        click.echo(f"{verb} {entry['id']}: {entry['url']}{topic}")
    where = (f"would be added to {obj.config_file} (--dry-run: nothing written)" if dry_run
             else f"added to {obj.config_file}")
    click.echo(f"{plural(len(entries), 'source')} {where}; {len(skipped)} skipped")


@sources.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE", help="Write the OPML to FILE [default: standard output].")
@click.pass_obj
def export_opml(obj: Context, output: Path | None) -> None:
    """Write the feed sources as OPML 2.0, for a feed reader; topics become folders.

    Topic pages and sitemaps are left out: a feed reader can only follow feeds.

    Example: veille sources export -o veille.opml
    """
    from crawler.config.opml import write_opml

    config = obj.load()
    feeds = [source for source in config.sources if source.kind == "feed"]
    text = write_opml(feeds)
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise BadInputError(f"{output}: cannot be written: {exc.strerror or exc}") \
                from None
    others = len(config.sources) - len(feeds)
    left_out = (f"; {plural(others, 'topic page or sitemap', 'topic pages or sitemaps')} "
                "left out (OPML lists feeds)") if others else ""
    click.echo(f"{plural(len(feeds), 'feed')} exported"
               + (f" to {output}" if output else "") + left_out, err=True)
