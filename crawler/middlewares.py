"""Scrapy middlewares: retries that back off, and parse failures recorded, not lost."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from scrapy.crawler import Crawler
from scrapy.http import Request, Response
from scrapy.utils.asyncio import sleep

from crawler.items import FetchErrorItem

LOGGER = logging.getLogger(__name__)


class RetryBackoffMiddleware:
    """Delays each retry of a request exponentially (Scrapy retries at once otherwise).

    Scrapy's RetryMiddleware marks a retry with meta["retry_times"]; this one waits
    VEILLE_RETRY_BACKOFF * 2**(n-1) seconds before the n-th retry goes out.
    """

    def __init__(self, base_delay: float):
        self.base_delay = base_delay

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryBackoffMiddleware:
        return cls(crawler.settings.getfloat("VEILLE_RETRY_BACKOFF", 1.0))

    async def process_request(self, request: Request) -> None:
        retries = request.meta.get("retry_times", 0)
        if retries and self.base_delay > 0:
            await sleep(self.base_delay * 2 ** (retries - 1))


class ParseErrorMiddleware:
    """A callback that raises on a page records the failure instead of vanishing in a log."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ParseErrorMiddleware:
        return cls(crawler)

    def process_spider_exception(
        self, response: Response, exception: Exception
    ) -> Iterable[Any] | None:
        spider = self.crawler.spider
        LOGGER.error("%s: failed to parse %s", spider.name, response.url, exc_info=exception)
        source_id = getattr(getattr(spider, "source", None), "id", spider.name)
        return [
            FetchErrorItem(
                source_id, response.url, "parse",
                f"could not parse the page: {type(exception).__name__}: {exception}",
            )
        ]
