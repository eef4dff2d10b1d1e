"""Metadata on the real pages of ../shared/corpus/readability, against Readability's reading
(see bench/metadata_eval.py): titles as an editor would file them, no markup left."""

from __future__ import annotations

from typing import Any

import pytest

from bench.corpus import CORPUS
from bench.metadata_eval import REFERENCE_WRONG, SYNTHETIC, evaluate, has_markup

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no corpus at {CORPUS}")


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    return evaluate(CORPUS)


def test_every_page_is_evaluated(result: dict[str, Any]) -> None:
    names = {row["name"] for row in result["pages"]}
    assert len(names) >= 100
    assert set(SYNTHETIC) <= names
    assert set(REFERENCE_WRONG) <= names
    assert all(reason for fields in REFERENCE_WRONG.values() for reason in fields.values())


def test_title_accuracy_on_news_pages(result: dict[str, Any]) -> None:
    title = result["accuracy"]["title"]
    wrong = [
        (row["name"], row["title"]["ours"], row["title"]["reference"])
        for row in result["pages"]
        if row["news"] and row["title"]["ok"] is False
    ]
    assert title["scored"] >= 60
    assert title["accuracy"] >= 0.90, wrong


def test_no_entity_or_tag_in_titles_and_leads(result: dict[str, Any]) -> None:
    dirty = [
        (row["name"], text)
        for row in result["pages"]
        for text in (row["title"]["ours"], row["lead"])
        if has_markup(text)
    ]
    assert dirty == []


def test_no_title_keeps_a_declared_site_name(result: dict[str, Any]) -> None:
    kept = []
    for row in result["pages"]:
        title = (row["title"]["ours"] or "").casefold()
        for site in row["site_names"]:
            name = site.casefold()
            if title != name and (title.startswith(name) or title.endswith(name)):
                kept.append((row["name"], row["title"]["ours"], site))
    assert kept == []
