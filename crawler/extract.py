"""Extract an article's main text and metadata from a news page.

Structured metadata (JSON-LD, OpenGraph, <meta>) wins over heuristics; trafilatura supplies
the main text and, as a last resort, the metadata nothing else provided.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import cached_property
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import extruct
import py3langid
import trafilatura
from cssselect import SelectorError
from dateutil import parser as date_parser
from extruct.jsonld import JsonLdExtractor
from parsel import Selector, SelectorList
from parsel.csstranslator import css2xpath
from trafilatura.settings import Document
from trafilatura.xml import xmltotxt
from w3lib.html import get_base_url

LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

ARTICLE_TYPES = frozenset(
    {
        "NewsArticle",
        "Article",
        "ReportageNewsArticle",
        "AnalysisNewsArticle",
        "OpinionNewsArticle",
        "BackgroundNewsArticle",
        "BlogPosting",
        "LiveBlogPosting",
    }
)
SELECTOR_FIELDS = frozenset(
    {"title", "lead", "body", "authors", "published", "updated", "topic", "section", "image"}
)

# Boilerplate blocks that sit inside article containers, where trafilatura's own
# cleaning does not always reach: share bars, newsletter boxes, "Lire aussi" boxes,
# captions, breadcrumbs, bylines and kickers. Matched as whole class/id tokens, so
# "shareholders" is safe.
BOILERPLATE_TOKENS = (
    "byline",
    "dateline",
    "kicker",
    "surtitre",
    "share",
    "sharing",
    "partage",
    "social",
    "newsletter",
    "related",
    "lire",
    "aussi",
    "readmore",
    "breadcrumb",
    "caption",
    "legende",
    "subscribe",
    "abonnement",
    "promo",
    "outbrain",
    "taboola",
)


def _token_test(attribute: str, tokens: Iterable[str]) -> str:
    """XPath 1.0 test: ``attribute`` contains one of ``tokens`` as a -/_/space-separated word.

    trafilatura compiles ``prune_xpath`` without the EXSLT regex namespace, hence no re:test.
    """
    words = (
        f"concat(' ', translate(@{attribute}, '_-ABCDEFGHIJKLMNOPQRSTUVWXYZ',"
        f" '  abcdefghijklmnopqrstuvwxyz'), ' ')"
    )
    return " or ".join(f"contains({words}, ' {token} ')" for token in tokens)


PRUNE_XPATH = [
    "//figure",
    "//figcaption",
    f"//*[{_token_test('class', BOILERPLATE_TOKENS)} or {_token_test('id', BOILERPLATE_TOKENS)}]",
]
TRAFILATURA_OPTIONS: dict[str, Any] = {
    "favor_precision": True,
    "include_comments": False,
    "include_tables": False,
    "include_images": False,
    "include_links": False,
    "with_metadata": False,
}
# Date search in free text is where htmldate guesses wrong; metadata and markup only.
TRAFILATURA_DATE_PARAMS = {"original_date": True, "extensive_search": False}

# Paragraphs that are links to other articles ("Lire aussi : ...") or leftover widget
# labels, not article text. Labels must match whole: "Partager un repas..." is prose.
_NOT_BODY_RE = re.compile(
    r"^(?:(?:à\s+)?lire\s+(?:aussi|également|egalement)|(?:à\s+)?voir\s+aussi"
    r"|sur\s+le\s+même\s+sujet|(?:read|see)\s+(?:also|more)\s*(?:[:|›»]|$)|related\s*:)"
    r"|^(?:partager(?:\s+sur\s+\w+)?|copier\s+le\s+lien|share(?:\s+this(?:\s+article)?)?"
    r"|copy\s+link)$",
    re.IGNORECASE,
)
_NOT_BODY_MAX_CHARS = 300

_AUTHOR_PREFIX_RE = re.compile(
    r"^(?:(?:written|reported|text|story|words)\s+by|propos\s+recueillis\s+par|by|par)\s*:?\s+",
    re.IGNORECASE,
)
_AUTHOR_SPLIT_RE = re.compile(r"\s*(?:,|;|&|\||\band\b|\bet\b)\s*", re.IGNORECASE)
_URL_RE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|www\.)|^/", re.IGNORECASE)

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

PUBLISHED_META = (
    "datepublished",
    "article:published_time",
    "article.published",
    "date",
    "pubdate",
    "publishdate",
    "publish-date",
    "publish_date",
    "dc.date",
    "dc.date.issued",
    "dcterms.issued",
    "dcterms.created",
    "sailthru.date",
    "parsely-pub-date",
)
UPDATED_META = (
    "datemodified",
    "article:modified_time",
    "article.updated",
    "last-modified",
    "dc.date.modified",
    "dcterms.modified",
)

# dateutil only knows UTC/GMT by name; these abbreviations show up in RFC 822 dates.
_TZ_ABBREVIATIONS = {
    "UT": 0,
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "EST": -5 * 3600,
    "EDT": -4 * 3600,
    "CST": -6 * 3600,
    "CDT": -5 * 3600,
    "MST": -7 * 3600,
    "MDT": -6 * 3600,
    "PST": -8 * 3600,
    "PDT": -7 * 3600,
    "BST": 3600,
    "CET": 3600,
    "CEST": 2 * 3600,
    "EET": 2 * 3600,
    "EEST": 3 * 3600,
}
# A year no news page uses: tells "no year in the text" apart from a parsed one.
_NO_DATE = datetime(1, 1, 1)
_LANGUAGE_RE = re.compile(r"^([a-z]{2})(?:[-_]|$)", re.IGNORECASE)
_MIN_DETECTION_CHARS = 40
# <base href> belongs in <head>; no need to scan a whole long page for it.
BASE_SCAN_CHARS = 16384


class _DateParserInfo(date_parser.parserinfo):
    """dateutil vocabulary extended with French month and day names (for visible dates)."""

    JUMP = [*date_parser.parserinfo.JUMP, "le", "à", "publié", "mis", "jour", "posted", "updated"]
    WEEKDAYS = [
        ("Mon", "Monday", "lundi"),
        ("Tue", "Tuesday", "mardi"),
        ("Wed", "Wednesday", "mercredi"),
        ("Thu", "Thursday", "jeudi"),
        ("Fri", "Friday", "vendredi"),
        ("Sat", "Saturday", "samedi"),
        ("Sun", "Sunday", "dimanche"),
    ]
    MONTHS = [
        ("Jan", "January", "janvier", "janv"),
        ("Feb", "February", "février", "fevrier", "févr", "fevr"),
        ("Mar", "March", "mars"),
        ("Apr", "April", "avril", "avr"),
        ("May", "mai"),
        ("Jun", "June", "juin"),
        ("Jul", "July", "juillet", "juil"),
        ("Aug", "August", "août", "aout"),
        ("Sep", "Sept", "September", "septembre"),
        ("Oct", "October", "octobre"),
        ("Nov", "November", "novembre"),
        ("Dec", "December", "décembre", "decembre", "déc"),
    ]


_PARSER_INFO = _DateParserInfo()


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


def extract_article(
    html: str,
    url: str,
    *,
    selectors: Mapping[str, str] | None = None,
    default_tz: tzinfo | None = None,
) -> ExtractedArticle:
    """Extract the article text and metadata from an HTML page.

    Never raises on a broken page: an empty or garbage document yields an article with
    an empty body and None fields, and the caller decides what to do with it.

    Args:
        html: The decoded page (see ``crawler.charset.decode_html``).
        url: The URL the page was fetched from; relative links resolve against it.
        selectors: Per-source CSS selectors overriding the automatic value of a field
            (one of ``SELECTOR_FIELDS``). A selector that matches nothing is ignored.
        default_tz: Timezone given to dates that carry none (defaults to UTC).

    Returns:
        The extracted article.

    Raises:
        ValueError: A selector names an unknown field or is not valid CSS.
    """
    page = _Page(html or "", url, _checked_selectors(selectors), default_tz or UTC)
    lead = page.lead()
    title = page.title()
    paragraphs = _drop_repeated_header(page.body_paragraphs(), [title, lead, page.chapo()])
    body = "\n\n".join(paragraphs)
    image_url = page.image_url()
    return ExtractedArticle(
        title=title,
        canonical_url=page.canonical_url(),
        amp_url=page.amp_url(),
        is_amp=page.is_amp(),
        published=page.published(),
        updated=page.updated(),
        authors=page.authors(),
        topic=page.topic(),
        section=page.section(),
        lead=lead,
        body=body,
        image_url=image_url,
        image_caption=page.image_caption(image_url),
        language=page.language(body),
        word_count=len(body.split()),
    )


def _checked_selectors(selectors: Mapping[str, str] | None) -> dict[str, str]:
    """Validate selector overrides up front: a typo in a source's config must be loud."""
    checked = dict(selectors or {})
    for field, css in checked.items():
        if field not in SELECTOR_FIELDS:
            raise ValueError(
                f"unknown selector field {field!r}; expected one of {sorted(SELECTOR_FIELDS)}"
            )
        try:
            css2xpath(css)
        except SelectorError as err:
            raise ValueError(f"invalid CSS selector for field {field!r}: {css!r}") from err
    return checked


def _pick(field: str, candidates: Iterable[tuple[str, Callable[[], T | None]]]) -> T | None:
    """Return the first non-empty candidate value, logging which source supplied it."""
    for source, getter in candidates:
        value = getter()
        if value:
            LOGGER.debug("%s from %s", field, source)
            return value
    LOGGER.debug("%s not found", field)
    return None


class _Page:
    """One parsed page and the metadata sources extracted from it, queried per field."""

    def __init__(self, html: str, url: str, selectors: dict[str, str], tz: tzinfo) -> None:
        self.html = html
        self.url = url
        self.selectors = selectors
        self.tz = tz
        self.sel = Selector(text=html)
        self.base_url = get_base_url(html, url, max_scan=BASE_SCAN_CHARS)
        items = self._structured_data()
        self.jsonld, self.jsonld_index = _find_article_node(items.get("json-ld", []))
        self.og = _opengraph_properties(items.get("opengraph", []))
        self.meta = _meta_contents(self.sel)

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
        return _first_text(self._override(field))

    def _ld(self, key: str) -> Any:
        return _deref(self.jsonld.get(key), self.jsonld_index)

    def _og(self, key: str) -> str | None:
        values = self.og.get(key)
        return _clean(values[0]) if values else None

    def _meta(self, *names: str) -> str | None:
        return next((self.meta[name] for name in names if self.meta.get(name)), None)

    def _absolute(self, link: str | None) -> str | None:
        if not link or not link.strip():
            return None
        absolute = urljoin(self.base_url, link.strip())
        return absolute if urlsplit(absolute).scheme in {"http", "https"} else None

    # -- fields --------------------------------------------------------------------

    def title(self) -> str | None:
        return _pick(
            "title",
            [
                ("selector", lambda: self._override_text("title")),
                ("json-ld", lambda: _ld_text(self._ld("headline")) or _ld_text(self._ld("name"))),
                ("opengraph", lambda: self._og("og:title")),
                ("trafilatura", lambda: _clean(self._fallback_attr("title"))),
            ],
        )

    def canonical_url(self) -> str | None:
        return _pick(
            "canonical_url",
            [
                (
                    "link",
                    lambda: self._absolute(self.sel.css("link[rel~=canonical]::attr(href)").get()),
                ),
                ("og:url", lambda: self._absolute(self._og("og:url"))),
                ("json-ld url", lambda: self._absolute(_ld_text(self._ld("url")))),
                (
                    "json-ld mainEntityOfPage",
                    lambda: self._absolute(_ld_id(self._ld("mainEntityOfPage"))),
                ),
            ],
        )

    def amp_url(self) -> str | None:
        return self._absolute(self.sel.css("link[rel~=amphtml]::attr(href)").get())

    def is_amp(self) -> bool:
        root = self.sel.root
        return root.tag == "html" and ("amp" in root.attrib or "⚡" in root.attrib)

    def published(self) -> datetime | None:
        return _pick(
            "published",
            [
                ("selector", lambda: self._override_date("published")),
                ("json-ld", lambda: self._date(_ld_text(self._ld("datePublished")))),
                ("opengraph", lambda: self._date(self._og("article:published_time"))),
                ("meta", lambda: self._date(self._meta(*PUBLISHED_META))),
                ("time element", lambda: self._time_element(updated=False)),
                ("trafilatura", lambda: self._date(self._fallback_attr("date"))),
            ],
        )

    def updated(self) -> datetime | None:
        return _pick(
            "updated",
            [
                ("selector", lambda: self._override_date("updated")),
                ("json-ld", lambda: self._date(_ld_text(self._ld("dateModified")))),
                ("opengraph", lambda: self._date(self._og("article:modified_time"))),
                ("meta", lambda: self._date(self._meta(*UPDATED_META))),
                ("time element", lambda: self._time_element(updated=True)),
            ],
        )

    def authors(self) -> tuple[str, ...]:
        return (
            _pick(
                "authors",
                [
                    # each selector match is one author: no splitting on "and"/commas
                    (
                        "selector",
                        lambda: _normalize_authors(_texts(self._override("authors")), split=False),
                    ),
                    (
                        "json-ld",
                        lambda: _normalize_authors(
                            _ld_names(self.jsonld.get("author"), self.jsonld_index)
                        ),
                    ),
                    ("opengraph", lambda: _normalize_authors(self.og.get("article:author", []))),
                    (
                        "meta",
                        lambda: _normalize_authors([self._meta("author", "dc.creator") or ""]),
                    ),
                    (
                        "byline",
                        lambda: _normalize_authors(
                            _texts(self.sel.css("[rel~=author], [itemprop=author]"))
                        ),
                    ),
                    (
                        "trafilatura",
                        lambda: _normalize_authors(
                            (self._fallback_attr("author") or "").split(";")
                        ),
                    ),
                ],
            )
            or ()
        )

    def topic(self) -> str | None:
        return _pick(
            "topic",
            [
                ("selector", lambda: self._override_text("topic")),
                ("kicker", self._kicker),
                ("json-ld keywords", lambda: _first_keyword(self._ld("keywords"))),
                ("article:tag", lambda: self._og("article:tag")),
            ],
        )

    def section(self) -> str | None:
        return _pick(
            "section",
            [
                ("selector", lambda: self._override_text("section")),
                ("json-ld", lambda: _ld_text(self._ld("articleSection"))),
                ("opengraph", lambda: self._og("article:section")),
            ],
        )

    def lead(self) -> str | None:
        return _pick(
            "lead",
            [
                ("selector", lambda: self._override_text("lead")),
                ("json-ld", lambda: _ld_text(self._ld("description"))),
                ("opengraph", lambda: self._og("og:description")),
                ("meta", lambda: _clean(self._meta("description"))),
                ("chapo element", self.chapo),
            ],
        )

    def chapo(self) -> str | None:
        """The standfirst shown on the page, if the markup names it as such."""
        for node in self.sel.xpath(_CHAPO_XPATH):
            text = _node_text(node)
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
                for text in (_texts(node.css("p")) or [_node_text(node)])
                if text
            ]
        else:
            paragraphs = self._trafilatura_paragraphs()
        return [p for p in paragraphs if not _is_boilerplate_paragraph(p)]

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
        return [text for element in document.body if (text := _clean(xmltotxt(element, False)))]

    def image_url(self) -> str | None:
        return _pick(
            "image_url",
            [
                ("selector", lambda: self._absolute(_image_src(self._override("image")))),
                (
                    "json-ld",
                    lambda: self._absolute(_ld_image(self._ld("image"), self.jsonld_index)[0]),
                ),
                ("opengraph", lambda: self._absolute(self._og("og:image"))),
                ("trafilatura", lambda: self._absolute(self._fallback_attr("image"))),
            ],
        )

    def image_caption(self, image_url: str | None) -> str | None:
        return _pick(
            "image_caption",
            [
                ("json-ld", lambda: _clean(_ld_image(self._ld("image"), self.jsonld_index)[1])),
                ("figcaption", lambda: self._figcaption(image_url)),
            ],
        )

    def language(self, body: str) -> str | None:
        root = self.sel.root
        return _pick(
            "language",
            [
                ("html lang", lambda: _language_code(root.get("lang") or root.get("xml:lang"))),
                ("og:locale", lambda: _language_code(self._og("og:locale"))),
                ("json-ld", lambda: _language_code(_ld_text(self._ld("inLanguage")))),
                ("detection", lambda: _detect_language(body)),
            ],
        )

    # -- field helpers -------------------------------------------------------------

    def _date(self, value: str | None, *, visible: bool = False) -> datetime | None:
        return _parse_date(value, self.tz, visible=visible)

    def _override_date(self, field: str) -> datetime | None:
        node = self._override(field)
        if not node:
            return None
        attrs = node[0].attrib
        machine = attrs.get("datetime") or attrs.get("content")
        if machine:
            return self._date(machine)
        return self._date(_node_text(node[0]), visible=True)

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
            text = _node_text(node)
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
                return _first_text(figure.css("figcaption"))
        return _first_text(figures[0].css("figcaption"))


# -- structured data ---------------------------------------------------------------


def _find_article_node(items: list[Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Return the first JSON-LD article object and an index of all nodes by ``@id``."""
    nodes = list(_iter_jsonld_nodes(items))
    index = {node["@id"]: node for node in nodes if isinstance(node.get("@id"), str)}
    for node in nodes:
        if _jsonld_types(node) & ARTICLE_TYPES:
            return node, index
    return {}, index


def _iter_jsonld_nodes(items: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """Yield JSON-LD objects, descending into ``@graph`` and ``mainEntity``."""
    for item in items:
        if not isinstance(item, dict):
            continue
        yield item
        for key in ("@graph", "mainEntity"):
            nested = item.get(key)
            if isinstance(nested, dict):
                nested = [nested]
            if isinstance(nested, list):
                yield from _iter_jsonld_nodes(nested)


def _jsonld_types(node: dict[str, Any]) -> set[str]:
    types = node.get("@type")
    if isinstance(types, str):
        types = [types]
    if not isinstance(types, list):
        return set()
    # "schema:NewsArticle" and "https://schema.org/NewsArticle" name the same type.
    return {re.split(r"[/:#]", t)[-1] for t in types if isinstance(t, str)}


def _deref(value: Any, index: dict[str, dict[str, Any]]) -> Any:
    """Replace a bare ``{"@id": ...}`` reference by the node it points to in the graph."""
    if isinstance(value, list):
        return [_deref(item, index) for item in value]
    if isinstance(value, dict) and set(value) == {"@id"}:
        return index.get(value["@id"], value)
    return value


def _ld_text(value: Any) -> str | None:
    """First text of a JSON-LD value: a string, a ``@value``/name object, or a list."""
    if isinstance(value, list):
        return next((text for item in value if (text := _ld_text(item))), None)
    if isinstance(value, dict):
        return _ld_text(value.get("@value") or value.get("name"))
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return _clean(str(value))
    return None


def _ld_id(value: Any) -> str | None:
    """URL of a ``mainEntityOfPage``-like value: a string or a WebPage object."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        return _ld_text(value.get("@id") or value.get("url"))
    return _ld_text(value)


def _ld_names(value: Any, index: dict[str, dict[str, Any]]) -> list[str]:
    """Names in a JSON-LD author value: a string, a Person/Organization, or a list."""
    value = _deref(value, index)
    if isinstance(value, list):
        return [name for item in value for name in _ld_names(item, index)]
    if isinstance(value, dict):
        name = value.get("name")
        return [name] if isinstance(name, str) else _ld_names(name, index) if name else []
    return [value] if isinstance(value, str) else []


def _ld_image(value: Any, index: dict[str, dict[str, Any]]) -> tuple[str | None, str | None]:
    """URL and caption of the first JSON-LD image (a URL, an ImageObject, or a list)."""
    value = _deref(value, index)
    if isinstance(value, list):
        value = _deref(value[0], index) if value else None
    if isinstance(value, dict):
        url = _ld_text(value.get("url") or value.get("contentUrl"))
        return url, _ld_text(value.get("caption"))
    return _ld_text(value), None


def _first_keyword(value: Any) -> str | None:
    """First keyword; JSON-LD ``keywords`` is a list or one comma-separated string."""
    text = _ld_text(value)
    return _clean(text.split(",")[0]) if text else None


def _opengraph_properties(items: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Flatten extruct's OpenGraph output to property -> values, in page order."""
    properties: dict[str, list[str]] = {}
    for item in items:
        for prop, value in item.get("properties", []):
            if isinstance(value, str) and value.strip():
                properties.setdefault(prop, []).append(value)
    return properties


def _meta_contents(sel: Selector) -> dict[str, str]:
    """First content of each ``<meta name|itemprop=...>``, keyed by the lowercased name."""
    contents: dict[str, str] = {}
    for meta in sel.xpath("//meta[@content][@name or @itemprop or @property]"):
        key = meta.attrib.get("name") or meta.attrib.get("itemprop") or meta.attrib.get("property")
        content = meta.attrib["content"].strip()
        if key and content:
            contents.setdefault(key.strip().lower(), content)
    return contents


# -- text helpers ------------------------------------------------------------------


def _clean(text: Any) -> str | None:
    """Collapse whitespace; None for empty or non-text values."""
    if not isinstance(text, str):
        return None
    return " ".join(text.split()) or None


def _node_text(node: Selector) -> str | None:
    return _clean(
        " ".join(node.xpath(".//text()[not(ancestor::script or ancestor::style)]").getall())
    )


def _texts(nodes: SelectorList[Selector]) -> list[str]:
    return [text for node in nodes if (text := _node_text(node))]


def _first_text(nodes: SelectorList[Selector]) -> str | None:
    return next(iter(_texts(nodes)), None)


def _image_src(nodes: SelectorList[Selector]) -> str | None:
    """Image URL of the first match: its own src/content, else a descendant ``<img>``."""
    for node in nodes:
        for candidate in (node, *node.css("img")):
            attrs = candidate.attrib
            src = (
                attrs.get("src")
                or attrs.get("data-src")
                or attrs.get("content")
                or attrs.get("href")
            )
            if src:
                return src
    return None


def _normalize_authors(raw: Iterable[str], *, split: bool = True) -> tuple[str, ...]:
    """Clean author strings: strip "By"/"Par", split lists, drop URLs, dedupe in order."""
    authors: dict[str, str] = {}
    for value in raw:
        text = _clean(value)
        if not text:
            continue
        text = _AUTHOR_PREFIX_RE.sub("", text)
        for name in _AUTHOR_SPLIT_RE.split(text) if split else [text]:
            name = name.strip(" .:-–—")
            if name and not _URL_RE.search(name):
                authors.setdefault(name.casefold(), name)
    return tuple(authors.values())


def _is_boilerplate_paragraph(paragraph: str) -> bool:
    return len(paragraph) <= _NOT_BODY_MAX_CHARS and bool(_NOT_BODY_RE.match(paragraph))


def _comparable(text: str) -> str:
    """Casefolded words only, so quotes, dashes and spacing don't hide a repetition."""
    return " ".join(re.findall(r"\w+", text.casefold()))


def _drop_repeated_header(paragraphs: list[str], headers: Iterable[str | None]) -> list[str]:
    """Drop leading paragraphs that repeat the title or the lead (the "repeated lede").

    trafilatura keeps the headline and standfirst when they sit inside the content
    container. A truncated meta description ("Le ministre a…") is a prefix of the
    first paragraph but not a repetition of it, so only near-identical texts count.
    """
    keys = [key for text in headers if text and (key := _comparable(text))]
    start = 0
    while start < len(paragraphs) and any(
        _same_text(_comparable(paragraphs[start]), key) for key in keys
    ):
        LOGGER.debug("dropping repeated title/lead from body: %.40r", paragraphs[start])
        start += 1
    return paragraphs[start:]


def _same_text(paragraph: str, header: str) -> bool:
    return paragraph == header or _near_prefix(paragraph, header)


def _near_prefix(first: str, lead: str) -> bool:
    shorter, longer = sorted((first, lead), key=len)
    return longer.startswith(shorter) and len(shorter) >= 0.9 * len(longer)


def _parse_date(value: str | None, tz: tzinfo, *, visible: bool = False) -> datetime | None:
    """Parse an ISO 8601 / RFC 822 date (or, if ``visible``, a date as printed on the page).

    Naive results get ``tz``. Visible dates are parsed fuzzily and day-first
    ("12/03/2025" is 12 March, as on most non-US sites); a value without a year is
    rejected rather than completed with the current one.
    """
    if not value or not value.strip():
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", date_parser.UnknownTimezoneWarning)
        try:
            parsed = date_parser.parse(
                value.strip(),
                parserinfo=_PARSER_INFO,
                default=_NO_DATE,
                tzinfos=_TZ_ABBREVIATIONS,
                fuzzy=visible,
                dayfirst=visible,
            )
        except (ValueError, OverflowError, TypeError):
            LOGGER.debug("unparsable date %r", value)
            return None
    if parsed.year == _NO_DATE.year:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)


def _language_code(value: str | None) -> str | None:
    match = _LANGUAGE_RE.match(value.strip()) if value else None
    return match.group(1).lower() if match else None


def _detect_language(text: str) -> str | None:
    if len(text) < _MIN_DETECTION_CHARS:
        return None
    language, _score = py3langid.classify(text[:5000])
    return _language_code(language)
