"""The Datasette 0.65 app of `veille serve`: settings, read-only database, the server.

The database is served in Datasette's normal (mutable) mode, never `--immutable`: immutable
mode assumes the file never changes, while a crawl writes to it. Datasette then reads through
``?mode=ro`` connections, which under WAL neither block the crawler nor are blocked by it,
and see each article as soon as its transaction commits. Nothing on the page can write: the
web app answers only GET and HEAD, SQL must be a SELECT, the connections are read-only, no
canned query writes, and the database object refuses Datasette's write API (which a plugin
could otherwise use).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import socket
import webbrowser
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasette_atom
import uvicorn
from datasette.app import DEFAULT_SETTINGS, Datasette
from datasette.database import Database
from datasette.plugins import pm
from datasette.utils import (
    BadMetadataError,
    ValueAsBooleanError,
    parse_metadata,
    value_as_boolean,
)
from datasette.utils.asgi import Forbidden

from crawler.errors import ServeError
from crawler.record.schema import needs_immutable
from crawler.serve import feeds, plugin
from crawler.serve.paths import DATABASE_NAME, METADATA_FILE, STATIC_DIR, TEMPLATES_DIR

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeSetting:
    """A Datasette setting whose default `veille serve` changes, and why."""

    name: str
    value: int | bool
    why: str


SETTINGS = (
    ServeSetting("default_page_size", 50, "a page of articles a reader can scan"),
    ServeSetting("sql_time_limit_ms", 3000,
                 "full-text searches and joins over a year of articles need more than 1 s"),
    ServeSetting("facet_time_limit_ms", 1000,
                 "the conflict facet reads a JSON array per article"),
    ServeSetting("truncate_cells_html", 300,
                 "article bodies would fill the table pages; the row page shows them whole"),
    ServeSetting("suggest_facets", False,
                 "the facets a reader uses are set in the metadata; suggestions push the "
                 "articles down the page"),
    ServeSetting("allow_download", False,
                 "Datasette 0.65 never offers a file that is being written; publish a copy "
                 "(sqlite3 veille.db '.backup copy.db') instead"),
)


def default_settings() -> dict[str, Any]:
    """Veille's Datasette settings, before any `--setting` given on the command line."""
    return {s.name: s.value for s in SETTINGS}


def parse_settings(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """`--setting NAME VALUE` pairs as typed Datasette settings.

    Raises:
        ServeError: an unknown setting, or a value of the wrong type.
    """
    settings: dict[str, Any] = {}
    for name, value in pairs:
        if name not in DEFAULT_SETTINGS:
            raise ServeError(f"--setting {name}: not a Datasette 0.65 setting (see "
                             f"datasette --help-settings)")
        default = DEFAULT_SETTINGS[name]
        if isinstance(default, bool):
            try:
                settings[name] = value_as_boolean(value)
            except ValueAsBooleanError:
                raise ServeError(f"--setting {name}: {value!r} is not on/off/true/false/1/0") \
                    from None
        elif isinstance(default, int):
            if not value.isdigit():
                raise ServeError(f"--setting {name}: {value!r} is not a whole number")
            settings[name] = int(value)
        else:
            settings[name] = value
    return settings


def load_metadata(path: Path = METADATA_FILE) -> dict[str, Any]:
    """The shipped Datasette metadata (YAML), as a dict."""
    try:
        return parse_metadata(Path(path).read_text(encoding="utf-8"))
    except (OSError, BadMetadataError) as exc:
        raise ServeError(f"{path}: cannot read Datasette metadata ({exc})") from exc


class ReadOnlyDatabase(Database):
    """A Database whose write API (used by write canned queries and plugins) refuses."""

    async def execute_write_fn(self, fn: Any, block: bool = True) -> Any:
        raise Forbidden("this Veille database is served read-only")


class VeilleDatasette(Datasette):
    """Datasette whose web app answers only GET and HEAD (405 otherwise), and whose `.atom`
    twin is Veille's (crawler/serve/feeds.py): every search and filter of the articles, not
    only the queries shaped for datasette-atom, with a stable id, a title, ETag and
    Last-Modified."""

    def app(self) -> Any:
        return _GetOnly(super().app())

    def _register_renderers(self) -> None:
        super()._register_renderers()
        # Whichever plugin registered "atom" first, this one answers (it hands the queries
        # with atom_* columns to datasette-atom itself).
        self.renderers[feeds.EXTENSION] = (feeds.render_atom, feeds.can_render_atom)


class _GetOnly:
    """ASGI middleware: a POST, PUT, PATCH or DELETE never reaches Datasette."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD"):
            body = b"This Veille database is served read-only: only GET and HEAD are allowed.\n"
            await send({"type": "http.response.start", "status": 405, "headers": [
                (b"allow", b"GET, HEAD"), (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def _register_plugins() -> None:
    # datasette-atom is normally found through its entry point; registering it here as well
    # means the feed also works where entry points are not scanned (Datasette skips them
    # under its tests). Veille's own plugin (pages, cells) is a module of the project.
    if not pm.is_registered(datasette_atom):
        pm.register(datasette_atom, name="datasette_atom")
    if not pm.is_registered(plugin):
        pm.register(plugin, name="veille")


def build_datasette(db_file: str | os.PathLike[str], *,
                    settings: Mapping[str, Any] | None = None,
                    metadata: Mapping[str, Any] | None = None) -> VeilleDatasette:
    """A Datasette instance serving `db_file` read-only as "veille", with the shipped metadata.

    `settings` override `default_settings()`; `metadata` replaces the shipped file's.
    Raises:
        ServeError: the file does not exist, or the metadata cannot be read.
    """
    path = Path(db_file)
    if not path.is_file():
        raise ServeError(f"{path}: no such database (run `veille crawl` or `veille init` first)")
    _register_plugins()
    meta = copy.deepcopy(dict(metadata if metadata is not None else load_metadata()))
    ds = VeilleDatasette([str(path)], metadata=meta,
                         settings={**default_settings(), **dict(settings or {})},
                         template_dir=str(TEMPLATES_DIR),
                         static_mounts=[(plugin.STATIC_MOUNT, str(STATIC_DIR))])
    # Datasette named the database after the file; serve it under the fixed name instead,
    # through a database object that refuses writes.
    for name in [n for n in ds.databases if n != "_internal"]:
        ds.remove_database(name)
    # Immutable only for a read-only copy that SQLite cannot read otherwise (no -shm file,
    # and none can be made): crawls may write any other while it is served.
    ds.add_database(ReadOnlyDatabase(ds, path=str(path), is_mutable=not needs_immutable(path)),
                    name=DATABASE_NAME)
    return ds


def serve(db_file: str | os.PathLike[str], *, host: str = "127.0.0.1", port: int = 8001,
          settings: Mapping[str, Any] | None = None, open_browser: bool = False,
          on_started: Callable[[str], None] | None = None) -> None:
    """Serve `db_file` with Datasette and uvicorn until interrupted (Ctrl-C, SIGTERM).

    `on_started` is called with the database's URL once the server listens (port 0 picks
    a free port, and the URL names it).
    """
    ds = build_datasette(db_file, settings=settings)

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if not self.started:
                return
            bound = self.servers[0].sockets[0].getsockname()[1] if self.servers else port
            shown = f"[{host}]" if ":" in host else host
            url = f"http://{shown}:{bound}{ds.urls.database(DATABASE_NAME)}"
            if on_started is not None:
                on_started(url)
            if open_browser:
                webbrowser.open(url)

    async def main() -> None:
        await ds.invoke_startup()
        config = uvicorn.Config(ds.app(), host=host, port=port, log_level="info",
                                lifespan="on", workers=1)
        await Server(config).serve()

    asyncio.run(main())
