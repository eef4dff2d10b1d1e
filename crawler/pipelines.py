"""Item pipelines, in order: normalize (100), then store (300)."""

from __future__ import annotations

import logging
from typing import Any

from scrapy.crawler import Crawler

from crawler.config import StorySettings
from crawler.items import ArticleItem, FetchErrorItem
from crawler.normalize import normalize_article
from crawler.outbox import Outbox
from crawler.storage import Store
from crawler.stories import StoryIndex

LOGGER = logging.getLogger(__name__)


class NormalizePipeline:
    """Extracted page -> normalized record; a page with no article text becomes a warning."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NormalizePipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        if not item.extracted.body.strip() and not item.extracted.title:
            return FetchErrorItem(
                item.source_id, item.response_url, "extract",
                "no title or article text found on the page", level="warning",
            )
        # A `veille worker` crawls many sources: ask for the item's own.
        domains = self.crawler.spider.domains_of(item.source_id)
        item.stored = normalize_article(item, domains)
        return item


class StorePipeline:
    """Writes each article in its own transaction, and each failure in fetch_errors."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.store: Store | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        settings = self.crawler.settings
        stories: StorySettings = settings["VEILLE_STORIES"] or StorySettings()
        outbox = Outbox(settings.getlist("VEILLE_CONFLICTS"),
                        settings.getlist("VEILLE_SUBSCRIPTIONS"),
                        settings.getfloat("VEILLE_ALERT_MAX_AGE") or None,
                        update_threshold=stories.update_threshold)
        self.store = Store.open(settings["VEILLE_DB"], outbox=outbox,
                                stories=StoryIndex(stories))

    def close_spider(self) -> None:
        if self.store is not None:
            self.store.close()

    def process_item(self, item: Any) -> Any:
        assert self.store is not None
        stats = self.crawler.stats
        if isinstance(item, FetchErrorItem):
            self.store.record_error(
                stats.get_value("veille/run_id"), item.source_id, item.url, item.kind,
                item.message, item.level,
            )
            stats.inc_value(f"veille/{item.level}s")
            if item.fatal:
                stats.set_value("veille/fatal", item.message)
            log = LOGGER.error if item.level == "error" else LOGGER.warning
            log("%s: %s", item.source_id, item.message)
            return item
        if isinstance(item, ArticleItem) and item.stored is not None:
            result = self.store.save_article(item.stored)
            # Logged after the commit: a reader of the log knows the article is on disk.
            LOGGER.info("%s: %s article #%d %s", item.source_id, result.outcome,
                        result.article_id, item.stored.canonical_url)
            stats.inc_value(f"veille/{result.outcome}")
            if result.alerts:
                stats.inc_value("veille/alerts", result.alerts)
            if result.duplicate_of_other_url:
                stats.inc_value("veille/same_text_other_url")
        return item
