"""`veille add URL` and `veille try URL`: one URL fetched (urllib, never Scrapy), read as
a crawl would read it, and shown; `add` then appends it to the config as a source.

Both read with the crawl's own readers (`crawler.page.probe`: feedparser as the feed
spider, the sitemap spider's reader, `find_article_links` as the topic spider, and
`extract_article` for an article page), so what they show is what a crawl would get.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click

from crawler.cli.main import Context, cli
from crawler.config.model import SOURCE_KINDS, Config, CrawlSettings
from crawler.errors import BadInputError, ConfigError, VeilleError
from crawler.page.fetch import Fetched, fetch, require_http_url
from crawler.wording import plural

if TYPE_CHECKING:  # the readers (trafilatura...) are imported when a command runs
    from crawler.page.listing import ListingHint
    from crawler.page.probe import Document

SHOWN = 10  # articles or links listed before "... and N more"
MIN_LISTING_LINKS = 3  # `try`: an HTML page with this many article links is a listing
BODY_WORDS = 40  # `try`: the first words of the body shown


def settings(obj: Context, required: bool) -> tuple[Config | None, CrawlSettings]:
    """The configuration (None when there is none and it is not `required`) and the
    crawl settings the fetch uses (user agent, timeout, size cap)."""
    try:
        config = obj.load()
    except ConfigError:
        if required:
            raise
        return None, CrawlSettings()
    return config, config.crawl


def get(url: str, crawl: CrawlSettings) -> Fetched:
    return fetch(url, crawl.user_agent, timeout=crawl.timeout,
                 max_bytes=crawl.max_response_kb * 1024)


def read(url: str, crawl: CrawlSettings) -> Document:
    from crawler.page.probe import read_document

    fetched = get(url, crawl)
    return read_document(fetched.body, fetched.final_url, fetched.content_type)


def listed_articles(document: Document, crawl: CrawlSettings
                    ) -> tuple[list[ListingHint], str | None]:
    """The articles a document lists, and a note on where they were read: a sitemap
    index's are read from its first sitemap (as the crawl follows each)."""
    if document.format != "sitemap index":
        return document.hints, None
    if not document.sitemaps:
        return [], "an empty sitemap index"
    first = document.sitemaps[0]
    try:
        child = read(first, crawl)
    except VeilleError as exc:
        return [], f"its first sitemap could not be read: {exc}"
    return child.hints, (f"{len(document.sitemaps)} sitemaps; articles of the first, "
                         f"{first}")


def describe(document: Document) -> str:
    return f"{document.url}: {what_it_is(document)}"


def what_it_is(document: Document) -> str:
    """ "RSS 2.0 feed "Title"", "news sitemap", "HTML page with article links..."."""
    what = {"feed": f"{document.format} feed", "sitemap": document.format,
            "topic": "HTML page with article links (a topic page)",
            "page": "HTML page without article links"}[document.kind]
    article = "an" if what[0] in "AEIOUaeiou" or what.startswith(("HTML", "RSS")) else "a"
    title = f' "{document.title}"' if document.title else ""
    return f"{article} {what}{title}"


def when_text(when: datetime | None, tz: str) -> str:
    if when is None:
        return "-"
    return when.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def hint_row(hint: ListingHint) -> dict[str, Any]:
    return {"url": hint.url, "title": hint.title,
            "time": hint.listed_at.isoformat() if hint.listed_at else None,
            "topic": hint.topic}


def show_hints(hints: list[ListingHint], tz: str) -> None:
    for hint in hints[:SHOWN]:
        click.echo(f"  {when_text(hint.listed_at, tz):<16}  {hint.title or '(no title)'}")
        click.echo(f"  {'':<16}  {hint.url}")
    if len(hints) > SHOWN:
        click.echo(f"  ... and {len(hints) - SHOWN} more")


# -- veille add ------------------------------------------------------------------------


def choose(document: Document, kind: str | None, crawl: CrawlSettings,
           ) -> tuple[Document, str, list[str]]:
    """The document to add, its source kind, and notes on the choice for the user.

    A page without article links that advertises feeds gives its first feed, as does
    any HTML page with `--kind feed`."""
    notes: list[str] = []
    html = document.kind in ("topic", "page")
    advertised = ", ".join(f.url for f in document.feeds)
    if html and document.feeds and (kind == "feed" or (kind is None
                                                        and document.kind == "page")):
        feed = document.feeds[0]
        many = len(document.feeds) > 1
        notes.append(f"{document.url} advertises {plural(len(document.feeds), 'feed')} "
                     f"({advertised}): adding "
                     f"{'the first' if many else 'it'}")
        followed = read(feed.url, crawl)
        if followed.kind != "feed":
            raise BadInputError(f"{feed.url}: advertised as a feed by {document.url}, "
                                f"but it is not one ({followed.format})")
        return followed, "feed", notes
    if kind is None and document.kind == "page":
        raise BadInputError(
            f"{document.url}: found no feed, sitemap or article links there; "
            "--kind topic adds it anyway (then give its links a CSS selector: "
            "links = \"...\")")
    kind = kind or document.kind
    if kind == "topic" and html:
        if document.kind == "page":
            notes.append("no article links found: give the source a CSS selector for "
                         "them (links = \"...\") before crawling it")
        elif document.feeds:
            notes.append(f"it also advertises {advertised}: `veille add` one of them to "
                         "follow its feed instead")
    elif kind != document.kind:
        raise BadInputError(f"{document.url}: is {what_it_is(document)}, "
                            f"not a {kind}")
    return document, kind, notes


@cli.command()
@click.argument("url")
@click.option("--kind", type=click.Choice(SOURCE_KINDS),
              help="The kind of source [default: what the URL turns out to be].")
@click.option("--id", "source_id", metavar="ID",
              help="The source's id [default: from the URL's host and path].")
@click.option("--topic", metavar="LABEL", help="The topic given to its articles.")
@click.option("--name", metavar="NAME",
              help="The source's name [default: the feed's or page's title].")
@click.option("--dry-run", is_flag=True, help="Show what would be added; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def add(obj: Context, url: str, kind: str | None, source_id: str | None, topic: str | None,
        name: str | None, dry_run: bool, as_json: bool) -> None:
    """Add a source: fetch URL, tell what it is, append it to the configuration.

    URL may be an RSS or Atom feed, a sitemap (or news sitemap, or sitemap index), a
    topic page listing articles, or a page that advertises a feed (the feed is added).
    Shows the first articles as a crawl would read them, then appends a [[source]] table
    to the configuration file, keeping its comments and layout; the file is checked with
    the new source before it is written, and left untouched if that would not load.

    Example: veille add https://www.lorientlejour.com/rss/dernieres-infos.xml --topic Liban
    """
    from crawler.config.editing import append_sources, derive_id, source_table, url_key

    url = require_http_url(url)
    config, crawl = settings(obj, required=not dry_run)
    tz = crawl.timezone
    document, kind, notes = choose(read(url, crawl), kind, crawl)
    hints, index_note = listed_articles(document, crawl)
    sources = config.sources if config else ()
    for source in sources:
        if url_key(source.url) == url_key(document.url):
            raise BadInputError(f"{document.url}: already configured, as source "
                                f"{source.id!r}")
    chosen_id = source_id or derive_id(document.url, (s.id for s in sources))
    entry = {"id": chosen_id, "name": name or document.title or chosen_id, "kind": kind,
             "url": document.url, "topic": topic}
    if config is None:  # a dry run without a configuration file: nothing to append to
        added_text, written = None, False
    else:
        added = append_sources(obj.config_file, [entry], dry_run=dry_run)
        added_text, written = added.text, added.written
    if as_json:
        click.echo(json.dumps({
            "url": document.url, "kind": kind, "format": document.format,
            "title": document.title, "notes": [*notes, *filter(None, [index_note])],
            "articles": [hint_row(h) for h in hints],
            "advertised_feeds": [f.url for f in document.feeds],
            "sitemaps": document.sitemaps, "problem": document.problem,
            "source": {k: v for k, v in entry.items() if v is not None},
            "config": str(obj.config_file), "written": written, "toml": added_text,
        }, indent=2, ensure_ascii=False))
        return
    for note in notes:
        click.echo(note)
    click.echo(describe(document))
    if document.problem:
        click.echo(f"  (read despite a defect: {document.problem})")
    if index_note:
        click.echo(f"  {index_note}")
    click.echo(f"  {plural(len(hints), 'article')}"
               + (f" (times in {tz}):" if hints else ""))
    show_hints(hints, tz)
    if config is None:
        click.echo(f"\n{obj.config_file} does not exist: nothing to add to "
                   "(`veille init` writes a starter configuration). The source would be:")
        click.echo(source_table(entry).strip("\n"))
        return
    verb = "Appended to" if written else "Would append to"
    click.echo(f"\n{verb} {obj.config_file}" + ("" if written else " (--dry-run: nothing "
                                                 "written)") + ":")
    click.echo(added_text.strip("\r\n"))


# -- veille try ------------------------------------------------------------------------

FIELDS = (
    ("title", "title"), ("url", None), ("canonical", "canonical_url"),
    ("published", "published"), ("updated", "updated"), ("authors", "authors"),
    ("topic", "topic"), ("section", "section"), ("language", "language"),
    ("lead", "lead"), ("body", "body"),
)


def article_fields(url: str, article: Any, tz: str) -> dict[str, dict[str, Any]]:
    """Each field shown by `try`: its value and where it was read."""
    values = {
        "title": article.title, "url": url, "canonical": article.canonical_url,
        "published": article.published, "updated": article.updated,
        "authors": list(article.authors), "topic": article.topic, "section": article.section,
        "language": article.language, "lead": article.lead,
        "body": " ".join(article.body.split()[:BODY_WORDS]) or None,
    }
    fields = {}
    for name, origin_key in FIELDS:
        value = values[name]
        if isinstance(value, datetime):
            value = value.isoformat()
        fields[name] = {"value": value or None,
                        "from": article.origins.get(origin_key) if origin_key and value
                        else ("fetched" if name == "url" else None)}
    return fields


@cli.command("try")
@click.argument("url")
@click.option("--source", "source_id", metavar="ID",
              help="Read it with this configured source's selectors, timezone and language.")
@click.option("--article", "force_article", is_flag=True,
              help="Read an HTML page as an article even if it lists article links.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def try_(obj: Context, url: str, source_id: str | None, force_article: bool,
         as_json: bool) -> None:
    """Show what Veille would read from URL, storing nothing (like `scrapy parse`).

    An article page: its title, dates, authors, topic, section, language, lead and the
    first words of its text, each with where it was read (JSON-LD, OpenGraph, a meta
    tag, a configured selector, trafilatura, htmldate...), and the warnings a crawl
    would record. A feed, sitemap or topic page: the article links a crawl would follow.

    Example: veille try https://www.lorientlejour.com/article/1234567/titre.html
    """
    from crawler.page.extract import extract_article
    from crawler.page.probe import read_document

    url = require_http_url(url)
    config, crawl = settings(obj, required=source_id is not None)
    source = config.source(source_id) if config and source_id else None
    tz = (source.timezone if source and source.timezone else None) or crawl.timezone
    fetched = get(url, crawl)
    domains = source.domains if source else ()
    document = read_document(fetched.body, fetched.final_url, fetched.content_type, domains)
    listing = document.kind in ("feed", "sitemap") or (
        not force_article and document.kind == "topic" and not document.article
        and len(document.hints) >= MIN_LISTING_LINKS)
    if listing:
        hints, index_note = listed_articles(document, crawl)
        if as_json:
            click.echo(json.dumps({
                "url": document.url, "kind": document.kind, "format": document.format,
                "title": document.title, "links": [hint_row(h) for h in hints],
                "sitemaps": document.sitemaps, "problem": document.problem,
            }, indent=2, ensure_ascii=False))
            return
        click.echo(describe(document))
        if index_note:
            click.echo(f"  {index_note}")
        click.echo(f"  a crawl would follow {plural(len(hints), 'link')}"
                   + (f" (times in {tz}):" if hints else ""))
        show_hints(hints, tz)
        return
    if document.html is None:
        raise BadInputError(f"{document.url}: not an HTML page ({document.format})")
    article = extract_article(
        document.html, document.url, selectors=source.selectors if source else None,
        default_tz=ZoneInfo(tz), default_language=source.language if source else None)
    fields = article_fields(document.url, article, tz)
    if as_json:
        click.echo(json.dumps({
            "url": document.url, "kind": "article", "fields": fields,
            "word_count": article.word_count, "warnings": list(article.warnings),
        }, indent=2, ensure_ascii=False))
        return
    click.echo(f"{document.url}: an article page; nothing is stored")
    for name, field in fields.items():
        value = field["value"]
        if isinstance(value, list):
            value = ", ".join(value)
        text = "-" if value is None else str(value)
        if name in ("lead", "body") and len(text) > 160:
            text = text[:157].rsplit(" ", 1)[0] + " ..."
        origin = f"  [{field['from']}]" if field["from"] else ""
        click.echo(f"  {name:<10} {text}{origin}")
    click.echo(f"  {'words':<10} {article.word_count}")
    click.echo(f"  {'warnings':<10} " + ("; ".join(article.warnings) or "none"))
