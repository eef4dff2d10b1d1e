"""What a spider asks the record before it fetches, and the crawl's one connection to it.

A spider never touches the database: it asks a `Ledger` which listed links to fetch and
what each polled URL answered last time. On one machine the ledger is the crawl's `Store`
(opened once per crawl by `open_store`, shared with the pipelines and middlewares); on a
`veille worker`, which has no database, it is the Redis ledger of `crawler.cluster`, and
the questions only a database answers (`LocalLedger`) are not asked.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from scrapy.settings import Settings

from crawler.config.model import StorySettings
from crawler.page.links import HttpValidators, Link
from crawler.record.outbox import Outbox
from crawler.record.pages import PageArchive, PageRef
from crawler.record.store import Store
from crawler.record.stories import StoryIndex


class Ledger(Protocol):
    """What every spider asks: `Store` on one machine, the Redis ledger on a worker."""

    def validators(self, url: str) -> HttpValidators | None:
        """What `url` (a listing, feed or sitemap) answered at its last clean poll."""

    def list_links(self, source_id: str, run_id: int,
                   links: Sequence[Link]) -> list[tuple[str, str | None]]:
        """Record that the source lists `links`; per link, a verdict of
        `crawler.page.links` and the latest time the site showed for its article."""


class LocalLedger(Ledger, Protocol):
    """What a crawl that writes its own database also asks and tells (`Store`)."""

    def save_validators(self, source_id: str,
                        validators: Mapping[str, HttpValidators]) -> None: ...

    def fetched_elsewhere(self, url: str, source_id: str, run_id: int,
                          claimed: bool = False) -> bool: ...

    def redirected(self, source_id: str, run_id: int, link: Link, target: str) -> None: ...

    def last_run_finished(self, source_id: str) -> bool: ...

    def previous_poll(self, source_id: str, run_id: int) -> str | None: ...

    def listed_before(self, source_id: str, keys: Sequence[str], run_id: int) -> int: ...


class PageKeeper(Protocol):
    """Where fetched article pages are kept (`PageArchive`, WARC files by day)."""

    def keep_response(self, response: Any) -> PageRef | None: ...


def page_keeper(settings: Settings) -> PageKeeper:
    """The archive of raw pages beside the crawl's database."""
    return PageArchive.beside(settings["VEILLE_DB"])


# The stores of the crawl running in this process, one per database and alert set-up,
# with their number of users: every source's spider and store pipeline share one SQLite
# connection instead of two each (each connection holds its own copy of the schema and
# page cache, about 0.9 MB: 21 were open through a 10-source crawl). One thread (the
# reactor's) uses it, and each write is one transaction that never waits on the network.
_SHARED: dict[str, list[Any]] = {}


def open_store(settings: Settings) -> Store:
    """The crawl's database with its alert outbox and story index, from Scrapy settings
    (`crawler.crawl.process.scrapy_settings`): the store pipeline's, the middlewares', and
    the spiders' ledger, whose listings can owe an alert too (`Store.list_links`). Shared by
    every crawler of the process with the same database and alert settings; give it back
    with `release_store`."""
    stories: StorySettings = settings["VEILLE_STORIES"] or StorySettings()
    conflicts = settings.getlist("VEILLE_CONFLICTS")
    subscriptions = settings.getlist("VEILLE_SUBSCRIPTIONS")
    max_age = settings.getfloat("VEILLE_ALERT_MAX_AGE") or None
    key = repr((os.fspath(settings["VEILLE_DB"]), conflicts, subscriptions, max_age, stories))
    if key in _SHARED:
        _SHARED[key][1] += 1
        return _SHARED[key][0]
    outbox = Outbox(conflicts, subscriptions, max_age,
                    update_threshold=stories.update_threshold)
    store = Store.open(settings["VEILLE_DB"], outbox=outbox, stories=StoryIndex(stories))
    _SHARED[key] = [store, 1]
    return store


def release_store(store: Store) -> None:
    """Give back a store from `open_store`: closed when its last user gives it back."""
    for key, entry in list(_SHARED.items()):
        if entry[0] is store:
            entry[1] -= 1
            if entry[1] <= 0:
                del _SHARED[key]
                store.close()
            return
    store.close()  # not a shared one
