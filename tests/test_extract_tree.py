"""The page's tree (crawler/page/extract/tree.py): trafilatura's parse, without lxml.html's
Python element lookup."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from lxml.html import HtmlElement, HtmlElementClassLookup
from trafilatura.utils import load_html

from bench.corpus import cases
from crawler.page.extract import extract_article, page
from crawler.page.extract.tree import parse_page

FIXTURES = Path(__file__).parent / "fixtures" / "extraction"
EDGES = [
    "",
    "   \n ",
    "plain text, no markup at all",
    "<p>one paragraph alone</p>",
    '<?xml version="1.0" encoding="utf-8"?><html><body><p>déclarée</p></body></html>',
    "<!DOCTYPE html>\n<html/>\n<body><p>self-closing html</p></body>",
    "<html><body><p>nul\x00 and \x0b control characters</p></body></html>",
    "<html><body>" + "<div>" * 300 + "<p>deep</p>" + "</div>" * 300 + "</body></html>",
    "<html><body><form><input name=q><select><option>a</select><textarea>t</textarea>"
    "<label>l</label></form></body></html>",
]


def pages() -> list[str]:
    fixtures = [p.read_text(encoding="utf-8", errors="replace")
                for p in sorted(FIXTURES.glob("*.html"))]
    return [*EDGES, *fixtures, *(case.html for case in cases())]


def test_the_tree_is_the_one_trafilatura_parses() -> None:
    compared = 0
    for html in pages():
        warnings: list[str] = []
        ours = parse_page(html, warnings)
        theirs = load_html(html) if html.strip() else None
        if theirs is None:  # nothing readable: an empty page's tree
            assert etree.tostring(ours) == b"<html><body/></html>", html[:80]
            continue
        assert etree.tostring(ours) == etree.tostring(theirs), html[:200]
        compared += 1
    assert compared > 140


def test_a_page_nested_too_deep_says_so() -> None:
    warnings: list[str] = []
    parse_page(EDGES[-2], warnings)
    assert warnings == ["page nested more than 256 elements deep: the text after that is lost"]
    warnings = []
    parse_page(EDGES[-1], warnings)
    assert warnings == []


def test_no_element_goes_through_lxml_html_python_lookup(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """lxml.html's lookup runs in Python for every element first touched; the extraction's
    parser never calls it, and every element is still an HtmlElement."""
    calls = []
    original = HtmlElementClassLookup.lookup

    def counting(self, *args):  # type: ignore[no-untyped-def]
        calls.append(args)
        return original(self, *args)

    monkeypatch.setattr(HtmlElementClassLookup, "lookup", counting)
    html = next(case.html for case in cases() if case.name.startswith("lemonde"))
    load_html(html).xpath("//p")
    assert calls, "the counter does not see lxml.html's lookup"
    calls.clear()
    root = parse_page(html, [])
    assert all(isinstance(e, HtmlElement) for e in root.iter())
    extract_article(html, "https://www.lemonde.fr/article.html")
    assert calls == []


def test_the_extraction_is_the_same_as_from_trafilaturas_tree(
        monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = [(case.name, case.html) for case in cases()]
    ours = [extract_article(html, f"https://example.org/{name}") for name, html in corpus]

    def trafilaturas(html: str, warnings: list[str]) -> HtmlElement:
        root = load_html(html) if html.strip() else None
        return root if root is not None else parse_page("", warnings)

    monkeypatch.setattr(page, "parse_page", trafilaturas)
    theirs = [extract_article(html, f"https://example.org/{name}") for name, html in corpus]
    different = [name for (name, _), a, b in zip(corpus, ours, theirs, strict=True) if a != b]
    assert different == []
