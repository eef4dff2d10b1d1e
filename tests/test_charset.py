"""Tests for crawler.page.charset: mislabelled and unlabelled pages decode without mojibake."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crawler.page.charset import decode_html

FIXTURES = Path(__file__).parent / "fixtures" / "charset"
CASES: dict[str, dict[str, Any]] = json.loads((FIXTURES / "cases.json").read_text("utf-8"))
# What UTF-8 read as cp1252 looks like ("Ã©", "â€™"), and what lost bytes become.
MOJIBAKE = ("Ã", "â€", "\ufffd")


@pytest.mark.parametrize("name", sorted(CASES))
def test_decode_fixture(name: str) -> None:
    case = CASES[name]
    body = (FIXTURES / f"{name}.html").read_bytes()

    text, encoding = decode_html(body, case["content_type"], forced=case.get("forced"))

    assert encoding == case["encoding"]
    for bad in (*MOJIBAKE, *case.get("not_contains", [])):
        assert bad not in text
    for word in case["contains"]:
        assert word in text
    assert text.startswith(case.get("starts_with", "<"))


def test_every_fixture_file_has_a_case() -> None:
    assert {path.stem for path in FIXTURES.glob("*.html")} == set(CASES)


def test_unknown_forced_encoding_is_ignored() -> None:
    body = "<p>café</p>".encode()
    assert decode_html(body, "text/html; charset=utf-8", forced="no-such-codec") == (
        "<p>café</p>",
        "utf-8",
    )


def test_pure_ascii_keeps_declared_single_byte_encoding() -> None:
    # Nothing multi-byte: no evidence against the declaration.
    assert decode_html(b"<p>plain</p>", "text/html; charset=iso-8859-1") == (
        "<p>plain</p>",
        "cp1252",
    )


def test_empty_body() -> None:
    assert decode_html(b"") == ("", "utf-8")
