"""Veille's Datasette plugin: the hooks behind the desk's pages (data/datasette/templates).

- `render_cell`: titles link to the article's page, times read in the newsroom's zone
  (UTC on hover), conflicts are labels, JSON arrays are lists.
- `extra_template_vars`: the front page's and the article page's data (crawler/serve/desk.py),
  the conflict chooser of the canned queries.
- `extra_css_urls`: the desk's stylesheet; `prepare_jinja2_environment`: a `local_time` filter.

The newsroom's time zone is `plugins: veille: time_zone` in the metadata (UTC by default).
"""

from __future__ import annotations

import logging
from typing import Any

from datasette import hookimpl
from markupsafe import Markup

from crawler.serve import cells, desk
from crawler.serve.paths import DATABASE_NAME

LOGGER = logging.getLogger(__name__)

PLUGIN_NAME = "veille"
STATIC_MOUNT = "veille-static"
CONFLICT_CHOICES = "select id, name from conflicts where removed_at is null order by name"


def newsroom_zone(datasette: Any) -> Any:
    """The newsroom's time zone, as configured in the metadata."""
    config = datasette.plugin_config(PLUGIN_NAME) or {}
    return cells.time_zone(config.get("time_zone"))


def _base(datasette: Any) -> str:
    return datasette.urls.database(DATABASE_NAME) + "/"


@hookimpl
def render_cell(row: Any, value: Any, column: str, table: str | None, database: str,
                datasette: Any) -> Markup | None:
    return cells.render(row, value, column, table, database, _base(datasette),
                        newsroom_zone(datasette))


@hookimpl
def extra_css_urls(datasette: Any) -> list[str]:
    return [datasette.urls.path(f"/{STATIC_MOUNT}/desk.css")]


@hookimpl
def prepare_jinja2_environment(env: Any, datasette: Any) -> None:
    def local_time(value: Any) -> Markup | str:
        shown = cells.local_time(value, newsroom_zone(datasette))
        return shown if shown is not None else ("" if value is None else str(value))

    env.filters["local_time"] = local_time


@hookimpl
def extra_template_vars(template: str, database: str | None, table: str | None,
                        view_name: str, request: Any, datasette: Any) -> Any:
    async def variables() -> dict[str, Any]:
        if DATABASE_NAME not in datasette.databases:
            return {}
        db = datasette.get_database(DATABASE_NAME)
        extra: dict[str, Any] = {"veille_base": _base(datasette),
                                 "newsroom_zone": str(newsroom_zone(datasette))}
        if view_name == "index":
            extra["desk"] = await desk.front_page(db)
        elif view_name == "row" and database == DATABASE_NAME and table == "articles":
            pks = (request.url_vars or {}).get("pks", "") if request else ""
            if pks.isdigit():
                extra["reading"] = await desk.article_page(db, int(pks))
        elif template.startswith("query") and database == DATABASE_NAME:
            choices = [(r["id"], r["name"]) for r in (await db.execute(CONFLICT_CHOICES)).rows]
            extra["param_choices"] = {"conflict": choices}
        return extra

    return variables
