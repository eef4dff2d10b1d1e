"""The items of a crawl: an extracted article page (`ArticleItem`, yielded by spiders), the
same made a record (`NormalizedArticle`, from the normalize pipeline), or a failure to record."""

from __future__ import annotations

from dataclasses import dataclass

from crawler.page.extract import ExtractedArticle
from crawler.page.listing import ListingHint
from crawler.record.article import StoredArticle
from crawler.record.pages import PageRef


@dataclass
class ArticleItem:
    """An article page as fetched and extracted, before normalization."""

    source_id: str
    hint: ListingHint
    response_url: str
    redirect_urls: tuple[str, ...]
    extracted: ExtractedArticle
    fallback_topic: str | None = None
    default_language: str | None = None
    run_id: int | None = None  # set by `veille worker`, whose items go to the ingester
    page: PageRef | None = None  # where the response is kept (None: not kept, as in a worker)


@dataclass(frozen=True)
class NormalizedArticle:
    """An article page made the record `Store.save_article` writes (`NormalizePipeline`):
    the one shape the store pipeline, and a worker's stream to the ingester, take."""

    article: StoredArticle
    fetched: ArticleItem  # the page it came from: its run, kept page and extraction warnings

    @property
    def source_id(self) -> str:
        return self.article.source_id


@dataclass
class FetchErrorItem:
    """A fetch or parse that failed (level "error") or succeeded with a defect ("warning")."""

    source_id: str
    url: str | None
    kind: str
    message: str
    level: str = "error"
    fatal: bool = False  # the source's start URL itself failed: the run has failed
    run_id: int | None = None  # set by `veille worker`, whose items go to the ingester
