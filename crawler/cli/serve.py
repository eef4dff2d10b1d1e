"""`veille serve`: browse the record in Datasette, read-only, while crawls go on."""

from __future__ import annotations

import click

from crawler.cli.main import Context, cli


# As `datasette serve`: -h is the host and -p the port; help is --help only.
@cli.command(context_settings={"help_option_names": ["--help"]})
@click.option("--host", "-h", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 to publish it on the network).")
@click.option("--port", "-p", default=8001, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0 picks a free one).")
@click.option("--open", "-o", "open_browser", is_flag=True,
              help="Open the browser at the database.")
@click.option("--setting", "settings", type=(str, str), multiple=True, metavar="NAME VALUE",
              help="A Datasette setting, e.g. --setting base_url /news/ (repeatable).")
@click.pass_obj
def serve(obj: Context, host: str, port: int, open_browser: bool,
          settings: tuple[tuple[str, str], ...]) -> None:
    """Browse the database in Datasette: search, facets, canned queries, Atom feeds.

    Serves the database read-only for the web (nothing on the page can write) with the
    metadata shipped in data/datasette/metadata.yaml; crawls may run at the same time.
    The whole-file download stays off: publish a copy instead.

    Example: veille --db data/veille.db serve -p 8001 --open
    """
    from crawler.errors import ServeError
    from crawler.serve import DATABASE_NAME, parse_settings
    from crawler.serve import serve as run_server

    if not obj.database.exists():
        raise ServeError(
            f"{obj.database}: no such database (run `veille crawl` or `veille init` first)")
    overrides = parse_settings(settings)
    # Bring the schema up to date (the views the metadata names); a no-op, and no write,
    # when it already is. A read-only copy is only opened, and refused if it is too old.
    obj.read_database().close()

    def started(url: str) -> None:
        click.echo(f"Serving {obj.database} read-only as /{DATABASE_NAME} at {url} "
                   "(Ctrl-C to stop)", err=True)

    run_server(obj.database, host=host, port=port, settings=overrides,
               open_browser=open_browser, on_started=started)
