"""The anchor of the cold-crawl benchmark: a bare Scrapy spider that downloads a given list
of URLs and runs `trafilatura.extract` on each HTML page (with `--no-extract`, drops
them). One crawler per source in one CrawlerProcess, with
the politeness settings Veille derives from the benchmark config, as `veille crawl` runs it.

    python -m bench.bare_spider URLS.json [--no-extract]   # {"source id": ["http://...", ...]}
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from typing import Any

import scrapy
import trafilatura
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response

# What crawler.crawl.process.scrapy_settings gives for the benchmark's [crawl] table (no delay, no
# AutoThrottle, robots.txt off), minus Veille's own pipelines, extensions and middlewares.
SETTINGS = {
    "BOT_NAME": "bench",
    "USER_AGENT": "Veille-bench/0.1",
    "ROBOTSTXT_OBEY": False,
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY": 0,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 4,
    "DOWNLOAD_TIMEOUT": 30.0,
    "RETRY_TIMES": 2,
    "COOKIES_ENABLED": False,
    "REMOTE_CONTROL_ENABLED": False,
    "TELNETCONSOLE_ENABLED": False,
    "LOG_LEVEL": "ERROR",
}


class BareSpider(scrapy.Spider):
    """Requests every URL it is given; extracts each HTML page's text with trafilatura."""

    name = "bare"

    def __init__(self, urls: list[str], extract: bool = True, **kwargs: Any):
        super().__init__(**kwargs)
        self.urls = urls
        self.extract = extract

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.urls:
            yield scrapy.Request(url, callback=self.parse)

    def parse(self, response: Response) -> None:
        if self.extract and b"html" in response.headers.get(b"Content-Type", b""):
            trafilatura.extract(response.text, url=response.url)


def main(path: str, extract: bool = True) -> None:
    with open(path, encoding="utf-8") as fh:
        sources: dict[str, list[str]] = json.load(fh)
    process = CrawlerProcess(SETTINGS)
    crawlers = []
    for source_id, urls in sources.items():
        crawler = process.create_crawler(BareSpider)
        crawlers.append(crawler)
        process.crawl(crawler, urls=urls, extract=extract, name=source_id)
    process.start()
    print(json.dumps({"responses": sum(
        int(c.stats.get_value("response_received_count", 0)) for c in crawlers)}))


if __name__ == "__main__":
    main(sys.argv[1], extract="--no-extract" not in sys.argv[2:])
