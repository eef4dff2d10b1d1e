"""Body extraction on the real pages of ../shared/corpus/readability, against trafilatura
run in the same test on the same pages (the full figures: `python -m bench extraction`)."""

from __future__ import annotations

import pytest
import trafilatura

from bench.corpus import (
    CORPUS,
    LOW_CAUSES,
    PAGE_URL,
    REFERENCE_WRONG,
    body_scores,
    cases,
    f1,
    precision_recall,
)
from bench.extraction import LOW_F1
from crawler.page.extract import extract_article

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no corpus at {CORPUS}")


@pytest.fixture(scope="module")
def scored() -> dict[str, dict[str, tuple[float, float]]]:
    """(precision, recall) per page for Veille and for trafilatura.extract."""
    rows: dict[str, dict[str, tuple[float, float]]] = {"veille": {}, "trafilatura": {}}
    for case in cases():
        ours = extract_article(case.html, PAGE_URL).body
        theirs = trafilatura.extract(case.html, include_comments=False) or ""
        rows["veille"][case.name] = precision_recall(ours, case.reference)
        rows["trafilatura"][case.name] = precision_recall(theirs, case.reference)
    return rows


def test_the_corpus_is_the_one_measured() -> None:
    pages = cases()
    assert len(pages) == 130
    assert sum(case.news for case in pages) >= 90


def test_no_page_is_left_empty_where_the_reference_has_text(scored) -> None:
    empty = [name for name, (p, r) in scored["veille"].items() if p == 0 and r == 0]
    assert empty == []


@pytest.mark.parametrize("scope", ["all", "news"])
def test_body_f1_beats_trafilatura_on_the_same_pages(scored, scope: str) -> None:
    news = {case.name for case in cases() if case.news}
    keep = (lambda name: True) if scope == "all" else (lambda name: name in news)
    ours = body_scores(v for k, v in scored["veille"].items() if keep(k))
    theirs = body_scores(v for k, v in scored["trafilatura"].items() if keep(k))
    assert ours["f1"] > theirs["f1"], (ours, theirs)
    assert ours["precision"] > theirs["precision"]


def test_pages_under_the_bar_are_explained(scored) -> None:
    """Every page under 0.8 F1 has its cause written down (bench/corpus.py: the reference is
    wrong, or why Veille's text differs), as the README lists them; a new one is a
    regression to look at."""
    low = {name for name, scores in scored["veille"].items() if f1(*scores) < LOW_F1}
    explained = set(REFERENCE_WRONG) | set(LOW_CAUSES)
    assert low <= explained, sorted(low - explained)
