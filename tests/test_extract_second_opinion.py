"""Tests for the full-mode second opinion of crawler.page.extract.body: trafilatura is told the
page's language, so that jusText reads one language's stop words, never all 100."""

from __future__ import annotations

from typing import Any

import pytest
import trafilatura
import trafilatura.external
import trafilatura.utils
from lxml.html import fromstring

from crawler.page.extract import body, extract_article

# A short dispatch (under the 200 words that call for a second opinion), of our own writing.
PARAGRAPHS = [
    "Les négociateurs arméniens et azerbaïdjanais se sont retrouvés jeudi à Genève pour une "
    "nouvelle séance consacrée au tracé de la frontière, la troisième depuis le printemps.",
    "Selon un diplomate présent dans la salle, les deux délégations ont échangé des cartes "
    "détaillées des villages de la région de Tavouch, où les postes restent très proches.",
    "Aucune date n'a été fixée pour la prochaine rencontre, mais les deux capitales disent "
    "vouloir conclure avant la fin de l'hiver, malgré les réserves des habitants.",
]


def page(lang_attr: str = ' lang="fr"', head: str = "") -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return (f"<html{lang_attr}><head><title>Frontière : nouvelle séance à Genève</title>{head}"
            f"</head><body><nav><a href='/'>Accueil</a></nav><article><h1>Frontière : "
            f"nouvelle séance à Genève</h1>{paragraphs}</article>"
            f"<footer>Tous droits réservés</footer></body></html>")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every bare_extraction call's mode and language; and the all-languages stop list of
    jusText, should anything ask for it, recorded instead of built."""
    seen: list[dict[str, Any]] = []
    real = trafilatura.bare_extraction

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append({"fast": kwargs.get("fast"), "lang": kwargs.get("target_language")})
        return real(*args, **kwargs)

    def all_languages() -> tuple[str, ...]:
        seen.append({"all_languages_stoplist": True})
        return ("the",)

    monkeypatch.setattr(trafilatura, "bare_extraction", spy)
    monkeypatch.setattr(trafilatura.external, "JT_STOPLIST", None)
    monkeypatch.setattr(trafilatura.external, "jt_stoplist_init", all_languages)
    return seen


def test_a_short_page_is_read_again_in_its_declared_language(calls) -> None:
    article = extract_article(page(), "https://example.com/a")
    assert article.body.startswith("Les négociateurs arméniens")
    assert article.language == "fr"
    assert calls == [{"fast": True, "lang": None}, {"fast": False, "lang": "fr"}]


def test_a_page_that_declares_nothing_is_told_the_detected_language(calls) -> None:
    article = extract_article(page(lang_attr=""), "https://example.com/a")
    assert article.language == "fr"
    assert calls == [{"fast": True, "lang": None}, {"fast": False, "lang": "fr"}]


@pytest.mark.parametrize("head, why", [
    ('<meta http-equiv="content-language" content="de">', "meta tags name another"),
    ('<meta property="og:locale" content="pl_PL">', "meta tags name another"),
])
def test_a_language_the_meta_tags_contradict_is_not_told(calls, head: str, why: str) -> None:
    root = fromstring(page(head=head))
    assert body._justext_language(root, "fr") is None, why


def test_languages_without_a_stop_list_are_not_told() -> None:
    root = fromstring(page())
    assert body._justext_language(root, "fr") == "fr"
    assert body._justext_language(root, None) is None
    assert body._justext_language(root, "xx") is None


def test_a_page_trafilatura_discards_for_its_language_is_read_again_untold(
        calls, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where py3langid is installed, trafilatura checks the language of the text it found
    and discards a page in another: the second opinion is then asked again, untold."""
    monkeypatch.setattr(trafilatura.utils, "LANGID_FLAG", True)
    monkeypatch.setattr(trafilatura.utils, "language_classifier", lambda *args: "xx")
    article = extract_article(page(), "https://example.com/a")
    assert article.body.startswith("Les négociateurs arméniens")
    assert calls[:3] == [{"fast": True, "lang": None}, {"fast": False, "lang": "fr"},
                         {"fast": False, "lang": None}]


def test_a_page_whose_language_cannot_be_told_gets_the_sources(calls) -> None:
    """Too little text to detect a language and no declaration: the source's language
    (its config) is told, and the article's own language stays unknown."""
    html = ("<html><head><title>Breve</title></head><body><article><h1>Breve</h1>"
            "<p>Genève, jeudi.</p></article></body></html>")
    article = extract_article(html, "https://example.com/a", default_language="fr")
    assert article.language is None
    assert calls[:2] == [{"fast": True, "lang": None}, {"fast": False, "lang": "fr"}]
    calls.clear()
    extract_article(html, "https://example.com/a")
    assert calls[:2] == [{"fast": True, "lang": None}, {"fast": False, "lang": None}]
    # Only then, with nothing to go on, is jusText's all-languages list asked for.
    assert {"all_languages_stoplist": True} in calls
