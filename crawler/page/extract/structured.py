"""Structured metadata in a page: JSON-LD (with @graph and @id references), OpenGraph, <meta>."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from lxml.html import XHTML_NAMESPACE, HtmlElement
from parsel import Selector

from crawler.page.extract.text import clean

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
        "SocialMediaPosting",
        "Report",
        "TechArticle",
        "ScholarlyArticle",
    }
)

# -- structured data ---------------------------------------------------------------


def find_article_node(items: list[Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Return the first JSON-LD article object and an index of all nodes by ``@id``."""
    nodes = list(iter_jsonld_nodes(items))
    index = {node["@id"]: node for node in nodes if isinstance(node.get("@id"), str)}
    for node in nodes:
        if jsonld_types(node) & ARTICLE_TYPES:
            return node, index
    return {}, index


def iter_jsonld_nodes(items: Iterable[Any]) -> Iterator[dict[str, Any]]:
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
                yield from iter_jsonld_nodes(nested)


def jsonld_types(node: dict[str, Any]) -> set[str]:
    types = node.get("@type")
    if isinstance(types, str):
        types = [types]
    if not isinstance(types, list):
        return set()
    # "schema:NewsArticle" and "https://schema.org/NewsArticle" name the same type.
    return {re.split(r"[/:#]", t)[-1] for t in types if isinstance(t, str)}


def deref(value: Any, index: dict[str, dict[str, Any]]) -> Any:
    """Replace a bare ``{"@id": ...}`` reference by the node it points to in the graph."""
    if isinstance(value, list):
        return [deref(item, index) for item in value]
    if isinstance(value, dict) and set(value) == {"@id"}:
        return index.get(value["@id"], value)
    return value


def ld_text(value: Any) -> str | None:
    """First text of a JSON-LD value: a string, a ``@value``/name object, or a list."""
    if isinstance(value, list):
        return next((text for item in value if (text := ld_text(item))), None)
    if isinstance(value, dict):
        return ld_text(value.get("@value") or value.get("name"))
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return clean(str(value))
    return None


def ld_id(value: Any) -> str | None:
    """URL of a ``mainEntityOfPage``-like value: a string or a WebPage object."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        return ld_text(value.get("@id") or value.get("url"))
    return ld_text(value)


def ld_names(value: Any, index: dict[str, dict[str, Any]]) -> list[str]:
    """Names in a JSON-LD author value: a string, a Person/Organization, or a list."""
    value = deref(value, index)
    if isinstance(value, list):
        return [name for item in value for name in ld_names(item, index)]
    if isinstance(value, dict):
        name = value.get("name")
        return [name] if isinstance(name, str) else ld_names(name, index) if name else []
    return [value] if isinstance(value, str) else []


def ld_image(value: Any, index: dict[str, dict[str, Any]]) -> tuple[str | None, str | None]:
    """URL and caption of the first JSON-LD image (a URL, an ImageObject, or a list)."""
    value = deref(value, index)
    if isinstance(value, list):
        value = deref(value[0], index) if value else None
    if isinstance(value, dict):
        url = ld_text(value.get("url") or value.get("contentUrl"))
        return url, ld_text(value.get("caption"))
    return ld_text(value), None


def first_keyword(value: Any) -> str | None:
    """First keyword; JSON-LD ``keywords`` is a list or one comma-separated string."""
    text = ld_text(value)
    return clean(text.split(",")[0]) if text else None


# OpenGraph's own prefixes, read even when the page does not declare them.
_OG_NAMESPACES = {
    "og": "http://ogp.me/ns#", "music": "http://ogp.me/ns/music#",
    "video": "http://ogp.me/ns/video#", "article": "http://ogp.me/ns/article#",
    "book": "http://ogp.me/ns/book#", "profile": "http://ogp.me/ns/profile#",
    "product": "http://ogp.me/ns/product#",
}
_PREFIX_RE = re.compile(r"\s*(\w+):\s*([^\s]+)")


def opengraph_items(root: HtmlElement) -> Iterator[dict[str, Any]]:
    """The OpenGraph items of a page, as extruct's OpenGraphExtractor reads them (the same
    rules, item for item: a test compares them on every fixture and corpus page): one per
    <head> with `<meta property content>` whose prefix is OpenGraph's or declared in a
    `prefix` attribute (of that head, or of the <html> around the page's first head).

    Read here rather than through extruct, whose package imports every syntax it knows
    (RDFa with rdflib, microformats with BeautifulSoup and html5lib): 0.2 s and 8 MB in
    every crawl process, for these few lines.
    """
    heads = root.xpath("//head")
    if not heads:
        return
    first_head = root.xpath("//head|//x:head", namespaces={"x": XHTML_NAMESPACE})[0]
    html = first_head.xpath("parent::html")
    for head in heads:
        namespaces = _prefixes(html[0]) if html else {}
        namespaces.update(_prefixes(head))
        properties = []
        for meta in head.xpath("meta[@property and @content]"):
            prop = meta.attrib["property"]
            prefix = prop.partition(":")[0]
            if prefix in _OG_NAMESPACES:
                namespaces[prefix] = _OG_NAMESPACES[prefix]
            if prefix in namespaces:
                properties.append((prop, meta.attrib["content"]))
        if properties:
            yield {"namespace": namespaces, "properties": properties}


def _prefixes(element: HtmlElement) -> dict[str, str]:
    return dict(_PREFIX_RE.findall(element.attrib.get("prefix", "")))


def opengraph_properties(items: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Flatten OpenGraph items to property -> values, in page order."""
    properties: dict[str, list[str]] = {}
    for item in items:
        for prop, value in item.get("properties", []):
            if isinstance(value, str) and value.strip():
                properties.setdefault(prop, []).append(value)
    return properties


def meta_contents(sel: Selector) -> dict[str, str]:
    """First content of each ``<meta name|itemprop=...>``, keyed by the lowercased name."""
    contents: dict[str, str] = {}
    for meta in sel.xpath("//meta[@content][@name or @itemprop or @property]"):
        key = meta.attrib.get("name") or meta.attrib.get("itemprop") or meta.attrib.get("property")
        content = meta.attrib["content"].strip()
        if key and content:
            contents.setdefault(key.strip().lower(), content)
    return contents
