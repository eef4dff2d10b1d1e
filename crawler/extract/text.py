"""Text helpers shared by the field readers: whitespace, node texts, comparisons."""

from __future__ import annotations

import re
from typing import Any

from parsel import Selector, SelectorList

# -- text helpers ------------------------------------------------------------------


def clean(text: Any) -> str | None:
    """Collapse whitespace; None for empty or non-text values."""
    if not isinstance(text, str):
        return None
    return " ".join(text.split()) or None


def node_text(node: Selector) -> str | None:
    return clean(
        " ".join(node.xpath(".//text()[not(ancestor::script or ancestor::style)]").getall())
    )


def texts(nodes: SelectorList[Selector]) -> list[str]:
    return [text for node in nodes if (text := node_text(node))]


def first_text(nodes: SelectorList[Selector]) -> str | None:
    return next(iter(texts(nodes)), None)


def image_src(nodes: SelectorList[Selector]) -> str | None:
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


def comparable(text: str) -> str:
    """Casefolded words only, so quotes, dashes and spacing don't hide a repetition."""
    return " ".join(re.findall(r"\w+", text.casefold()))
