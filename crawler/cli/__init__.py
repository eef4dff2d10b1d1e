"""The `veille` command line: the click group and its context in `main`, the commands by
topic in the other modules (importing them registers them), `main()` the entry point."""

from crawler.cli import (  # noqa: F401
    adding,
    alerts,
    cluster,
    crawl,
    history,
    reextract,
    serve,
    sources,
)
from crawler.cli.main import Context, cli


def main() -> None:
    # No logging set-up here: a crawl installs Scrapy's handler at the chosen level, and
    # other commands report through click; library warnings reach stderr regardless.
    cli(prog_name="veille")


__all__ = ["Context", "cli", "main"]
