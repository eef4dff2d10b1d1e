"""A page's tree: parsed as trafilatura parses it, with lxml's element lookup done in C.

trafilatura parses with `lxml.html.HTMLParser`, whose element class lookup is a Python
method (`HtmlElementClassLookup.lookup`, to give form fields classes of their own): it runs
every time code touches an element of the tree for the first time, about 3,000 times a
page, in Veille's readers and in trafilatura's own passes over the tree it is given. The
parser here has trafilatura's options and a C lookup that gives every element
`HtmlElement`: the same tree, the same extraction (a test compares both on the corpus),
about 6 % less CPU per extraction (22.7 to 21.4 ms a page over the 130 corpus pages, timed
in one process). No reader of Veille or trafilatura uses the form-field classes.
"""

from __future__ import annotations

import logging

from lxml import etree
from lxml.html import (
    HtmlComment,
    HtmlElement,
    HtmlEntity,
    HTMLParser,
    HtmlProcessingInstruction,
    fromstring,
)
from trafilatura.utils import is_dubious_html, repair_faulty_html

LOGGER = logging.getLogger(__name__)

_EMPTY_PAGE = "<html><body></body></html>"


def _parser() -> HTMLParser:
    # trafilatura.utils.HTML_PARSER's options.
    parser = HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8",
                        remove_comments=True, remove_pis=True)
    parser.set_element_class_lookup(etree.ElementDefaultClassLookup(
        element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction,
        entity=HtmlEntity))
    return parser


PARSER = _parser()


def parse_page(html: str, warnings: list[str]) -> HtmlElement:
    """The tree of a decoded page (trafilatura's `load_html` on text, with `PARSER`);
    an empty page's tree for a page lxml cannot read.

    libxml2 stops reading a page nested deeper than 256 elements: that is said in
    `warnings`, since the text after that point is lost.
    """
    root = _load(html) if html.strip() else None
    if root is not None and any("Excessive depth" in e.message for e in PARSER.error_log):
        warnings.append("page nested more than 256 elements deep: the text after that is lost")
    return root if root is not None else fromstring(_EMPTY_PAGE, parser=PARSER)


def _load(html: str) -> HtmlElement | None:
    """What trafilatura's `load_html` does with a text, step for step."""
    beginning = html[:50].lower()
    dubious = is_dubious_html(beginning)
    html = repair_faulty_html(html, beginning)
    tree, from_bytes = None, False
    try:
        tree = fromstring(html, parser=PARSER)
    except ValueError:  # a text with an encoding declaration: lxml wants bytes
        tree, from_bytes = _from_bytes(html), True
    except Exception as exc:  # lxml refuses a few byte sequences outright
        LOGGER.debug("lxml could not parse the page: %s", exc)
    if (tree is None or len(tree) < 1) and not from_bytes:
        tree = _from_bytes(html)
    if tree is not None and dubious and len(tree) < 2:
        return None  # not HTML at all
    return tree


def _from_bytes(html: str) -> HtmlElement | None:
    try:
        return fromstring(html.encode("utf8", "surrogatepass"), parser=PARSER)
    except Exception as exc:
        LOGGER.debug("lxml could not parse the page's bytes: %s", exc)
        return None
