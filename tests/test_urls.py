"""URL canonicalization: one spelling per article."""

from __future__ import annotations

import pytest

from crawler.page.urls import amp_to_canonical_guess, canonicalize, same_site


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://WWW.Example.COM:80/a/b.html", "http://www.example.com/a/b.html"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com/a#comments", "https://example.com/a"),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
        ("https://example.com/a?utm_source=rss&utm_medium=feed&id=7",
         "https://example.com/a?id=7"),
        ("https://example.com/a?fbclid=XYZ&gclid=1&xtor=AL-32&at_medium=x&at_campaign=y",
         "https://example.com/a"),
        ("https://example.com/a?UTM_Source=x", "https://example.com/a"),
        ("https://example.com", "https://example.com/"),
        ("  https://example.com/é t  ", "https://example.com/%C3%A9%20t"),
    ],
)
def test_canonicalize(url, expected):
    assert canonicalize(url) == expected


def test_canonicalize_is_idempotent():
    url = "https://Example.com/x/?utm_campaign=a&z=1&b=%7E#frag"
    assert canonicalize(canonicalize(url)) == canonicalize(url)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x.com/amp/2026/11/a.html", "https://x.com/2026/11/a.html"),
        ("https://x.com/2026/11/a.amp.html", "https://x.com/2026/11/a.html"),
        ("https://x.com/2026/11/a/amp/", "https://x.com/2026/11/a/"),
        ("https://x.com/2026/11/a/amp", "https://x.com/2026/11/a"),
        ("https://x.com/2026/11/example.html", None),
        ("https://x.com/ampleur-de-la-crise.html", None),
    ],
)
def test_amp_guess(url, expected):
    assert amp_to_canonical_guess(url) == expected


def test_same_site():
    assert same_site("https://www.bbc.co.uk/news/x", ("bbc.co.uk",))
    assert not same_site("https://evilbbc.co.uk/x", ("bbc.co.uk",))
    assert same_site("http://127.0.0.1:8000/x", ("127.0.0.1",))
