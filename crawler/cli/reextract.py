"""`veille reextract`: the current extractor over the kept raw pages (crawl/reextract.py)."""

from __future__ import annotations

import sys

import click

from crawler.cli.main import Context, cli
from crawler.clock import parse_time, stamp
from crawler.errors import ConfigError


def _since(value: str | None) -> str | None:
    """DATE as UTC ISO 8601 text ("2026-11-20" is that day's midnight, UTC)."""
    if value is None:
        return None
    try:
        return stamp(parse_time(value))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date such as 2026-11-20 or "
                                 "2026-11-20T08:00:00Z", param_hint="--since") from None


@cli.command()
@click.option("--source", "-s", "source_ids", multiple=True, metavar="ID",
              help="Only this source's articles (repeatable). Default: every configured source.")
@click.option("--since", metavar="DATE",
              help="Only articles whose page was fetched at or after DATE (2026-11-20, "
                   "or an ISO 8601 time; UTC unless it says otherwise).")
@click.pass_obj
def reextract(obj: Context, source_ids: tuple[str, ...], since: str | None) -> None:
    """Run the current extractor again over the stored articles' kept pages.

    Each article's current version is re-extracted from the raw page it came from (the
    WARC files in `pages/` beside the database), with its source's encoding, selectors
    and time zone. A changed title, lead or text becomes a new version, the earlier one
    kept in article_versions; no alert is queued. Articles whose page is no longer kept
    ([crawl] keep_pages) or never was are counted and left alone. Exits with status 1 if
    a kept page could not be read, naming the article.

    Example: veille reextract --source olj-rss --since 2026-11-01
    """
    from crawler.crawl.reextract import reextract as run

    config = obj.load()
    try:
        sources = config.select(source_ids)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--source") from exc
    report = run(config, obj.db_file, sources, _since(since))
    for failure in report.failures:
        click.echo(f"veille reextract: {failure}", err=True)
    click.echo(report.summary())
    if report.failures:
        sys.exit(1)
