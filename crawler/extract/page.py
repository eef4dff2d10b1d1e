"""One parsed page and the readers of each field, each trying its sources in order."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, tzinfo
from functools import cached_property
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import extruct
import trafilatura
from extruct.jsonld import JsonLdExtractor
from parsel import Selector, SelectorList
from trafilatura.settings import Document
from trafilatura.xml import xmltotxt
from w3lib.html import get_base_url

from crawler.extract.authors import normalize_authors
from crawler.extract.body import (
    PRUNE_XPATH,
    TRAFILATURA_DATE_PARAMS,
    TRAFILATURA_OPTIONS,
    is_boilerplate_paragraph,
)
from crawler.extract.dates import PUBLISHED_META, UPDATED_META, parse_date
from crawler.extract.language import detect_language, language_code
from crawler.extract.structured import (
    deref,
    find_article_node,
    first_keyword,
    ld_id,
    ld_image,
    ld_names,
    ld_text,
    meta_contents,
    opengraph_properties,
)
from crawler.extract.text import clean, first_text, image_src, node_text, texts

LOGGER = logging.getLogger(__name__)

# Kicker ("surtitre") and standfirst ("chapô") elements, matched on class tokens.
_KICKER_XPATH = (
    "//body//*[not(ancestor-or-self::nav or ancestor-or-self::footer)]"
    "[re:test(@class, '(^|[\\s_-])(kicker|surtitre|sur-titre|overline|eyebrow)([\\s_-]|$)', 'i')"
    " or re:test(@class, '(^|\\s)[\\w-]*(article|story)(__|-)label([\\s_-]|$)', 'i')]"
)
_KICKER_MAX_WORDS = 6
_CHAPO_XPATH = (
    "//body//*[self::p or self::div or self::h2 or self::section or self::span]"
    "[not(ancestor-or-self::nav or ancestor-or-self::footer)]"
    "[re:test(@class, '(^|[\\s_-])(chapo|chapeau|standfirst|lead|lede|dek|intro)([\\s_-]|$)', 'i')]"
)
_CHAPO_MIN_CHARS = 40

_BYLINE_XPATH = "re:test(@class, 'byline|signature|meta|author|date|publi|dateline', 'i')"
_UPDATED_TIME = "(@itemprop='dateModified' or re:test(@class, 'updat|modif|(^|[_-])maj', 'i'))"

# <base href> belongs in <head>; no need to scan a whole long page for it.
BASE_SCAN_CHARS = 16384


T = TypeVar("T")

def pick(field: str, candidates: Iterable[tuple[str, Callable[[], T | None]]]) -> T | None:
    """Return the first non-empty candidate value, logging which source supplied it."""
    for source, getter in candidates:
        value = getter()
        if value:
            LOGGER.debug("%s from %s", field, source)
            return value
    LOGGER.debug("%s not found", field)
    return None


class Page:
    """One parsed page and the metadata sources extracted from it, queried per field."""

    def __init__(self, html: str, url: str, selectors: dict[str, str], tz: tzinfo) -> None:
        self.html = html
        self.url = url
        self.selectors = selectors
        self.tz = tz
        self.sel = Selector(text=html)
        self.base_url = get_base_url(html, url, max_scan=BASE_SCAN_CHARS)
        items = self._structured_data()
        self.jsonld, self.jsonld_index = find_article_node(items.get("json-ld", []))
        self.og = opengraph_properties(items.get("opengraph", []))
        self.meta = meta_contents(self.sel)

    # -- sources -------------------------------------------------------------------

    def _structured_data(self) -> dict[str, list[Any]]:
        """Run extruct on the parsed tree; salvage JSON-LD block by block if one is broken."""
        try:
            items = extruct.extract(
                self.sel.root, base_url=self.url, syntaxes=["json-ld", "opengraph"], errors="log"
            )
        except Exception:  # extruct on hostile markup must not stop the extraction
            LOGGER.warning("structured data extraction failed for %s", self.url, exc_info=True)
            items = {}
        if "json-ld" not in items:
            # extruct drops every block when one fails to parse; keep the good ones.
            LOGGER.debug("broken JSON-LD on %s: reading blocks one by one", self.url)
            items["json-ld"] = list(self._salvage_jsonld())
        return items

    def _salvage_jsonld(self) -> Iterator[Any]:
        extractor = JsonLdExtractor()
        for script in self.sel.root.xpath('//script[@type="application/ld+json"]'):
            try:
                yield from extractor.extract_items(script)
            except ValueError:
                LOGGER.debug("skipping unparsable JSON-LD block on %s", self.url)

    @cached_property
    def fallback(self) -> Document | None:
        """trafilatura's own metadata, computed only if a field needs it."""
        LOGGER.debug("using trafilatura metadata for %s", self.url)
        try:
            return trafilatura.extract_metadata(
                self.html, default_url=self.url, date_config=dict(TRAFILATURA_DATE_PARAMS)
            )
        except Exception:  # last resort only: a failure here just means "nothing found"
            LOGGER.debug("trafilatura metadata failed for %s", self.url, exc_info=True)
            return None

    def _fallback_attr(self, name: str) -> Any:
        return getattr(self.fallback, name, None) if self.fallback else None

    def _override(self, field: str) -> SelectorList[Selector]:
        css = self.selectors.get(field)
        return self.sel.css(css) if css else SelectorList([])

    def _override_text(self, field: str) -> str | None:
        return first_text(self._override(field))

    def _ld(self, key: str) -> Any:
        return deref(self.jsonld.get(key), self.jsonld_index)

    def _og(self, key: str) -> str | None:
        values = self.og.get(key)
        return clean(values[0]) if values else None

    def _meta(self, *names: str) -> str | None:
        return next((self.meta[name] for name in names if self.meta.get(name)), None)

    def _absolute(self, link: str | None) -> str | None:
        if not link or not link.strip():
            return None
        absolute = urljoin(self.base_url, link.strip())
        return absolute if urlsplit(absolute).scheme in {"http", "https"} else None

    # -- fields --------------------------------------------------------------------

    def title(self) -> str | None:
        return pick(
            "title",
            [
                ("selector", lambda: self._override_text("title")),
                ("json-ld", lambda: ld_text(self._ld("headline")) or ld_text(self._ld("name"))),
                ("opengraph", lambda: self._og("og:title")),
                ("trafilatura", lambda: clean(self._fallback_attr("title"))),
            ],
        )

    def canonical_url(self) -> str | None:
        return pick(
            "canonical_url",
            [
                (
                    "link",
                    lambda: self._absolute(self.sel.css("link[rel~=canonical]::attr(href)").get()),
                ),
                ("og:url", lambda: self._absolute(self._og("og:url"))),
                ("json-ld url", lambda: self._absolute(ld_text(self._ld("url")))),
                (
                    "json-ld mainEntityOfPage",
                    lambda: self._absolute(ld_id(self._ld("mainEntityOfPage"))),
                ),
            ],
        )

    def amp_url(self) -> str | None:
        return self._absolute(self.sel.css("link[rel~=amphtml]::attr(href)").get())

    def is_amp(self) -> bool:
        root = self.sel.root
        return root.tag == "html" and ("amp" in root.attrib or "⚡" in root.attrib)

    def published(self) -> datetime | None:
        return pick(
            "published",
            [
                ("selector", lambda: self._override_date("published")),
                ("json-ld", lambda: self._date(ld_text(self._ld("datePublished")))),
                ("opengraph", lambda: self._date(self._og("article:published_time"))),
                ("meta", lambda: self._date(self._meta(*PUBLISHED_META))),
                ("time element", lambda: self._time_element(updated=False)),
                ("trafilatura", lambda: self._date(self._fallback_attr("date"))),
            ],
        )

    def updated(self) -> datetime | None:
        return pick(
            "updated",
            [
                ("selector", lambda: self._override_date("updated")),
                ("json-ld", lambda: self._date(ld_text(self._ld("dateModified")))),
                ("opengraph", lambda: self._date(self._og("article:modified_time"))),
                ("meta", lambda: self._date(self._meta(*UPDATED_META))),
                ("time element", lambda: self._time_element(updated=True)),
            ],
        )

    def authors(self) -> tuple[str, ...]:
        return (
            pick(
                "authors",
                [
                    # each selector match is one author: no splitting on "and"/commas
                    (
                        "selector",
                        lambda: normalize_authors(texts(self._override("authors")), split=False),
                    ),
                    (
                        "json-ld",
                        lambda: normalize_authors(
                            ld_names(self.jsonld.get("author"), self.jsonld_index)
                        ),
                    ),
                    ("opengraph", lambda: normalize_authors(self.og.get("article:author", []))),
                    (
                        "meta",
                        lambda: normalize_authors([self._meta("author", "dc.creator") or ""]),
                    ),
                    (
                        "byline",
                        lambda: normalize_authors(
                            texts(self.sel.css("[rel~=author], [itemprop=author]"))
                        ),
                    ),
                    (
                        "trafilatura",
                        lambda: normalize_authors(
                            (self._fallback_attr("author") or "").split(";")
                        ),
                    ),
                ],
            )
            or ()
        )

    def topic(self) -> str | None:
        return pick(
            "topic",
            [
                ("selector", lambda: self._override_text("topic")),
                ("kicker", self._kicker),
                ("json-ld keywords", lambda: first_keyword(self._ld("keywords"))),
                ("article:tag", lambda: self._og("article:tag")),
            ],
        )

    def section(self) -> str | None:
        return pick(
            "section",
            [
                ("selector", lambda: self._override_text("section")),
                ("json-ld", lambda: ld_text(self._ld("articleSection"))),
                ("opengraph", lambda: self._og("article:section")),
            ],
        )

    def lead(self) -> str | None:
        return pick(
            "lead",
            [
                ("selector", lambda: self._override_text("lead")),
                ("json-ld", lambda: ld_text(self._ld("description"))),
                ("opengraph", lambda: self._og("og:description")),
                ("meta", lambda: clean(self._meta("description"))),
                ("chapo element", self.chapo),
            ],
        )

    def chapo(self) -> str | None:
        """The standfirst shown on the page, if the markup names it as such."""
        for node in self.sel.xpath(_CHAPO_XPATH):
            text = node_text(node)
            if text and len(text) >= _CHAPO_MIN_CHARS:
                return text
        return None

    def body_paragraphs(self) -> list[str]:
        override = self._override("body")
        if override:
            LOGGER.debug("body from selector")
            paragraphs = [
                text
                for node in override
                for text in (texts(node.css("p")) or [node_text(node)])
                if text
            ]
        else:
            paragraphs = self._trafilatura_paragraphs()
        return [p for p in paragraphs if not is_boilerplate_paragraph(p)]

    def _trafilatura_paragraphs(self) -> list[str]:
        try:
            document = trafilatura.bare_extraction(
                self.html, url=self.url, prune_xpath=PRUNE_XPATH, **TRAFILATURA_OPTIONS
            )
        except Exception:  # hostile markup must not stop the crawl
            LOGGER.warning("trafilatura failed on %s", self.url, exc_info=True)
            return []
        if not isinstance(document, Document) or document.body is None:
            LOGGER.debug("trafilatura found no main text in %s", self.url)
            return []
        return [text for element in document.body if (text := clean(xmltotxt(element, False)))]

    def image_url(self) -> str | None:
        return pick(
            "image_url",
            [
                ("selector", lambda: self._absolute(image_src(self._override("image")))),
                (
                    "json-ld",
                    lambda: self._absolute(ld_image(self._ld("image"), self.jsonld_index)[0]),
                ),
                ("opengraph", lambda: self._absolute(self._og("og:image"))),
                ("trafilatura", lambda: self._absolute(self._fallback_attr("image"))),
            ],
        )

    def image_caption(self, image_url: str | None) -> str | None:
        return pick(
            "image_caption",
            [
                ("json-ld", lambda: clean(ld_image(self._ld("image"), self.jsonld_index)[1])),
                ("figcaption", lambda: self._figcaption(image_url)),
            ],
        )

    def language(self, body: str) -> str | None:
        root = self.sel.root
        return pick(
            "language",
            [
                ("html lang", lambda: language_code(root.get("lang") or root.get("xml:lang"))),
                ("og:locale", lambda: language_code(self._og("og:locale"))),
                ("json-ld", lambda: language_code(ld_text(self._ld("inLanguage")))),
                ("detection", lambda: detect_language(body)),
            ],
        )

    # -- field helpers -------------------------------------------------------------

    def _date(self, value: str | None, *, visible: bool = False) -> datetime | None:
        return parse_date(value, self.tz, visible=visible)

    def _override_date(self, field: str) -> datetime | None:
        node = self._override(field)
        if not node:
            return None
        attrs = node[0].attrib
        machine = attrs.get("datetime") or attrs.get("content")
        if machine:
            return self._date(machine)
        return self._date(node_text(node[0]), visible=True)

    def _time_element(self, *, updated: bool) -> datetime | None:
        """A ``<time datetime>`` in the byline, else anywhere in the article."""
        condition = _UPDATED_TIME if updated else f"not{_UPDATED_TIME}"
        queries = [f"//*[{_BYLINE_XPATH}]//time[@datetime][{condition}]"]
        if updated:
            queries.insert(0, "//time[@datetime][@itemprop='dateModified']")
        else:
            queries.insert(0, "//time[@datetime][@itemprop='datePublished' or @pubdate]")
            queries.append(f"(//article//time[@datetime] | //main//time[@datetime])[{condition}]")
        for query in queries:
            for value in self.sel.xpath(f"{query}/@datetime").getall():
                if parsed := self._date(value):
                    return parsed
        return None

    def _kicker(self) -> str | None:
        for node in self.sel.xpath(_KICKER_XPATH):
            text = node_text(node)
            # A kicker is a label; anything longer is a teaser or a headline.
            if text and len(text.split()) <= _KICKER_MAX_WORDS:
                return text
        return None

    def _figcaption(self, image_url: str | None) -> str | None:
        """Caption of the figure showing the lead image, else of the article's first figure."""
        figures = self.sel.xpath("//article//figure[figcaption] | //main//figure[figcaption]")
        if not figures:
            return None
        name = urlsplit(image_url).path.rsplit("/", 1)[-1] if image_url else ""
        for figure in figures:
            sources = " ".join(
                figure.xpath(".//img/@src | .//img/@srcset | .//source/@srcset").getall()
            )
            if name and name in sources:
                return first_text(figure.css("figcaption"))
        return first_text(figures[0].css("figcaption"))
