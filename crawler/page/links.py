"""What a crawl decides about a link, shared by the spiders, the record and the Redis
ledger of `veille worker`: an article link as a listing named it (`Link`), what a ledger
answers for it (the verdicts), and what a polled URL answered last time (`HttpValidators`).

Plain values: no Scrapy, no database.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Link:
    """An article link as a source listed it (topic page, feed entry, sitemap entry).

    `url` is canonical; `alias` is the URL the article likely has under another spelling
    (the non-AMP page of an AMP link), which names the same fetch.
    """

    url: str
    alias: str | None = None
    topic: str | None = None  # the label the listing gives it
    listed_at: str | None = None  # the time the listing shows beside it

    @property
    def key(self) -> str:
        """The URL its fetch is claimed under: one claim for every spelling of a page."""
        return self.alias or self.url


# What a crawl does about a listed link (`Ledger.list_links`):
FETCH = "fetch"  # new, or changed since the site last showed it: this run fetches it
UNCHANGED = "unchanged"  # stored, and the site shows nothing newer: not fetched
ELSEWHERE = "elsewhere"  # fetched (or being fetched) by another source's run this crawl
DEAD = "dead"  # failed for good lately (404, 410, robots.txt): not fetched


@dataclass(frozen=True)
class HttpValidators:
    """What a listing or feed URL answered at its last clean poll, for a conditional GET."""

    etag: str | None
    last_modified: str | None
    body_hash: str | None
