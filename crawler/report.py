"""Plain-text reports on what a database holds (used by `veille demo`)."""

from __future__ import annotations

from pathlib import Path

import click

from crawler.record.schema import connect
from crawler.wording import plural


def print_demo_report(db_file: Path, requests: list[int], webhooks: dict[str, dict],
                      bad_signatures: int = 0) -> None:
    """Print what the demo stored (per source, newest articles, aliases, versions) and the
    alerts each subscription received."""
    db = connect(db_file)
    try:
        total = db["articles"].count
        urls = db["article_urls"].count
        click.secho(f"What the database holds ({db_file})", bold=True)
        click.echo(f"   {total} articles under {urls} URLs; "
                   f"{db['article_versions'].count} earlier versions kept; "
                   f"{db['fetch_errors'].count} problems recorded")
        click.echo("   Requests per crawl: " + ", ".join(map(str, requests)))
        click.echo("\n   Articles per source and language (listed by the source; fetched by "
                   "it, each article being fetched once by one of the sources listing it):")
        for row in db.query(
            "SELECT p.source_id, a.language, count(*) AS n, "
            "sum(a.source_id = p.source_id) AS fetched FROM article_sources p "
            "JOIN articles a ON a.id = p.article_id "
            "GROUP BY p.source_id, a.language ORDER BY p.source_id, a.language"
        ):
            click.echo(f"     {row['source_id']:<18} {row['language'] or '?':<3} {row['n']:>3} "
                       f"listed {row['fetched']:>3} fetched")
        click.echo("\n   Newest articles:")
        for row in db.query(
            "SELECT published_at, topic, title FROM articles "
            "ORDER BY published_at DESC LIMIT 8"
        ):
            click.echo(f"     {row['published_at']}  [{row['topic'] or '-'}]  {row['title']}")
        click.echo("\n   One article, several URLs (listing, feed, redirect, AMP...):")
        for row in db.query(
            "SELECT a.title, group_concat(u.kind || ' ' || u.url, '\n         ') AS urls, "
            "count(*) AS n FROM articles a JOIN article_urls u ON u.article_id = a.id "
            "GROUP BY a.id HAVING n > 1 ORDER BY n DESC LIMIT 2"
        ):
            click.echo(f"     {row['title']}\n         {row['urls']}")
        click.echo("\n   Articles whose text changed since first seen:")
        for row in db.query(
            "SELECT a.title, a.version, v.words_added, v.words_removed FROM articles a "
            "JOIN article_versions v ON v.article_id = a.id ORDER BY v.superseded_at DESC"
        ):
            click.echo(f"     v{row['version']}: {row['title']}  "
                       f"(+{row['words_added']} / -{row['words_removed']} words)")
        _print_stories(db, total)
        _print_alerts(db, db_file, webhooks, bad_signatures)
        problems = list(db.query(
            "SELECT source_id, level, message FROM fetch_errors ORDER BY id DESC LIMIT 5"))
        if problems:
            click.echo("\n   Problems recorded (fetch_errors):")
            for row in problems:
                click.echo(f"     {row['level']:<7} {row['source_id']}: {row['message']}")
    finally:
        db.close()


def _print_alerts(db, db_file: Path, webhooks: dict[str, dict], bad_signatures: int) -> None:
    click.echo("\n   Tracked conflicts (articles matched):")
    for row in db.query(
        "SELECT c.name, count(ac.article_id) AS n FROM conflicts c LEFT JOIN article_conflicts "
        "ac ON ac.conflict_id = c.id GROUP BY c.id ORDER BY n DESC"
    ):
        click.echo(f"     {row['n']:>3}  {row['name']}")
    click.echo("\n   Alerts per subscription (one per story, queued with the article):")
    for row in db.query(
        "SELECT s.id, s.channel, s.schedule, count(al.id) AS n, "
        "sum(al.status = 'sent') AS sent, sum(al.status = 'pending') AS pending "
        "FROM subscriptions s LEFT JOIN alerts al ON al.subscription_id = s.id "
        "GROUP BY s.id ORDER BY s.id"
    ):
        click.echo(f"     {row['id']:<16} {row['channel']:<8} {row['schedule']:<22} "
                   f"{row['n']:>3} alerts: {row['sent'] or 0} sent, "
                   f"{row['pending'] or 0} waiting")
    click.echo(f"\n   The webhook receiver got {len(webhooks)} deliveries (signatures checked; "
               f"{bad_signatures} refused), for example:")
    for document in list(webhooks.values())[:3]:
        alert = document.get("alert", {})
        copies = len(alert.get("other_copies", []))
        click.echo(f"     [{', '.join(alert.get('conflicts', []))}] {alert.get('title')} "
                   f"({alert.get('source', {}).get('name')})"
                   + (f", also carried by {plural(copies, 'other source')}" if copies else ""))
    newest = list(db.query(
        "SELECT al.subscription_id, al.created_at, a.title FROM alerts al "
        "JOIN articles a ON a.id = al.article_id ORDER BY al.id DESC LIMIT 1"))
    if newest:
        row = newest[0]
        click.echo(f"\n   Newest alert (crawl 3): {row['subscription_id']}: {row['title']}")
    feeds = sorted((db_file.parent / "feeds").glob("*.xml"))
    if feeds:
        click.echo("   Atom feeds: " + ", ".join(str(f) for f in feeds))


def _print_stories(db, articles: int) -> None:
    stories = db.execute("SELECT count(*) FROM stories").fetchone()[0]
    click.echo(f"\n   {articles} articles make {stories} stories. "
               "Stories carried by several sources (wire copies grouped):")
    for row in db.query(
        "SELECT s.id, s.title, group_concat(src.name || ': ' || a.title, '\n         ') AS copies "
        "FROM stories s JOIN articles a ON a.story_id = s.id "
        "JOIN sources src ON src.id = a.source_id "
        "GROUP BY s.id HAVING count(a.id) > 1 ORDER BY s.id"
    ):
        click.echo(f"     story #{row['id']}\n         {row['copies']}")
