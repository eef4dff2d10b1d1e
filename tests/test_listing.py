"""Listing pages: which links are articles, their labels and times, and the next page.

One fixture page per case in tests/fixtures/listing/, its expectation beside it.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from dateutil.parser import isoparse
from parsel import Selector

from crawler.page.listing import find_article_links, find_next_page

CASES = sorted((Path(__file__).parent / "fixtures" / "listing").glob("*.json"))


def load(case: Path) -> tuple[dict, Selector]:
    expected = json.loads(case.read_text(encoding="utf-8"))
    html = case.with_suffix(".html").read_text(encoding="utf-8")
    return expected, Selector(text=html.replace("{{ORIGIN}}", ""), base_url=expected["url"])


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_listing_case(case):
    expected, page = load(case)
    domains = (urlsplit(expected["url"]).hostname,)
    hints = find_article_links(page, expected["url"], domains, expected.get("links_css"))
    found = [
        {"url": h.url, "topic": h.topic,
         "listed_at": h.listed_at.isoformat() if h.listed_at else None}
        for h in hints
    ]
    wanted = [
        {**link, "listed_at": isoparse(link["listed_at"]).isoformat()
         if link["listed_at"] else None}
        for link in expected["links"]
    ]
    assert found == wanted
    assert find_next_page(page, expected["url"], expected.get("next_css")) == expected["next"]
    if "auto_links" in expected:
        assert [h.url for h in find_article_links(page, expected["url"], domains)] == \
            expected["auto_links"]


def test_latest_time_in_an_item_counts():
    html = """<ul><li class="story"><span class="label">Sudan</span>
      <a href="/2026/11/20/aid-convoys-stuck-at-the-border.html">Aid convoys stuck at the border</a>
      <time datetime="2026-11-20T08:00:00Z">8:00</time>
      <time class="updated" datetime="2026-11-20T11:30:00Z">updated 11:30</time></li></ul>"""
    [hint] = find_article_links(Selector(text=html), "https://m.test/latest/", ("m.test",))
    assert hint.topic == "Sudan"
    assert hint.listed_at.isoformat() == "2026-11-20T11:30:00+00:00"


def test_no_next_page():
    page = Selector(text="<html><body><a href='/a/b'>Previous</a></body></html>")
    assert find_next_page(page, "https://m.test/latest/") is None
