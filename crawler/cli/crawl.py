"""`veille crawl`: one crawl of the configured sources, its summary and its exit status."""

from __future__ import annotations

import sys

import click

from crawler.cli.main import Context, cli
from crawler.record.schema import open_database
from crawler.wording import plural
from scheduler.due import due_only

# `veille crawl`'s exit status when every source ran and one missed part of what it offered
# (a partial run); 1 is a failed source or delivery, 2 a bad configuration or database.
PARTIAL = 3


@cli.command()
@click.option("--source", "-s", "source_ids", multiple=True, metavar="ID",
              help="Crawl only this source (repeatable). Default: all sources.")
@click.option("--due", is_flag=True,
              help="Only the sources whose schedule says a poll is due (for system cron).")
@click.option("--quiet", "-q", is_flag=True,
              help="For cron: print nothing when every source ran cleanly, else one line "
                   "per source that failed or missed part of its pages.")
@click.option("--verbose", "-v", count=True,
              help="Show Scrapy's log, with tracebacks (-vv for debug).")
@click.option("--progress/--no-progress", default=None,
              help="Progress lines on stderr [default: when stderr is a terminal].")
@click.option("--send", is_flag=True, help="Then deliver the alerts due (veille alerts send).")
@click.pass_obj
def crawl(obj: Context, source_ids: tuple[str, ...], due: bool, quiet: bool, verbose: int,
          progress: bool | None, send: bool) -> None:
    """Crawl sources once: fetch, extract, deduplicate, store new articles, queue alerts.

    Prints one line per source and a summary, and on stderr one line per failure (each is
    also a row of fetch_errors; tracebacks only with -v). Exits with status 1 if a source failed
    (after crawling all the others), or, with --send, if an alert was given up on; with
    status 3 if every source ran but one missed part of what it offered (a page that
    could not be fetched, a document cut off, an entry skipped: the run is "partial"). Alerts
    are queued in the database; --send delivers them at the end. A source that another
    process is crawling is skipped. With --due, only the sources whose schedule is due are
    crawled: a crontab line
    `* * * * * veille crawl --due --send --quiet` behaves like the daemon. With
    `[schedule] distributed = true`, --due queues the due sources for `veille worker`s
    instead of crawling them here.

    Example: veille crawl --source olj-karabakh --source olj-rss --send
    """
    from crawler.clock import utc_now
    from crawler.crawl.process import crawl as run_crawl
    from crawler.crawl.process import progress_stream
    from crawler.record.store import Store
    from scheduler.locks import SourceLocks
    from scheduler.schedules import update_timing

    config = obj.load()
    sources = config.select(source_ids)
    if not sources:
        raise click.ClickException(f"{obj.config_file}: no [[source]] configured")
    if due:
        # The record is not brought in line with the config here (`Store.open_for`): the
        # crawl (or queue_sources) that follows does it, and a cron run with nothing due
        # then writes nothing.
        sources = due_only(obj.db_file, config, sources)
        if config.schedule.distributed:
            from crawler.cli.cluster import queue_and_print

            queue_and_print(obj, config, sources, quiet=quiet)
            if not sources and not quiet:
                click.echo("no source is due")
            return
    with SourceLocks(obj.db_file) as locks:
        got, busy = locks.acquire(s.id for s in sources)
        for source_id, holder in busy.items():
            if not quiet:
                click.echo(f"{source_id}  skipped: another process is crawling it ({holder})")
        sources = tuple(s for s in sources if s.id in got)
        summaries = []
        if sources:
            log_level = {0: "WARNING", 1: "INFO"}.get(verbose, "DEBUG")
            if quiet and not verbose:
                log_level = "CRITICAL"  # the failures are in the lines printed below
            stream = (sys.stderr if progress else
                      (None if progress is False else progress_stream(quiet)))
            summaries = run_crawl(config, sources, obj.db_file, log_level=log_level,
                                  progress=stream)
            with Store(open_database(obj.db_file)) as store:
                update_timing(config, store.db, [s.id for s in sources], utc_now())
    _print_summaries(obj, summaries, quiet, due)
    gave_up = 0
    if send:
        from crawler.cli.alerts import dispatch_now

        gave_up = dispatch_now(config, obj.db_file, quiet=quiet)
    if gave_up or any(s.failed for s in summaries):  # as `veille alerts send` does
        sys.exit(1)
    if any(s.status == "partial" for s in summaries):
        sys.exit(PARTIAL)


def _print_summaries(obj: Context, summaries: list, quiet: bool, due: bool) -> None:
    if not summaries:
        if not quiet:
            click.echo("no source is due" if due else "no source crawled")
        return
    width = max(len(s.source_id) for s in summaries)
    for s in summaries:
        # A new breakage is told once, --quiet too; a recovery or a gap (with what was
        # recovered) only without --quiet.
        for kind, message in s.events:
            if kind == "broken" or not quiet:
                click.echo(f"{s.source_id:<{width}}  {kind.upper() if kind == 'broken' else kind}"
                           f": {message}")
        if quiet and not (s.failed or s.status == "partial"):
            continue
        line = (f"{s.source_id:<{width}}  {s.status:<11} {s.new:>4} new {s.updated:>4} updated "
                f"{s.unchanged:>4} unchanged {s.errors:>3} errors"
                f"{_warning_counts(s.no_text, s.other_warnings)}"
                f"{_elsewhere(s.fetched_elsewhere)}  ({plural(s.requests, 'request')})")
        if s.message:
            line += f"  {s.message}"
        click.echo(line)
    failed = [s for s in summaries if s.failed]
    if quiet:
        return
    total = {k: sum(getattr(s, k) for s in summaries)
             for k in ("new", "updated", "unchanged", "errors", "requests", "alerts",
                       "no_text", "other_warnings", "fetched_elsewhere")}
    seconds = summaries[0].seconds
    click.echo(f"{plural(len(summaries), 'source')}, {len(failed)} failed: {total['new']} new, "
               f"{total['updated']} updated, {total['unchanged']} unchanged, "
               f"{total['errors']} errors"
               f"{_warning_counts(total['no_text'], total['other_warnings'])}"
               f"{_elsewhere(total['fetched_elsewhere'])}, "
               f"{plural(total['requests'], 'request')} in {seconds:.1f} s; "
               f"{plural(total['alerts'], 'alert')} queued -> {obj.db_file}")


def _elsewhere(count: int) -> str:
    """", 12 fetched by another source": links of a source that another source's run
    fetched in the same crawl (one fetch per article; both sources list the article)."""
    return f", {count} fetched by another source" if count else ""


def _warning_counts(no_text: int, others: int) -> str:
    """", 2 without article text, 1 warning": the warnings of a run, when it had any
    (they are in fetch_errors; `veille sources` counts them per source)."""
    parts = []
    if no_text:
        parts.append(f"{no_text} without article text")
    if others:
        parts.append(f"{others} warning" + ("s" if others > 1 else ""))
    return "".join(f", {part}" for part in parts)
