"""The article record: what the pipelines hand to the store (`StoredArticle`), and how
much a new version changed its text (`Change`). Plain values, imported by the store, the
outbox and the scale-out wire alike."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StoredArticle:
    """The normalized article the pipelines hand to `Store.save_article`."""

    source_id: str
    canonical_url: str
    urls: tuple[tuple[str, str], ...]  # (canonical URL, how it was reached), canonical first
    title: str | None
    lead: str | None
    body: str
    authors: tuple[str, ...]
    topic: str | None
    section: str | None
    published_at: str | None
    published_local: str | None
    updated_at: str | None
    updated_local: str | None
    image_url: str | None
    image_caption: str | None
    language: str | None
    word_count: int
    content_hash: str
    listed_url: str | None = None  # the link (listing, feed, sitemap) that led to it
    listed_at: str | None = None  # the time the site showed beside that link
    # Where published_at came from: "page", "listing", "feed", "sitemap", "url" (the day
    # the URL names); None: nowhere, and the store dates it "first-seen".
    published_from: str | None = None
    # The feed entry's GUID (its <guid> or Atom <id>), which names the article for its
    # source whatever its URL becomes; None off feeds.
    guid: str | None = None


@dataclass(frozen=True)
class Change:
    """How much a new version changed an article's text."""

    words_added: int
    words_removed: int
    words_before: int

    @property
    def share(self) -> float:
        return (self.words_added + self.words_removed) / max(1, self.words_before)
