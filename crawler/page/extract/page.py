"""One parsed page and the readers of each field, each trying its sources in order."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, tzinfo
from functools import cached_property
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import htmldate
from lxml.html import HtmlElement
from parsel import Selector, SelectorList
from w3lib.html import get_base_url

from crawler.page.extract.authors import AUTHOR_META, normalize_authors
from crawler.page.extract.body import (
    drop_repeated_standfirst,
    is_boilerplate_paragraph,
    main_text,
    prune_page,
)
from crawler.page.extract.dates import (
    PUBLISHED_META,
    UPDATED_META,
    in_the_future,
    most_precise,
    parse_date,
    url_date,
)
from crawler.page.extract.language import detect_language, language_code
from crawler.page.extract.structured import (
    deref,
    find_article_node,
    first_keyword,
    ld_id,
    ld_image,
    ld_names,
    ld_text,
    meta_contents,
    opengraph_items,
    opengraph_properties,
)
from crawler.page.extract.text import clean, clean_text, first_text, image_src, node_text, texts
from crawler.page.extract.titles import editorial_title, read_clues, title_agrees
from crawler.page.extract.tree import parse_page

LOGGER = logging.getLogger(__name__)

# Kicker ("surtitre") and standfirst ("chapô") elements, matched on class tokens.
# (Cheap tests first: the ancestor test runs only on the few elements whose class matches.)
# Matched in Python over the page's classed elements, collected once (`Page._classed`):
# a regex test of every element's class in XPath cost more than trafilatura's parse.
_KICKER_CLASS_RE = re.compile(
    r"(^|[\s_-])(kicker|surtitre|sur-titre|overline|eyebrow)([\s_-]|$)"
    r"|(^|\s)[\w-]*(article|story)(__|-)label([\s_-]|$)", re.IGNORECASE
)
_KICKER_MAX_WORDS = 6
_CHAPO_CLASS_RE = re.compile(
    r"(^|[\s_-])(chapo|chapeau|standfirst|lead|lede|dek|intro)([\s_-]|$)", re.IGNORECASE
)
_CHAPO_TAGS = frozenset({"p", "div", "h2", "section", "span"})
_CHAPO_MIN_CHARS = 40

_BYLINE_XPATH = "re:test(@class, 'byline|signature|meta|author|date|publi|dateline', 'i')"
_UPDATED_TIME = "(@itemprop='dateModified' or re:test(@class, 'updat|modif|(^|[_-])maj', 'i'))"

# Elements naming the author, where no metadata does ("By Jane Doe" under the headline).
_BYLINE_NAME_CLASS_RE = re.compile(
    r"(^|[\s_-])(byline|author|auteur|signature)([\s_-]|$)", re.IGNORECASE
)
_BYLINE_NAME_MAX_CHARS = 120
_NOT_BYLINE_TAGS = frozenset({"html", "body", "article", "main"})
# <base href> belongs in <head>; no need to scan a whole long page for it.
BASE_SCAN_CHARS = 16384


T = TypeVar("T")
# `//<![CDATA[ ... //]]>` and `<!-- ... -->` around a block: JavaScript habits, not JSON.
_JSONLD_WRAPPER_RE = re.compile(r"^\s*(?://\s*)?(?:<!\[CDATA\[|<!--)|(?://\s*)?(?:\]\]>|-->)\s*$")


def _jsonld_text(script: HtmlElement) -> str:
    """A JSON-LD block's text, without the CDATA or comment wrapper some CMSs add."""
    return _JSONLD_WRAPPER_RE.sub("", script.text_content()).strip()


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())[:200] or type(err).__name__


def _once(method: Callable[[Page], T]) -> Callable[[Page], T]:
    """A reader computed once per page, kept on the page (functools.cache would keep every
    page, tree included, alive for the life of the process)."""
    name = method.__name__

    def read(page: Page) -> T:
        if name not in page.memo:
            page.memo[name] = method(page)
        return page.memo[name]

    read.__doc__ = method.__doc__
    return read


def pick(field: str, candidates: Iterable[tuple[str, Callable[[], T | None]]],
         origins: dict[str, str] | None = None) -> T | None:
    """Return the first non-empty candidate value, logging which source supplied it (and
    noting it in `origins`, by field, when given)."""
    for source, getter in candidates:
        value = getter()
        if value:
            LOGGER.debug("%s from %s", field, source)
            if origins is not None:
                origins[field] = source
            return value
    LOGGER.debug("%s not found", field)
    return None


class Page:
    """One parsed page and the metadata sources extracted from it, queried per field."""

    def __init__(self, html: str, url: str, selectors: Mapping[str, str], tz: tzinfo,
                 default_language: str | None = None) -> None:
        self.url = url
        self.default_language = default_language
        self.selectors = selectors
        self.tz = tz
        # Defects to report (one line each): broken JSON-LD, dates refused...
        self.warnings: list[str] = []
        self.memo: dict[str, Any] = {}  # what `_once` readers found
        # Where each field found was read (field -> "json-ld", "opengraph", "selector"...).
        self.origins: dict[str, str] = {}
        # Parsed once, the way trafilatura parses (repairs, no comments): every reader,
        # trafilatura included, works from this tree.
        self.root = parse_page(html, self.warnings)
        self.sel = Selector(root=self.root)
        self.base_url = get_base_url(html, url, max_scan=BASE_SCAN_CHARS)
        self.jsonld, self.jsonld_index = find_article_node(self._jsonld_items())
        self.og = opengraph_properties(self._opengraph_items())
        self.meta = meta_contents(self.sel)

    # -- sources -------------------------------------------------------------------

    def _jsonld_items(self) -> list[Any]:
        """JSON-LD objects block by block: one broken block costs only itself, and says so."""
        items: list[Any] = []
        blocks = (
            script for script in self.root.iterfind(".//script[@type]")
            if script.get("type", "").strip().lower() == "application/ld+json"
        )
        for number, script in enumerate(blocks, 1):
            text = _jsonld_text(script)
            if not text:
                continue
            try:
                data = json.loads(text, strict=False)
            except ValueError as err:
                self.warnings.append(f"broken JSON-LD (block {number}): {_one_line(err)}")
                continue
            except RecursionError:
                self.warnings.append(f"broken JSON-LD (block {number}): nested too deeply")
                continue
            items.extend(data if isinstance(data, list) else [data])
        return items

    def _opengraph_items(self) -> list[dict[str, Any]]:
        try:
            return list(opengraph_items(self.root))
        except (ValueError, AttributeError, TypeError) as err:  # a malformed <head>
            self.warnings.append(f"unreadable OpenGraph metadata: {_one_line(err)}")
            return []

    # Last resorts, each cheap: trafilatura's whole metadata pass cost more than its body
    # extraction, for fields that a <title>, a byline or htmldate give as well.

    def _page_title(self) -> str | None:
        return clean(self.root.findtext(".//title")) or first_text(self.sel.xpath("//h1"))

    def _htmldate(self) -> str | None:
        """htmldate on the markup only (no guess from free text); it copies the tree."""
        try:
            return htmldate.find_date(
                self.root, url=self.url, original_date=True, extensive_search=False,
                outputformat="%Y-%m-%dT%H:%M:%S",
            )
        except Exception:  # last resort only: a failure here just means "nothing found"
            LOGGER.debug("htmldate failed for %s", self.url, exc_info=True)
            return None

    def _byline_text(self) -> list[str]:
        found = []
        for node in self._classed(_BYLINE_NAME_CLASS_RE, in_nav=True):
            if node.root.tag in _NOT_BYLINE_TAGS:
                continue
            text = node_text(node)
            if text and len(text) < _BYLINE_NAME_MAX_CHARS:
                found.append(text)
                if len(found) == 3:
                    break
        return found

    @cached_property
    def _classed_elements(self) -> list[tuple[HtmlElement, str]]:
        body = self.root.find("body")
        scope = self.root if body is None else body
        return [
            (element, cls) for element in scope.iter()
            if isinstance(element.tag, str) and (cls := element.get("class"))
        ]

    def _classed(
        self, pattern: re.Pattern[str], *, tags: frozenset[str] | None = None,
        in_nav: bool = False,
    ) -> Iterator[Selector]:
        """Elements of the body whose class matches, in page order; outside nav and
        footer unless `in_nav`."""
        # A page repeats a few hundred class names over thousands of elements: each
        # distinct name is tested once.
        verdicts: dict[str, bool] = {}
        for element, cls in self._classed_elements:
            if tags is not None and element.tag not in tags:
                continue
            hit = verdicts.get(cls)
            if hit is None:
                hit = verdicts[cls] = pattern.search(cls) is not None
            if not hit:
                continue
            if not in_nav and any(
                node.tag in ("nav", "footer") for node in (element, *element.iterancestors())
            ):
                continue
            yield Selector(root=element)

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

    def _pick(self, field: str,
              candidates: Iterable[tuple[str, Callable[[], T | None]]]) -> T | None:
        return pick(field, candidates, self.origins)

    # -- fields --------------------------------------------------------------------

    def title(self) -> str | None:
        """The headline, without the site's name around it (see `crawler.page.extract.titles`)."""
        og_title, ld_title = self._og("og:title"), ld_text(self._ld("headline"))
        clues = read_clues(
            self.sel,
            declared=[
                self._og("og:site_name"), *ld_names(self._ld("publisher"), self.jsonld_index)
            ],
            headlines=[og_title, ld_title],
            application_name=self._meta("application-name"),
            authors=self.authors(),
            url=self.url,
        )
        return self._pick(
            "title",
            [
                ("selector", lambda: clean_text(self._override_text("title"))),
                (
                    "json-ld",
                    lambda: title_agrees(
                        editorial_title(ld_title or ld_text(self._ld("name")), clues), clues
                    ),
                ),
                ("opengraph", lambda: editorial_title(og_title, clues)),
                ("<title>", lambda: editorial_title(self._page_title(), clues)),
            ],
        )

    def canonical_url(self) -> str | None:
        return self._pick(
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

    def published(self, now: datetime | None = None) -> datetime | None:
        """The most precise published time the page gives (see `dates.most_precise`).

        A time more than an hour after ``now`` (default: the clock) is refused with a
        warning: the article is then dated by when Veille first saw it.
        """
        published = most_precise(
            [
                ("selector", lambda: self._override_date("published")),
                ("json-ld", lambda: self._date(ld_text(self._ld("datePublished")))),
                ("opengraph", lambda: self._date(self._og("article:published_time"))),
                *(
                    (f"meta {name}", lambda name=name: self._date(self.meta.get(name)))
                    for name in PUBLISHED_META
                ),
                ("time element", lambda: self._time_element(updated=False)),
                ("url", lambda: url_date(self.url, self.tz)),
            ],
            self.origins,
        ) or most_precise([("htmldate", lambda: self._date(self._htmldate()))], self.origins)
        if published is not None and in_the_future(published, now or datetime.now(UTC)):
            self.origins.pop("published", None)
            self.warnings.append(
                f"published time in the future ({published.isoformat()}): first-seen time used"
            )
            return None
        return published

    def updated(self) -> datetime | None:
        return self._pick(
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
            self._pick(
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
                        lambda: normalize_authors([self._meta(*AUTHOR_META) or ""]),
                    ),
                    (
                        "byline",
                        lambda: normalize_authors(
                            texts(self.sel.css("[rel~=author], [itemprop=author]"))
                        ),
                    ),
                    ("byline class", lambda: normalize_authors(self._byline_text())),
                ],
            )
            or ()
        )

    def topic(self) -> str | None:
        return self._pick(
            "topic",
            [
                ("selector", lambda: clean_text(self._override_text("topic"))),
                ("kicker", lambda: clean_text(self._kicker())),
                ("json-ld keywords", lambda: clean_text(first_keyword(self._ld("keywords")))),
                ("article:tag", lambda: clean_text(self._og("article:tag"))),
            ],
        )

    def section(self) -> str | None:
        return self._pick(
            "section",
            [
                ("selector", lambda: clean_text(self._override_text("section"))),
                ("json-ld", lambda: clean_text(ld_text(self._ld("articleSection")))),
                ("opengraph", lambda: clean_text(self._og("article:section"))),
            ],
        )

    @_once
    def lead(self) -> str | None:
        return self._pick(
            "lead",
            [
                ("selector", lambda: clean_text(self._override_text("lead"))),
                ("json-ld", lambda: clean_text(ld_text(self._ld("description")))),
                ("opengraph", lambda: clean_text(self._og("og:description"))),
                ("meta", lambda: clean_text(self._meta("description"))),
                ("chapo element", lambda: clean_text(self.chapo())),
            ],
        )

    @_once
    def chapo(self) -> str | None:
        """The standfirst shown on the page, if the markup names it as such."""
        for node in self._classed(_CHAPO_CLASS_RE, tags=_CHAPO_TAGS):
            text = node_text(node)
            if text and len(text) >= _CHAPO_MIN_CHARS:
                return text
        return None

    def body_paragraphs(self) -> list[str]:
        """The article's paragraphs. Read last: pruning changes the page's tree in place."""
        override = self._override("body")
        if override:
            LOGGER.debug("body from selector")
            self.origins["body"] = "selector"
            paragraphs = [
                text
                for node in override
                for text in (texts(node.css("p")) or [node_text(node)])
                if text
            ]
        else:
            prune_page(self.root)
            paragraphs = drop_repeated_standfirst(
                main_text(self.root, self.url, (self.language, self.default_language),
                          self.origins),
                self.lead())
        return [p for p in paragraphs if not is_boilerplate_paragraph(p)]

    def image_url(self) -> str | None:
        return self._pick(
            "image_url",
            [
                ("selector", lambda: self._absolute(image_src(self._override("image")))),
                (
                    "json-ld",
                    lambda: self._absolute(ld_image(self._ld("image"), self.jsonld_index)[0]),
                ),
                ("opengraph", lambda: self._absolute(self._og("og:image"))),
                ("twitter:image", lambda: self._absolute(self._meta("twitter:image"))),
            ],
        )

    def image_caption(self, image_url: str | None) -> str | None:
        return self._pick(
            "image_caption",
            [
                ("json-ld", lambda: clean_text(ld_image(self._ld("image"), self.jsonld_index)[1])),
                ("figcaption", lambda: clean_text(self._figcaption(image_url))),
            ],
        )

    def language(self, body: str) -> str | None:
        root = self.sel.root
        return self._pick(
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
        queries = [f"//time[@datetime][{condition}][ancestor::*[{_BYLINE_XPATH}]]"]
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
        for node in self._classed(_KICKER_CLASS_RE):
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
