"""Veille's Scrapy middlewares, driven as Scrapy drives them (a crawler built from the
settings `veille crawl` uses)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from scrapy.http import HtmlResponse, Request
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

from crawler.crawl.middlewares import META_REFRESH_HEAD_BYTES, HeadMetaRefreshMiddleware

URL = "https://news.example/2026/12/article.html"
REFRESH = '<meta http-equiv="Refresh" content="0; url=/2026/12/moved.html">'


def page(head: str, body: str = "<p>Texte de l'article.</p>", encoding: str = "utf-8"
         ) -> HtmlResponse:
    html = f"<html><head>{head}<title>Un titre</title></head><body>{body}</body></html>"
    return HtmlResponse(URL, body=html.encode(encoding), encoding=encoding,
                        headers={"Content-Type": f"text/html; charset={encoding}"},
                        request=Request(URL))


@pytest.fixture
def middleware() -> HeadMetaRefreshMiddleware:
    return build_from_crawler(HeadMetaRefreshMiddleware, get_crawler())


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "windows-1252"])
def test_a_meta_refresh_is_followed_in_any_encoding(middleware, encoding):
    response = page(REFRESH, encoding=encoding)
    redirected = middleware.process_response(response.request, response)
    assert isinstance(redirected, Request)
    # (Scrapy's own middleware, which a UTF-16 page goes to, re-encodes the URL in UTF-16
    # and leaves the byte-order mark in its query: the path is what both agree on.)
    assert urlsplit(redirected.url)[:3] == ("https", "news.example", "/2026/12/moved.html")


def test_a_page_without_refresh_is_passed_on_undecoded(middleware):
    response = page("<meta charset='utf-8'>", body="<p>Été à Erevan.</p>" * 2000)
    assert middleware.process_response(response.request, response) is response
    # Scrapy's own middleware would have decoded the whole page and kept the text on the
    # response (a second copy of the page until it is parsed).
    assert response._cached_ubody is None


def test_refresh_words_in_the_text_only_do_not_redirect(middleware):
    response = page("", body="<p>Press refresh to read the live blog.</p>")
    assert middleware.process_response(response.request, response) is response


def test_a_refresh_beyond_the_head_scrapy_reads_is_not_followed(middleware):
    # Scrapy reads the first 4,096 characters for a meta refresh: one past them is not one.
    response = page("", body="x" * META_REFRESH_HEAD_BYTES + REFRESH)
    assert middleware.process_response(response.request, response) is response
