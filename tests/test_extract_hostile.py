"""Hostile markup: broken JSON-LD, invalid microdata, absurd nesting. Each defect is one
line in the article's warnings, never a traceback or a log record above DEBUG."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from crawler.page.extract import extract_article

PARAGRAPHS = "".join(
    f"<p>Paragraph {i} of the story, long enough to count as the article's own text and "
    f"not as a caption or a button label lost somewhere in the page.</p>"
    for i in range(1, 7)
)


def page(head: str, body: str = "") -> str:
    return (f"<html lang='en'><head><title>Port strike ends</title>{head}</head>"
            f"<body><article><h1>Port strike ends</h1>{body}{PARAGRAPHS}</article></body></html>")


GOOD_LD = ('<script type="application/ld+json">{"@type": "NewsArticle", '
           '"headline": "Port strike ends after a week", "author": {"name": "Dana Reyes"}}'
           "</script>")
BROKEN_LD = '<script type="application/ld+json">{"@type": "NewsArticle", "headline": </script>'


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (BROKEN_LD, "broken JSON-LD (block 1)"),
        (GOOD_LD + BROKEN_LD, "broken JSON-LD (block 2)"),
        ('<script type="text/javascript">var a = 1;</script>' + BROKEN_LD,
         "broken JSON-LD (block 1)"),
        ('<script type="application/ld+json">' + "[" * 100_000 + "</script>",
         "broken JSON-LD (block 1)"),
        ('<script type="application/ld+json"><!-- {"a": 1} --> nonsense</script>',
         "broken JSON-LD (block 1)"),
    ],
    ids=["truncated", "second-block", "after-a-script", "nested-100000", "comment-and-garbage"],
)
def test_broken_json_ld_is_one_warning_and_the_article_survives(
    head: str, expected: str, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    article = extract_article(page(head), "https://port.example/news/strike-ends")
    assert [w for w in article.warnings if w.startswith(expected)], article.warnings
    assert all("\n" not in w and len(w) < 300 for w in article.warnings)
    assert article.word_count > 100
    assert not [r for r in caplog.records if r.levelno >= logging.INFO], caplog.records
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and err == ""


def test_good_block_beside_a_broken_one_is_still_read() -> None:
    article = extract_article(page(GOOD_LD + BROKEN_LD), "https://port.example/news/a")
    assert article.title == "Port strike ends after a week"
    assert article.authors == ("Dana Reyes",)


@pytest.mark.parametrize(
    "body",
    [
        '<div itemscope itemtype="not a url"><span itemprop="author">X</span></div>',
        '<div itemscope itemprop="author" itemtype="https://schema.org/Person">'
        '<span itemprop="name"></span></div>',
        "<div>" * 200 + "deep" + "</div>" * 200,
        '<p style="display:none" hidden aria-hidden="true">hidden</p>' * 200,
    ],
    ids=["bad-itemtype", "empty-itemprop", "nested-200", "hidden-200"],
)
def test_invalid_microdata_and_deep_nesting_do_not_raise(
    body: str, capfd: pytest.CaptureFixture
) -> None:
    article = extract_article(page("", body), "https://port.example/news/b")
    assert "Paragraph 3 of the story" in article.body
    assert "hidden" not in article.body.split()
    _, err = capfd.readouterr()
    assert "Traceback" not in err


def test_a_page_nested_past_the_parser_limit_says_what_it_lost() -> None:
    """libxml2 stops at 256 levels: the text after that point cannot be read, and the
    article's warnings say so instead of a silent short body."""
    nested = "<div>" * 5000 + "deep" + "</div>" * 5000
    article = extract_article(page("", nested), "https://port.example/news/d")
    assert any("256 elements deep" in w for w in article.warnings), article.warnings


def test_json_ld_in_a_cdata_wrapper_is_read() -> None:
    head = ('<script type="application/ld+json">//<![CDATA[\n{"@type": "NewsArticle", '
            '"headline": "Port strike ends after a week"}\n//]]></script>')
    article = extract_article(page(head), "https://port.example/news/e")
    assert article.title == "Port strike ends after a week"
    assert article.warnings == ()


def test_a_clean_page_has_no_warning() -> None:
    article = extract_article(page(GOOD_LD), "https://port.example/news/c")
    assert article.warnings == ()


def test_no_page_outlives_its_extraction() -> None:
    """A crawl extracts thousands of pages in one process: none may stay referenced (a
    method cache once kept every page and its tree alive)."""
    import gc

    from crawler.page.extract.page import Page

    for n in range(3):
        extract_article(page(GOOD_LD), f"https://port.example/news/{n}")
    gc.collect()
    assert not [o for o in gc.get_objects() if isinstance(o, Page)]


OPENGRAPH_CASES = [
    '<html><head><meta property="og:title" content="A"><meta property="fb:app" content="1">'
    '<meta property="al:ios" content="x"></head><body></body></html>',
    '<html prefix="al: http://applinks.org/ns#"><head prefix="fb: http://ogp.me/ns/fb#">'
    '<meta property="al:ios" content="x"><meta property="fb:app" content="1">'
    '<meta property="article:author" content="B"><meta property="og:title"></head></html>',
    '<html><head><meta property="og:title" content="one"></head><body><head>'
    '<meta property="og:title" content="two"></head></body></html>',
    "<html><body><p>no head</p></body></html>",
    '<html xmlns="http://www.w3.org/1999/xhtml"><head><meta property="og:type" '
    'content="article"/></head></html>',
]


def test_opengraph_is_read_as_extruct_reads_it() -> None:
    """Every fixture page, the corpus pages and the edge cases above give the items
    extruct's OpenGraphExtractor gives (its rules, read without importing extruct)."""
    from lxml.html import HtmlElement

    opengraph = pytest.importorskip("extruct.opengraph")
    from trafilatura.utils import load_html

    from bench.corpus import cases
    from crawler.page.extract.structured import opengraph_items

    fixtures = Path(__file__).parent / "fixtures" / "extraction"
    pages = [*OPENGRAPH_CASES, *(p.read_text(encoding="utf-8", errors="replace")
                                 for p in sorted(fixtures.glob("*.html")))]
    pages += [case.html for case in cases()]
    reader, found = opengraph.OpenGraphExtractor(), 0
    for page in pages:
        root = load_html(page)
        if root is None:  # a page with no markup: the extraction reads an empty tree
            continue
        assert isinstance(root, HtmlElement)
        ours = list(opengraph_items(root))
        assert ours == list(reader.extract_items(root)), page[:200]
        found += bool(ours)
    assert found > 50
