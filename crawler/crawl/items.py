"""The items spiders yield: an extracted article page, or a failure to record."""

from __future__ import annotations

from dataclasses import dataclass, field

from crawler.page.extract import ExtractedArticle
from crawler.page.listing import ListingHint
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
    stored: object | None = field(default=None, repr=False)  # set by the normalize pipeline
    run_id: int | None = None  # set by `veille worker`, whose items go to the ingester
    page: PageRef | None = None  # where the response is kept (None: not kept, as in a worker)


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
