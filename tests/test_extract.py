"""Fixture-driven tests for crawler.page.extract: one HTML page and its expectations per case."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from crawler.page.extract import ExtractedArticle, extract_article

FIXTURES = Path(__file__).parent / "fixtures" / "extraction"
CASES = sorted(path.stem for path in FIXTURES.glob("*.json"))
# Expectation keys that are not ExtractedArticle fields.
BODY_HELPERS = {"body_starts_with", "body_contains", "body_not_contains", "paragraphs_min"}


def run_case(name: str) -> tuple[ExtractedArticle, dict[str, Any]]:
    spec = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    html = (FIXTURES / f"{name}.html").read_text(encoding="utf-8")
    tz = ZoneInfo(spec["default_tz"]) if "default_tz" in spec else None
    # "now": the time of the fetch, for cases about dates in the future
    now = datetime.fromisoformat(spec["now"]) if "now" in spec else None
    article = extract_article(
        html, spec["url"], selectors=spec.get("selectors"), default_tz=tz, now=now
    )
    return article, spec["expected"]


def as_comparable(value: Any) -> Any:
    """JSON-friendly form of a field value: ISO strings for dates, lists for tuples."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def test_fixture_cases_exist() -> None:
    assert len(CASES) >= 12
    for name in CASES:
        assert (FIXTURES / f"{name}.html").exists(), name


@pytest.mark.parametrize("name", CASES)
def test_extraction_case(name: str) -> None:
    article, expected = run_case(name)

    for field, value in expected.items():
        if field not in BODY_HELPERS:
            assert as_comparable(getattr(article, field)) == value, field

    body = article.body
    if "body_starts_with" in expected:
        assert body.startswith(expected["body_starts_with"]), body[:200]
    for snippet in expected.get("body_contains", []):
        assert snippet in body
    for snippet in expected.get("body_not_contains", []):
        assert snippet not in body
    if "paragraphs_min" in expected:
        assert len(body.split("\n\n")) >= expected["paragraphs_min"], body


@pytest.mark.parametrize("name", CASES)
def test_invariants(name: str) -> None:
    article, _ = run_case(name)
    assert article.word_count == len(article.body.split())
    assert "\n\n\n" not in article.body
    assert article.body == article.body.strip()
    for value in (article.published, article.updated):
        assert value is None or value.tzinfo is not None
    assert article.language is None or len(article.language) == 2
    assert all(author and author == author.strip() for author in article.authors)


@pytest.mark.parametrize("html", ["", "   ", "<html></html>", "\x00\x01\x02", "<<<>>>&&&;;"])
def test_empty_documents_do_not_raise(html: str) -> None:
    article = extract_article(html, "http://news.example/empty")
    assert article.body == ""
    assert article.word_count == 0
    assert article.title is None
    assert article.published is None
    assert article.authors == ()
    assert article.language is None


def test_unknown_selector_field_raises() -> None:
    with pytest.raises(ValueError, match="headline"):
        extract_article("<html></html>", "http://news.example/", selectors={"headline": "h1"})


def test_invalid_selector_raises_naming_field() -> None:
    with pytest.raises(ValueError, match="title"):
        extract_article("<html></html>", "http://news.example/", selectors={"title": "h1[["})


def page_with(head: str = "", body: str = "") -> str:
    paragraphs = "".join(
        f"<p>Paragraphe numéro {i} du texte, assez long pour compter comme du contenu "
        f"éditorial et pas comme un bouton ou une légende perdue dans la page.</p>"
        for i in range(1, 6)
    )
    return (
        f"<html lang='fr'><head><title>Titre</title>{head}</head>"
        f"<body><article>{body}{paragraphs}</article></body></html>"
    )


@pytest.mark.parametrize(
    ("meta_author", "expected"),
    [
        (
            "Par Léa Moreau, Karim Haddad et Sophie Lambert",
            ("Léa Moreau", "Karim Haddad", "Sophie Lambert"),
        ),
        ("By Jane Doe and John Roe", ("Jane Doe", "John Roe")),
        ("Jane Doe; John Roe & Amal Khoury", ("Jane Doe", "John Roe", "Amal Khoury")),
        ("https://news.example/staff/jane, Jane Doe, JANE DOE", ("Jane Doe",)),
    ],
)
def test_author_strings_are_normalized(meta_author: str, expected: tuple[str, ...]) -> None:
    html = page_with(head=f'<meta name="author" content="{meta_author}">')
    assert extract_article(html, "http://news.example/a").authors == expected


def test_truncated_description_does_not_remove_first_paragraph() -> None:
    description = "Paragraphe numéro 1 du texte, assez long pour compter…"
    html = page_with(head=f'<meta name="description" content="{description}">')
    article = extract_article(html, "http://news.example/a")
    assert article.lead == description
    assert article.body.startswith("Paragraphe numéro 1 du texte")


def test_visible_french_date_is_day_first_in_default_tz() -> None:
    html = page_with(body='<p class="date">Mis à jour le 12/03/2025 à 16:30</p>')
    article = extract_article(
        html,
        "http://news.example/a",
        selectors={"updated": ".date"},
        default_tz=ZoneInfo("Asia/Beirut"),
    )
    assert article.updated is not None
    assert article.updated.isoformat() == "2025-03-12T16:30:00+02:00"
