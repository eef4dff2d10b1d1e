"""`veille discover URL`: the feeds a page advertises, read from a page on 127.0.0.1."""

from __future__ import annotations

import json
import socket

import pytest
from conftest import FIXTURES, veille

from crawler.demo import SiteServer
from crawler.page.discover import find_feeds


@pytest.fixture
def site():
    with SiteServer(FIXTURES / "discover") as server:
        yield server


def test_discover_lists_each_advertised_feed_once_with_absolute_urls(site):
    result = veille("discover", site.url("/index.html"))
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines()[2:]]  # under the header
    assert lines == [
        ["rss", f"{site.origin}/rss/dernieres-infos.xml", "Dernières", "infos"],
        ["rss", f"{site.origin}/rss/karabakh.xml?utm_source=site", "Nagorny", "Karabakh"],
        ["atom", f"{site.origin}/atom/ukraine.atom", "-"],
    ]
    assert site.hits["/index.html"] == 1
    as_csv = veille("discover", "--csv", site.url("/index.html")).stdout.splitlines()
    assert as_csv[0] == "kind,url,title"
    assert as_csv[3] == f"atom,{site.origin}/atom/ukraine.atom,"
    nl = veille("discover", "--nl", site.url("/index.html")).stdout.splitlines()
    assert [json.loads(line)["kind"] for line in nl] == ["rss", "rss", "atom"]
    assert json.loads(veille("discover", "--json", site.url("/index.html")).stdout)[1] == {
        "kind": "rss", "url": f"{site.origin}/rss/karabakh.xml?utm_source=site",
        "title": "Nagorny Karabakh"}


def test_a_page_without_feeds_says_so(site):
    result = veille("discover", site.url("/nofeed.html"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{site.url('/nofeed.html')}: advertises no feed"


def test_a_missing_page_or_dead_host_is_a_clear_error(site):
    missing = veille("discover", site.url("/nowhere.html"))
    assert missing.returncode == 1
    assert "404" in missing.stderr and "/nowhere.html" in missing.stderr
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = veille("discover", f"http://127.0.0.1:{port}/")
    assert dead.returncode == 1
    assert f"127.0.0.1:{port}" in dead.stderr and "Traceback" not in dead.stderr


def test_find_feeds_ignores_stylesheets_language_versions_and_html_alternates():
    html = (FIXTURES / "discover" / "index.html").read_text(encoding="utf-8")
    html = html.replace("{{ORIGIN}}", "https://feeds.example.org")
    feeds = find_feeds(html, "https://example.org/section/")
    assert [(f.kind, f.url) for f in feeds] == [
        ("rss", "https://example.org/rss/dernieres-infos.xml"),
        ("rss", "https://feeds.example.org/rss/karabakh.xml?utm_source=site"),
        ("atom", "https://example.org/section/atom/ukraine.atom"),
    ]
