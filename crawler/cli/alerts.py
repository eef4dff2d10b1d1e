"""The alert commands of `veille`: alerts (list, send, retry, test), conflicts, rematch."""

from __future__ import annotations

import json
import sys
from datetime import timedelta

import click

from crawler.cli.main import Context, cli
from crawler.cli.output import TABLE, emit, format_options
from crawler.clock import stamp, stamp_now, utc_now
from crawler.config.model import Config
from crawler.record.schema import open_database
from crawler.wording import plural

STATUSES = ("pending", "sending", "sent", "failed", "cancelled")


def dispatch_now(config: Config, db_file, only: tuple[str, ...] = (),
                 quiet: bool = False) -> int:
    """Send the due alerts and operator notices; print what happened (with `quiet`, only
    the errors); return the number given up on."""
    from crawler.alerts.dispatch import send_due

    def polling_limit() -> float | None:
        # Polling is watched against the daemon's own limit (its health check's), worked
        # out only when an operator subscription asks and something polled already.
        from scheduler.monitor import longest_interval

        return longest_interval(config)

    report = send_due(config, db_file, only, polling_limit=polling_limit)
    for error in report.errors:
        click.echo(f"  error: {error}", err=True)
    if quiet:
        return report.failed
    deliveries = plural(report.batches, "delivery", "deliveries")
    notices = f", {plural(report.notices, 'operator notice')} sent" if report.notices else ""
    click.echo(f"alerts: {report.sent} sent in {deliveries}{notices}, "
               f"{report.retrying} to retry, {report.failed} failed; {report.waiting} waiting")
    return report.failed


@cli.group(invoke_without_command=True)
@click.option("--status", type=click.Choice([*STATUSES, "all"]), default="all",
              show_default=True, help="Only alerts in this state.")
@click.option("--subscription", "subscription", metavar="ID", help="Only this subscription's.")
@click.option("--limit", default=30, show_default=True, help="At most this many, newest first.")
@format_options
@click.pass_context
def alerts(ctx: click.Context, status: str, subscription: str | None, limit: int,
           fmt: str) -> None:
    """List alerts (pending, sent, failed); send, retry or test them with a subcommand.

    Crawls queue alerts; `veille alerts send` (or `veille crawl --send`) delivers them.

    Example: veille alerts --status failed
    """
    if ctx.invoked_subcommand is not None:
        return
    obj: Context = ctx.obj
    sql = ("SELECT al.id, al.status, al.subscription_id, al.created_at, al.sent_at, "
           "al.attempts, al.next_attempt_at, al.last_error, al.conflicts, a.title, "
           "a.canonical_url AS url FROM alerts al JOIN articles a ON a.id = al.article_id")
    where, params = [], []
    if status != "all":
        where.append("al.status = ?")
        params.append(status)
    if subscription:
        where.append("al.subscription_id = ?")
        params.append(subscription)
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY al.id DESC LIMIT ?"
    db = obj.read_database()
    try:
        found = list(db.query(sql, [*params, limit]))
        counts = dict(db.execute("SELECT status, count(*) FROM alerts GROUP BY status").fetchall())
        notices = dict(db.execute(
            "SELECT status, count(*) FROM operator_notices GROUP BY status").fetchall())
    finally:
        db.close()
    for row in found:  # stored as JSON text: a list in every output
        row["conflicts"] = json.loads(row["conflicts"] or "[]")
    if fmt != TABLE:
        emit(found, fmt)
        return
    click.echo(", ".join(f"{counts.get(s, 0)} {s}" for s in STATUSES))
    if notices:  # the operator subscriptions' notices, kept in their own table
        click.echo("operator notices: " + ", ".join(
            f"{notices[s]} {s}" for s in STATUSES if notices.get(s)))
    for row in found:
        row["when"] = row["sent_at"] or row["created_at"]
        row["article"] = (row["title"] or row["url"])[:70]
        if row["last_error"] and row["status"] != "sent":
            retry = f"; next attempt {row['next_attempt_at']}" if row["status"] == "pending" else ""
            row["problem"] = f"attempt {row['attempts']}: {row['last_error']}{retry}"
    emit(found, fmt, [("id", "alert"), ("status", "status"), ("subscription_id", "subscription"),
                      ("when", "created or sent"), ("article", "article"),
                      ("problem", "last error")])


@alerts.command("send")
@click.option("--subscription", "subscriptions", multiple=True, metavar="ID",
              help="Only this subscription (repeatable).")
@click.pass_obj
def alerts_send(obj: Context, subscriptions: tuple[str, ...]) -> None:
    """Deliver the alerts that are due now; failures are retried later with backoff.

    Exits with status 1 if an alert was given up on (marked failed).

    Example: veille alerts send
    """
    config = obj.load()
    for sub_id in subscriptions:
        config.subscription(sub_id)
    if dispatch_now(config, obj.db_file, subscriptions):
        sys.exit(1)


@alerts.command("retry")
@click.argument("alert_ids", nargs=-1, type=int)
@click.option("--subscription", metavar="ID", help="Only this subscription's failed alerts.")
@click.pass_obj
def alerts_retry(obj: Context, alert_ids: tuple[int, ...], subscription: str | None) -> None:
    """Put failed alerts back in the queue (all of them, or those given by id).

    Example: veille alerts retry --subscription caucasus-desk && veille alerts send
    """
    from crawler.alerts.dispatch import retry_failed

    db = open_database(obj.db_file)
    try:
        count = retry_failed(db, subscription, alert_ids)
    finally:
        db.close()
    click.echo(f"{plural(count, 'failed alert')} queued again; `veille alerts send` delivers them")


@alerts.command("test")
@click.argument("subscription")
@click.pass_obj
def alerts_test(obj: Context, subscription: str) -> None:
    """Send a test message through a subscription's channel, now.

    The message says it is a test, and nothing is stored in the database. A webhook or
    e-mail subscription receives it as its people would; an Atom subscription's feed file
    is rewritten with it as its newest entry (its next alerts replace the feed, without it).

    Example: veille alerts test caucasus-desk
    """
    from crawler.alerts.dispatch import Dispatcher, sample_message
    from crawler.errors import DeliveryError

    config = obj.load()
    sub = config.subscription(subscription)
    message = sample_message(sub, stamp_now())
    db = open_database(obj.db_file)
    try:
        dispatcher = Dispatcher(db, config.subscriptions, config.alerts,
                                user_agent=config.crawl.user_agent)
        dispatcher.deliver(sub, message.uid, [message])
    except DeliveryError as exc:
        raise click.ClickException(f"{sub.id}: test message not delivered: {exc}") from exc
    finally:
        db.close()
    click.echo(f"{sub.id}: test message delivered by {sub.channel_kind}")


@cli.command()
@format_options
@click.pass_obj
def conflicts(obj: Context, fmt: str) -> None:
    """List the tracked conflicts with their article counts.

    Example: veille conflicts
    """
    config = obj.load()
    db = obj.read_database()
    try:
        counts = {
            row["conflict_id"]: row for row in db.query(
                "SELECT ac.conflict_id, count(*) AS articles, "
                "sum(a.first_seen_at >= ?) "
                "AS last_day, max(a.published_at) AS latest FROM article_conflicts ac "
                "JOIN articles a ON a.id = ac.article_id GROUP BY ac.conflict_id",
                [stamp(utc_now() - timedelta(days=1))],
            )
        }
    finally:
        db.close()
    report = [
        {"id": c.id, "name": c.name, "articles": counts.get(c.id, {}).get("articles", 0),
         "last_day": counts.get(c.id, {}).get("last_day") or 0,
         "latest": counts.get(c.id, {}).get("latest"), "aliases": list(c.aliases)}
        for c in config.conflicts
    ]
    if not report and fmt == TABLE:
        click.echo(f"{obj.config_file}: no [[conflict]] tracked")
        return
    emit(report, fmt, [("id", "conflict"), ("articles", "articles"), ("last_day", "24 h"),
                       ("latest", "latest"), ("name", "name")])


@cli.command()
@click.pass_obj
def rematch(obj: Context) -> None:
    """Match every stored article against the conflicts again, after a config change.

    Raises no alert: alerts are for articles as they arrive.

    Example: veille rematch
    """
    from crawler.record.outbox import Outbox
    from crawler.record.store import Store

    config = obj.load()
    with Store.open_for(config, obj.db_file) as store:
        report = Outbox(config.conflicts, config.subscriptions).rematch(store.db, store.now())
    click.echo(f"{report.articles} articles matched again: {report.flagged} about a tracked "
               f"conflict; {report.added} new matches, {report.removed} dropped; no alert sent")
