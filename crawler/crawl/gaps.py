"""A gap in a source's record: a poll whose listed items were all new after an earlier
successful poll, so items published in between may have scrolled off unseen.

The spider (`spiders.gaps`) detects it and reads further (next pages, the site's
sitemap for the interval); the run's close records it as one `source_events` row
(`record_gap`), with the articles those extra documents brought.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from crawler.record import events
from crawler.record.store import Store
from crawler.wording import plural

LOGGER = logging.getLogger(__name__)

# Sitemap entries dated up to this long before the previous poll are read for a gap: a
# site's dates and our clock disagree by minutes, and an item may be dated before it is
# listed.
GAP_MARGIN = timedelta(hours=1)
# The stats key of the articles stored new from a gap's extra documents.
RECOVERED = "veille/gap_recovered"


@dataclass
class Gap:
    """A gap found by this run's poll, and what the run read to fill it."""

    since: str  # the previous successful poll (its run's start)
    listed: int  # the items of the polled document, all new
    what: str  # "feed item" or "listing link": what the poll listed
    next_pages: list[str] = field(default_factory=list)  # next pages read
    robots: str | None = None  # the robots.txt read for its Sitemap: lines
    sitemaps: list[str] = field(default_factory=list)  # sitemaps read
    failed: list[str] = field(default_factory=list)  # extra documents that could not be read
    bridged: bool = False  # a page read further showed links known before

    def message(self, recovered: int) -> str:
        """One line: "every one of the 20 feed items was new: 30 articles recovered from
        2 next pages (since 2026-11-20T11:50:00Z)"."""
        sources = []
        if self.next_pages:
            sources.append(plural(len(self.next_pages), "next page"))
        if self.sitemaps:
            sources.append(plural(len(self.sitemaps), "sitemap document"))
        read = " and ".join(sources) if sources else "nothing further to read"
        text = (f"every one of the {plural(self.listed, self.what)} was new: "
                f"{plural(recovered, 'article')} recovered from {read} (since {self.since})")
        if self.failed:
            text += f"; {plural(len(self.failed), 'document')} could not be read"
        return text

    def evidence(self) -> dict[str, Any]:
        return {"listed": self.listed, "next_pages": self.next_pages, "robots": self.robots,
                "sitemaps": self.sitemaps, "failed": self.failed, "bridged": self.bridged}


def record_gap(store: Store, run_id: int, source_id: str, gap: Gap, recovered: int) -> None:
    """The gap's `source_events` row, written when its run closes (also with 0 recovered)."""
    message = gap.message(recovered)
    events.record_gap(store.db, run_id, source_id, gap.since, recovered, message,
                      gap.evidence(), store.now())
    LOGGER.warning("%s: gap: %s", source_id, message)
