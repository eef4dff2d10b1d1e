"""Browse the record in Datasette 0.65: the shipped metadata, templates and plugin, read-only.

`app` builds and serves the Datasette instance; `plugin` holds Veille's hooks (the desk's
front page, the article page, readable cells); `desk` reads what those pages show;
`feeds` is the Atom twin of every search and filter.
"""

from crawler.serve.app import (
    SETTINGS,
    ReadOnlyDatabase,
    ServeSetting,
    VeilleDatasette,
    build_datasette,
    default_settings,
    load_metadata,
    parse_settings,
    serve,
)
from crawler.serve.paths import DATABASE_NAME, METADATA_FILE

__all__ = [
    "DATABASE_NAME",
    "METADATA_FILE",
    "SETTINGS",
    "ReadOnlyDatabase",
    "ServeSetting",
    "VeilleDatasette",
    "build_datasette",
    "default_settings",
    "load_metadata",
    "parse_settings",
    "serve",
]
