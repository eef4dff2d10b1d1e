"""Feed entries into listing hints, one fixture feed per case with its expectation beside it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spiders.feed import entry_hint, read_feed

CASES = sorted((Path(__file__).parent / "fixtures" / "feeds").glob("*.json"))


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_feed_case(case):
    expected = json.loads(case.read_text(encoding="utf-8"))
    feed_url = expected.get("feed_url", "https://feeds.test/feed.xml")
    parsed, problem = read_feed(case.with_suffix(".xml").read_bytes(), feed_url)
    assert (problem is not None) == expected["bozo"]
    hints = [entry_hint(entry, feed_url) for entry in parsed.entries]
    assert [
        {"url": h.url, "topic": h.topic, "guid": h.guid, "title": h.title,
         "listed_at": h.listed_at.isoformat() if h.listed_at else None}
        for h in hints
    ] == expected["entries"]
