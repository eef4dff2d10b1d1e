"""The extracted article and the one call that produces it from a page.

Structured metadata (JSON-LD, OpenGraph, <meta>) wins over heuristics; trafilatura supplies
the main text and, as a last resort, the metadata nothing else provided.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import TypeVar

from crawler.config.selectors import Selectors
from crawler.page.extract.body import drop_repeated_header
from crawler.page.extract.page import Page

LOGGER = logging.getLogger(__name__)

T = TypeVar("T")


# Boilerplate blocks that sit inside article containers, where trafilatura's own


@dataclass(frozen=True)
class ExtractedArticle:
    """What could be extracted from an article page; missing values are None or empty."""

    title: str | None
    canonical_url: str | None
    amp_url: str | None
    is_amp: bool
    published: datetime | None
    updated: datetime | None
    authors: tuple[str, ...]
    topic: str | None
    section: str | None
    lead: str | None
    body: str
    image_url: str | None
    image_caption: str | None
    language: str | None
    word_count: int
    # Defects worth telling the desk about, one line each ("no article text", "broken
    # JSON-LD: ...", "published time in the future: ..."): recorded as fetch_errors warnings.
    warnings: tuple[str, ...] = ()
    # Where each field found was read, by field name: "json-ld", "opengraph", "meta
    # article:published_time", "selector", "trafilatura (fast mode)", "htmldate"... (the
    # readers' names in `crawler.page.extract.page`). Not part of equality: two
    # extractions of the same values are the same article, wherever they were read.
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)


def extract_article(
    html: str,
    url: str,
    *,
    selectors: Mapping[str, str] | None = None,
    default_tz: tzinfo | None = None,
    now: datetime | None = None,
    default_language: str | None = None,
) -> ExtractedArticle:
    """Extract the article text and metadata from an HTML page.

    Never raises on a broken page: an empty or garbage document yields an article with
    an empty body and None fields, and the caller decides what to do with it.

    Args:
        html: The decoded page (see ``crawler.page.charset.decode_html``).
        url: The URL the page was fetched from; relative links resolve against it.
        selectors: Per-source CSS selectors overriding the automatic value of a field
            (one of ``SELECTOR_FIELDS``). A selector that matches nothing is ignored.
        default_tz: Timezone given to dates that carry none (defaults to UTC).
        now: The time of the fetch (defaults to the clock): a published time more than
            an hour after it is refused, with a warning.
        default_language: The source's language (its config), for a page whose own
            cannot be told: only the body's extraction uses it (see
            ``crawler.page.extract.body.main_text``); the article's ``language`` stays None.

    Returns:
        The extracted article.

    Raises:
        ValueError: A selector names an unknown field or is not valid CSS.
    """
    page = Page(html or "", url, Selectors.of(selectors), default_tz or UTC,
                default_language)
    title = page.title()
    image_url = page.image_url()
    # Every metadata reader runs before the body: reading the body prunes the tree.
    fields = {
        "title": title,
        "canonical_url": page.canonical_url(),
        "amp_url": page.amp_url(),
        "is_amp": page.is_amp(),
        "published": page.published(now),
        "updated": page.updated(),
        "authors": page.authors(),
        "topic": page.topic(),
        "section": page.section(),
        "lead": page.lead(),
        "image_url": image_url,
        "image_caption": page.image_caption(image_url),
    }
    headers = [title, page.chapo()]
    body = "\n\n".join(drop_repeated_header(page.body_paragraphs(), headers))
    return ExtractedArticle(
        **fields,
        body=body,
        language=page.language(body),
        word_count=len(body.split()),
        warnings=tuple(page.warnings),
        origins=dict(page.origins),
    )
