"""`veille history URL`: an article's versions, with a readable diff between each, the
pages taken for it (merges, with their reasons), and the story it belongs to."""

from __future__ import annotations

import difflib
import json
import textwrap

import click

from crawler.cli.main import Context, cli
from crawler.page.urls import canonicalize
from crawler.wording import plural


@cli.command()
@click.argument("url")
@click.option("--width", default=100, show_default=True, help="Wrap the diff at this width.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the article, its versions, merges and story's copies as JSON.")
@click.pass_obj
def history(obj: Context, url: str, width: int, as_json: bool) -> None:
    """Print an article's versions and what changed between them, the pages taken for it
    (a renamed slug, a new GUID, an AMP variant: each with its reason), and its story's
    copies.

    URL is any address the article was seen under (listing link, feed link, canonical...).

    Example: veille history https://www.lorientlejour.com/article/1234/...
    """
    db = obj.read_database()
    try:
        row = next(db.query(
            "SELECT a.* FROM article_urls u JOIN articles a ON a.id = u.article_id "
            "WHERE u.url IN (?, ?)", [url, canonicalize(url)]), None)
        if row is None:
            raise click.ClickException(f"{url}: no stored article was seen under this URL")
        versions = list(db.query(
            "SELECT version, title, lead, body, fetched_at, superseded_at, words_added, "
            "words_removed, superseded_by FROM article_versions WHERE article_id = ? "
            "ORDER BY version",
            [row["id"]]))
        copies = list(db.query(
            "SELECT a.canonical_url, a.title, s.name AS source, a.first_seen_at FROM articles a "
            "JOIN sources s ON s.id = a.source_id WHERE a.story_id = ? AND a.id != ? "
            "ORDER BY a.first_seen_at", [row["story_id"], row["id"]]))
        merges = list(db.query(
            "SELECT version, reason, url, source_id, evidence, at FROM article_merges "
            "WHERE article_id = ? ORDER BY at, id", [row["id"]]))
    finally:
        db.close()
    if as_json:
        article = {k: row[k] for k in ("id", "canonical_url", "title", "first_seen_at",
                                       "version", "story_id")}
        click.echo(json.dumps({"article": article, "versions": versions, "merges": merges,
                               "copies": copies}, indent=2, ensure_ascii=False))
        return
    click.secho(row["title"] or row["canonical_url"], bold=True)
    click.echo(f"{row['canonical_url']}\nfirst seen {row['first_seen_at']}, "
               f"{plural(row['version'], 'version')}, story #{row['story_id']}")
    current = {"version": row["version"], "title": row["title"], "lead": row["lead"],
               "body": row["body"], "fetched_at": row["last_fetched_at"]}
    chain = [*versions, current]
    for before, after in zip(chain, chain[1:], strict=False):
        how = ("re-extracted from the same page"
               if before["superseded_by"] == "reextract" else "replaced")
        click.secho(f"\nversion {before['version']} -> {after['version']} "
                    f"({how} {before['superseded_at']}: +{before['words_added']} / "
                    f"-{before['words_removed']} words)", bold=True)
        for line in readable_diff(_text(before), _text(after), width):
            colour = {"+": "green", "-": "red"}.get(line[:1])
            click.secho(line, fg=colour)
    if len(chain) == 1:
        click.echo("\nno earlier version: the text has not changed since it was first seen")
    if merges:
        click.secho(f"\nalso read as this article ({len(merges)}):", bold=True)
        for merge in merges:
            click.echo(f"  {merge['at']}  {merge['reason']}: {merge['evidence'] or ''}"
                       f" (version {merge['version']}, {merge['source_id']})\n"
                       f"      {merge['url']}")
    if copies:
        click.secho(f"\nthe same story, elsewhere ({len(copies)}):", bold=True)
        for copy in copies:
            click.echo(f"  {copy['first_seen_at']}  {copy['source']}: {copy['title']}\n"
                       f"      {copy['canonical_url']}")


def _text(version: dict) -> str:
    return "\n\n".join(p for p in (version["title"], version["lead"], version["body"]) if p)


def readable_diff(old: str, new: str, width: int = 100) -> list[str]:
    """Paragraphs removed (-) and added (+), wrapped; unchanged ones left out."""
    lines = []
    old_paras, new_paras = old.split("\n\n"), new.split("\n\n")
    for op, a1, a2, b1, b2 in difflib.SequenceMatcher(
            a=old_paras, b=new_paras, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        for mark, paras in (("-", old_paras[a1:a2]), ("+", new_paras[b1:b2])):
            for para in paras:
                wrapped = textwrap.wrap(para, width - 2) or [""]
                lines.extend(f"{mark} {part}" for part in wrapped)
    return lines
