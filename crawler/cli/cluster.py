"""`veille worker`, `veille ingest` and `veille queue`: one crawl spread over machines
that share a Redis server (see the README's "Scaling out").

Redis and the cluster modules are imported by these commands only: every other command
(a crawl among them) starts without them."""

from __future__ import annotations

import logging
import sqlite3
import sys

import click

from crawler.cli.main import Context, cli


def _logging(level: str) -> None:
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _redis_config(obj: Context):
    config = obj.load()
    if config.redis is None:
        raise click.ClickException(f"{obj.config_file}: no [redis] table: the workers, the "
                                   "ingester and the queue need one (see 'Scaling out')")
    return config


@cli.command()
@click.option("--concurrency", "-c", default=16, show_default=True,
              help="Requests this worker has in flight at once.")
@click.option("--drain", is_flag=True,
              help="Stop once the shared queue is empty, instead of waiting for more.")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]))
@click.pass_obj
def worker(obj: Context, concurrency: int, drain: bool, log_level: str) -> None:
    """Fetch and extract the requests queued in Redis, on this machine; send the articles
    to `veille ingest`. Start as many as you like, on as many machines; none needs the
    database. SIGTERM or SIGINT finishes the pages in hand, then stops.

    Example: veille --config data/veille.toml worker --concurrency 16
    """
    from crawler.cluster.worker import run_worker

    config = _redis_config(obj)
    sys.exit(run_worker(config, concurrency=concurrency, drain=drain, log_level=log_level))


@cli.command()
@click.option("--drain", is_flag=True,
              help="Stop once the queue and the article stream are both empty.")
@click.option("--send", is_flag=True, help="Deliver the alerts due after each batch.")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]))
@click.pass_obj
def ingest(obj: Context, drain: bool, send: bool, log_level: str) -> None:
    """Store what the workers extract: the only process that writes the database when
    workers crawl. Run exactly one, on the machine that holds the database; it refuses
    to start beside another. SIGTERM or SIGINT stops it after the article in hand.

    Example: veille --config data/veille.toml --db data/veille.db ingest --send
    """
    import redis

    from crawler.cli.alerts import dispatch_now
    from crawler.cluster.ingest import Ingester, stop_on_signals
    from crawler.cluster.shared import Cluster

    _logging(log_level)
    config = _redis_config(obj)
    try:
        cluster = Cluster.open(config.redis)
        after = (lambda: dispatch_now(config, obj.db_file)) if send else None
        ingester = Ingester(config, obj.db_file, cluster, after_batch=after)
        stop_on_signals(ingester)
        report = ingester.run(drain=drain)
    except redis.RedisError as exc:
        raise click.ClickException(
            f"Redis at {cluster.where}: {exc}. Nothing is lost: the events not acknowledged "
            "are read again when the ingester restarts") from exc
    except sqlite3.Error as exc:
        raise click.ClickException(
            f"database {obj.db_file}: {exc}. Nothing is lost: the event in hand was not "
            "acknowledged and is read again when the ingester restarts") from exc
    click.echo(f"ingested {report.articles} articles ({report.new} new, {report.updated} "
               f"updated), {report.errors} errors, {report.runs} runs closed, "
               f"{report.alerts} alerts queued" +
               (f", {report.rejected} unreadable events set aside" if report.rejected else ""))


@cli.command()
@click.option("--source", "-s", "source_ids", multiple=True, metavar="ID",
              help="Queue only this source (repeatable). Default: all sources.")
@click.option("--due", is_flag=True, help="Only the sources whose schedule says a poll is due.")
@click.option("--status", is_flag=True, help="Show the queue, the workers and the backlog.")
@click.pass_obj
def queue(obj: Context, source_ids: tuple[str, ...], due: bool, status: bool) -> None:
    """Queue a run of sources for the workers (what the daemon does with
    `[schedule] distributed = true`), or show the shared queue with --status.

    Example: veille queue --source olj-karabakh
    """
    from crawler.cluster.shared import Cluster
    from scheduler.due import due_only

    config = _redis_config(obj)
    if status:
        _print_status(Cluster.open(config.redis))
        return
    sources = config.select(source_ids)
    queue_and_print(obj, config, due_only(obj.db_file, config, sources) if due else sources)


def queue_and_print(obj: Context, config, sources, quiet: bool = False) -> None:
    """Queue a run of each source for the workers; one line each (`queue`, `crawl --due`;
    none with `quiet`)."""
    from scheduler.handoff import queue_sources

    for queued in queue_sources(config, obj.db_file, sources):
        if quiet:
            continue
        suffix = f" (run {queued.run_id})" if queued.run_id else ""
        click.echo(f"{queued.source_id}  {queued.note}{suffix}")


def _print_status(cluster) -> None:
    from crawler.cluster.shared import WORKERS

    client = cluster.client
    keys = cluster.keys
    click.echo(f"requests queued or in hand: {cluster.queued()}")
    click.echo(f"events waiting for the ingester: {cluster.backlog()}")
    for consumer in client.xinfo_consumers(keys.requests, WORKERS):
        name = consumer["name"].decode()
        state = "alive" if cluster.alive(name) else "silent"
        click.echo(f"worker {name}: {state}, {consumer['pending']} requests in hand")
    holder = client.get(keys.ingester)
    click.echo(f"ingester: {holder.decode() if holder else 'none running'}")
