"""Plain-text reports on what a database holds (used by `veille demo`)."""

from __future__ import annotations

from pathlib import Path

import click

from crawler.schema import connect


def print_demo_report(db_file: Path, requests: list[int]) -> None:
    """Print what the demo stored: per source, the newest articles, aliases, versions."""
    db = connect(db_file)
    try:
        total = db["articles"].count
        urls = db["article_urls"].count
        click.secho(f"What the database holds ({db_file})", bold=True)
        click.echo(f"   {total} articles under {urls} URLs; "
                   f"{db['article_versions'].count} earlier versions kept; "
                   f"{db['fetch_errors'].count} problems recorded")
        click.echo("   Requests per crawl: " + ", ".join(map(str, requests)))
        click.echo("\n   Articles per source and language:")
        for row in db.query(
            "SELECT source_id, language, count(*) AS n FROM articles "
            "GROUP BY source_id, language ORDER BY source_id, language"
        ):
            click.echo(f"     {row['source_id']:<18} {row['language'] or '?':<3} {row['n']:>3}")
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
            "GROUP BY a.id HAVING n > 2 ORDER BY n DESC LIMIT 2"
        ):
            click.echo(f"     {row['title']}\n         {row['urls']}")
        click.echo("\n   Articles whose text changed since first seen:")
        for row in db.query(
            "SELECT a.title, a.version, v.words_added, v.words_removed FROM articles a "
            "JOIN article_versions v ON v.article_id = a.id ORDER BY v.superseded_at DESC"
        ):
            click.echo(f"     v{row['version']}: {row['title']}  "
                       f"(+{row['words_added']} / -{row['words_removed']} words)")
        problems = list(db.query(
            "SELECT source_id, level, message FROM fetch_errors ORDER BY id DESC LIMIT 5"))
        if problems:
            click.echo("\n   Problems recorded (fetch_errors):")
            for row in problems:
                click.echo(f"     {row['level']:<7} {row['source_id']}: {row['message']}")
    finally:
        db.close()
