"""Re-extraction: run the current extractor again over the raw pages kept for stored
articles (crawler/record/pages.py), so that the record improves when extraction does.

Each article's current version points to the response it was extracted from. That page
is decoded and extracted as a crawl would (the source's forced encoding, selectors and
time zone), normalized as a crawl would, and saved with `Store.save_reextraction`: a
changed title, lead or text becomes a new version (the earlier one in `article_versions`,
marked `superseded_by = 'reextract'`), its conflict matches are written again, and no
alert is queued, since the site did not change. What the listing said (the topic label,
the headline or time when the page gives none) is not kept with the page: the record's
own values stand in for it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo

from crawler.clock import parse_time
from crawler.config.model import Config, Source
from crawler.crawl.items import ArticleItem
from crawler.crawl.normalize import normalize_article
from crawler.errors import PageError, PageGone
from crawler.page.charset import decode_html
from crawler.page.extract import extract_article
from crawler.page.listing import ListingHint
from crawler.record.outbox import Outbox
from crawler.record.pages import PageArchive, PageRef
from crawler.record.store import Store
from crawler.record.stories import StoryIndex

LOGGER = logging.getLogger(__name__)

BATCH = 500  # articles read from the database at a time


@dataclass
class ReextractReport:
    """What a re-extraction did, article by article."""

    changed: int = 0
    unchanged: int = 0
    no_page: int = 0  # no page kept: fetched before pages were, by a worker, or pruned
    no_text: int = 0  # the extractor now finds neither title nor text: left as it was
    failures: list[str] = field(default_factory=list)  # "URL: problem", one per article

    @property
    def articles(self) -> int:
        return self.changed + self.unchanged + self.no_page + self.no_text + len(self.failures)

    def summary(self) -> str:
        line = (f"{self.articles} articles re-extracted: {self.changed} changed, "
                f"{self.unchanged} unchanged, {self.no_page} without a kept page")
        if self.no_text:
            line += f", {self.no_text} with no text found now (left as they were)"
        if self.failures:
            line += f", {len(self.failures)} could not be read"
        return line


@dataclass(frozen=True)
class _Stored:
    """An article to re-extract, as the record holds it."""

    id: int
    url: str
    source_id: str
    title: str | None
    topic: str | None
    published: str | None  # published_local: the time the site (or its listing) gave
    page: PageRef | None


def reextract(config: Config, db_path: Path, sources: tuple[Source, ...],
              since: str | None = None) -> ReextractReport:
    """Re-extract the stored articles of `sources` last fetched at or after `since` (UTC
    ISO 8601, or None for all), which is when their kept page was fetched; one
    transaction per changed article."""
    report = ReextractReport()
    archive = PageArchive.beside(db_path)
    # The outbox only matches conflicts here: `save_reextraction` never queues an alert.
    outbox = Outbox(config.conflicts, config.subscriptions)
    with Store.open_for(config, db_path, outbox=outbox,
                        stories=StoryIndex(config.stories)) as store:
        for source in sources:
            tz = ZoneInfo(source.timezone or config.crawl.timezone)
            for article in _articles(store, source.id, since):
                _reextract_one(store, archive, source, tz, article, report)
    return report


def _reextract_one(store: Store, archive: PageArchive, source: Source, tz: ZoneInfo,
                   article: _Stored, report: ReextractReport) -> None:
    if article.page is None:
        report.no_page += 1
        return
    try:
        page = archive.read(article.page)
    except PageGone:
        report.no_page += 1
        LOGGER.info("%s: page no longer kept (%s)", article.url, article.page.file)
        return
    except (PageError, OSError) as exc:
        report.failures.append(f"{article.url}: page not readable: {exc}")
        return
    try:
        html, _ = decode_html(page.body, page.header("Content-Type"), forced=source.encoding)
        extracted = extract_article(html, page.url, selectors=source.selectors, default_tz=tz,
                                    default_language=source.language)
    except Exception as exc:  # noqa: BLE001 - one page must not stop the others
        report.failures.append(f"{article.url}: extraction failed: {type(exc).__name__}: {exc}")
        return
    if not extracted.body.strip() and not extracted.title:
        report.no_text += 1
        return
    published = parse_time(article.published)
    item = ArticleItem(
        source_id=article.source_id,
        hint=ListingHint(url=page.url, via="fetched", topic=article.topic,
                         listed_at=published, title=article.title),
        response_url=page.url, redirect_urls=(), extracted=extracted,
        fallback_topic=source.topic, default_language=source.language, page=article.page,
    )
    # No listing led here: the article's URLs and their listed times stay as they are.
    stored = replace(normalize_article(item, source.domains), listed_url=None, listed_at=None)
    change = store.save_reextraction(article.id, stored, article.page)
    if change is None:
        report.unchanged += 1
    else:
        report.changed += 1
        LOGGER.info("%s: re-extracted, %d words added, %d removed", article.url,
                    change.words_added, change.words_removed)


def _articles(store: Store, source_id: str, since: str | None) -> Iterator[_Stored]:
    """The source's articles (with their current version's page, if kept), by id."""
    last = 0
    while True:
        params: list = [source_id, last]
        where = ""
        if since is not None:
            where = "AND a.last_fetched_at >= ?"
            params.append(since)
        rows = store.db.execute(
            "SELECT a.id, a.canonical_url, a.title, a.topic, "
            "a.published_local, p.file, p.byte_offset, p.record_id "
            "FROM articles a LEFT JOIN article_pages p "
            "ON p.article_id = a.id AND p.version = a.version "
            f"WHERE a.source_id = ? AND a.id > ? {where} ORDER BY a.id LIMIT {BATCH}",
            params,
        ).fetchall()
        if not rows:
            return
        for id_, url, title, topic, published, file, offset, record_id in rows:
            page = PageRef(file, offset, record_id) if file is not None else None
            yield _Stored(id_, url, source_id, title, topic, published, page)
        last = rows[-1][0]
