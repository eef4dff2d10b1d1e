"""Text helpers shared by the field readers: whitespace, node texts, comparisons."""

from __future__ import annotations

import html
import re
from typing import Any

from parsel import Selector, SelectorList
from w3lib.html import remove_tags

# -- text helpers ------------------------------------------------------------------


def clean(text: Any) -> str | None:
    """Collapse whitespace; None for empty or non-text values."""
    if not isinstance(text, str):
        return None
    return " ".join(text.split()) or None


# Pages escape twice ("&amp;#8217;"); three rounds undo any escaping met in practice.
_UNESCAPE_ROUNDS = 3
# Tags that separate words: replaced by a space before the other tags are dropped.
_BREAKING_TAG_RE = re.compile(r"<\s*/?\s*(?:br|p|div|li|h[1-6]|tr|td|blockquote)\b[^>]*>", re.I)
_INVISIBLE_RE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")


def clean_text(text: Any) -> str | None:
    """Text as an editor would store it: entities decoded, tags dropped, spaces collapsed.

    For metadata fields (title, lead, authors, section, topic, caption) that pages fill
    from CMS fields holding HTML: ``"Qu&amp;#8217;est-ce <em>donc</em>&nbsp;?"`` becomes
    ``"Qu’est-ce donc ?"``. None for empty or non-text values.
    """
    if not isinstance(text, str):
        return None
    for _ in range(_UNESCAPE_ROUNDS):
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    if "<" in text:
        text = remove_tags(_BREAKING_TAG_RE.sub(" ", text))
    return clean(_INVISIBLE_RE.sub("", text))


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
