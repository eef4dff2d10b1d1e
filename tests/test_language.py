"""Tests for crawler.extract.language: py3langid's answers, from a model mapped once per machine."""

from __future__ import annotations

import tomllib
from pathlib import Path

import py3langid
import pytest

from crawler.extract import language

FIXTURES = Path(__file__).parent / "fixtures"
TEXTS = [
    "Les combats ont repris mardi dans la région, selon plusieurs témoins joints par téléphone.",
    "Fighting resumed on Tuesday in the region, according to several witnesses reached by phone.",
    "Die Kämpfe wurden am Dienstag in der Region wieder aufgenommen, berichteten mehrere Zeugen.",
    "Los combates se reanudaron el martes en la región, según varios testigos contactados.",
    "Бои возобновились во вторник в регионе, сообщили несколько свидетелей по телефону.",
    "据多名通过电话联系到的目击者称，该地区的战斗于周二重新开始，局势依然紧张。",
    "استؤنف القتال يوم الثلاثاء في المنطقة، بحسب عدة شهود تم الاتصال بهم هاتفيا.",
    "short",
]


def texts() -> list[str]:
    with open(FIXTURES / "stories" / "dispatches.toml", "rb") as fh:
        dispatches = tomllib.load(fh)["dispatch"]
    return TEXTS + [d["text"] for d in dispatches]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    language.identifier.cache_clear()
    yield tmp_path / "veille"
    language.identifier.cache_clear()


def expected(text: str) -> str | None:
    if len(text) < 40:
        return None
    return language.language_code(py3langid.classify(text[:5000])[0])


def test_detection_is_py3langids(cache: Path) -> None:
    found = [language.detect_language(text) for text in texts()]
    assert found == [expected(text) for text in texts()]
    assert {"fr", "en", "de", "es", "ru", "ar"} <= set(found)
    # The identifier's scores are py3langid's too, not only its answers.
    for text in TEXTS:
        assert language.identifier().classify(text) == py3langid.classify(text)
    [copy] = cache.iterdir()
    assert (copy / "nextmove.bin").stat().st_size > 1_000_000


def test_a_second_process_maps_the_copy_without_decompressing(
        cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    language.identifier()
    language.identifier.cache_clear()

    def decompress(path: Path) -> None:
        raise AssertionError(f"{path} decompressed again")

    monkeypatch.setattr(language, "load_model", decompress)
    assert [language.detect_language(text) for text in TEXTS] == [expected(t) for t in TEXTS]


def test_without_a_writable_cache_the_model_is_loaded_in_memory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    language.identifier.cache_clear()
    try:
        assert [language.detect_language(text) for text in TEXTS] == [
            expected(t) for t in TEXTS]
    finally:
        language.identifier.cache_clear()
