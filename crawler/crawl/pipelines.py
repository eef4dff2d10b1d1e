"""Item pipelines, in order: normalize (100), then store (300)."""

from __future__ import annotations

import logging
import re
from typing import Any

from scrapy.crawler import Crawler

from crawler.crawl.gaps import RECOVERED
from crawler.crawl.items import ArticleItem, FetchErrorItem, NormalizedArticle
from crawler.crawl.ledger import open_store, release_store
from crawler.crawl.normalize import date_disagreements, normalize_article
from crawler.record.store import STORAGE_ERRORS, Store, one_line

LOGGER = logging.getLogger(__name__)


# A body of fewer words than this is no article text (a teaser, a paywall, a video page,
# markup the extraction could not read): the page is stored, with a "no-text" warning.
MIN_ARTICLE_WORDS = 40
NO_TEXT = "no-text"  # the fetch_errors kind of that warning, counted apart from the others
# The message of a page not stored for want of a title or text (a `NO_TEXT` row).
NOT_STORED = "no title or article text on the page: not stored"
# The kind of a warning that an article's witnesses of its date are over 24 hours apart.
DATES_DISAGREE = "dates-disagree"
# Stats keys read when the run closes (crawler/crawl/breakage.py): the article pages this
# run extracted, those of them under MIN_ARTICLE_WORDS, and the kind and URL of a fatal
# failure (beside its message, "veille/fatal").
ARTICLE_PAGES = "veille/article_pages"
SHORT_BODIES = "veille/short_bodies"
FATAL_KIND = "veille/fatal_kind"
FATAL_URL = "veille/fatal_url"

# Chinese and Japanese put no spaces between words: each ideograph or kana counts as a
# word (as Unicode word segmentation and word processors count them), or every Chinese
# or Japanese article would be "no article text".
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def text_words(body: str, word_count: int) -> int:
    """How many words `body` holds for the no-text rule: `word_count` (the extraction's
    count of space-separated words), except that in Chinese and Japanese each character
    counts as a word."""
    unspaced = len(_UNSPACED.findall(body))
    if not unspaced:
        return word_count
    return unspaced + sum(any(c.isalnum() for c in token)
                          for token in _UNSPACED.sub(" ", body).split())


def article_warnings(item: NormalizedArticle) -> list[FetchErrorItem]:
    """The defects of a normalized article page, as warnings for fetch_errors: each line
    the extraction reported, and "no article text" for a body under MIN_ARTICLE_WORDS
    words. The article is stored all the same; a run with warnings is still clean."""
    article, fetched = item.article, item.fetched
    url = article.canonical_url
    warnings = [
        FetchErrorItem(item.source_id, url, "extract", line, level="warning",
                       run_id=fetched.run_id)
        for line in fetched.extracted.warnings
        # The rule below decides what is "no article text", with one threshold.
        if line and not line.startswith("no article text")
    ]
    warnings += [
        FetchErrorItem(item.source_id, url, DATES_DISAGREE, f"dates disagree: {line}",
                       level="warning", run_id=fetched.run_id)
        for line in date_disagreements(fetched)
    ]
    words = text_words(article.body, article.word_count)
    if words < MIN_ARTICLE_WORDS:
        warnings.append(FetchErrorItem(
            item.source_id, url, NO_TEXT, f"no article text ({words} words)",
            level="warning", run_id=fetched.run_id,
        ))
    return warnings


class NormalizePipeline:
    """Extracted page -> normalized record; a page with neither title nor article text is
    not stored and becomes a warning (one with a title is stored: see `article_warnings`)."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NormalizePipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        self.crawler.stats.inc_value(ARTICLE_PAGES)
        if not item.extracted.body.strip() and not item.extracted.title:
            self.crawler.stats.inc_value(SHORT_BODIES)
            return FetchErrorItem(
                item.source_id, item.response_url, NO_TEXT, NOT_STORED, level="warning",
                run_id=item.run_id,
            )
        # A `veille worker` crawls many sources: ask for the item's own.
        domains = self.crawler.spider.domains_of(item.source_id)
        return NormalizedArticle(normalize_article(item, domains), item)


class StorePipeline:
    """Writes each article in its own transaction, and each failure in fetch_errors."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.store: Store | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        self.store = open_store(self.crawler.settings)

    def close_spider(self) -> None:
        if self.store is not None:
            release_store(self.store)
            self.store = None

    def process_item(self, item: Any) -> Any:
        assert self.store is not None
        stats = self.crawler.stats
        if isinstance(item, FetchErrorItem):
            self.save_failure(item)
            return item
        if isinstance(item, NormalizedArticle):
            article = item.article
            try:
                result = self.store.save_article(article, page=item.fetched.page)
            except STORAGE_ERRORS as exc:  # disk full, database locked too long, I/O error
                stats.inc_value("veille/store_errors")
                stats.set_value("veille/store_error", one_line(exc))
                self.save_failure(FetchErrorItem(item.source_id, article.canonical_url,
                                           "store-failed", f"article not stored: {one_line(exc)}"))
                return item
            # Logged after the commit: a reader of the log knows the article is on disk.
            LOGGER.info("%s: %s article #%d %s", item.source_id, result.outcome,
                        result.article_id, article.canonical_url)
            stats.inc_value(f"veille/{result.outcome}")
            if result.outcome == "new" and item.fetched.hint.gap:
                stats.inc_value(RECOVERED)  # a gap's extra documents brought it
            if result.alerts:
                stats.inc_value("veille/alerts", result.alerts)
            if result.duplicate_of_other_url:
                stats.inc_value("veille/same_text_other_url")
            if note := result.canonical_warning():
                self.save_failure(FetchErrorItem(item.source_id, item.fetched.response_url,
                                           "canonical-refused", note, level="warning"))
            for warning in article_warnings(item):
                if warning.kind == NO_TEXT:
                    stats.inc_value(SHORT_BODIES)
                self.save_failure(warning)
        return item

    def save_failure(self, item: FetchErrorItem) -> None:
        """One failure or warning: its row in fetch_errors, its count, one log line."""
        assert self.store is not None
        stats = self.crawler.stats
        try:
            self.store.record_error(
                stats.get_value("veille/run_id"), item.source_id, item.url, item.kind,
                item.message, item.level,
            )
        except STORAGE_ERRORS as exc:  # the log line below still says it; the run fails
            stats.inc_value("veille/store_errors")
            stats.set_value("veille/store_error", one_line(exc))
        stats.inc_value(f"veille/{item.level}s")
        if item.fatal:
            stats.set_value("veille/fatal", item.message)
            stats.set_value(FATAL_KIND, item.kind)
            stats.set_value(FATAL_URL, item.url)
        if item.level == "error":
            LOGGER.error("%s: %s", item.source_id, item.message)
        elif item.kind in (NO_TEXT, "extract") and item.url:
            LOGGER.warning("%s: %s: %s", item.source_id, item.message, item.url)
        else:
            LOGGER.warning("%s: %s", item.source_id, item.message)
