"""Where `veille serve` finds its metadata, templates and stylesheet, and the database's name."""

from __future__ import annotations

from crawler.config.model import SHIPPED_DATA

DATASETTE_DIR = SHIPPED_DATA / "datasette"
METADATA_FILE = DATASETTE_DIR / "metadata.yaml"
TEMPLATES_DIR = DATASETTE_DIR / "templates"
STATIC_DIR = DATASETTE_DIR / "static"
# The name (and URL path) of the database whatever the file is called, so that the
# metadata, the canned query URLs and the feed URLs are the same on every install.
DATABASE_NAME = "veille"
