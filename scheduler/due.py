"""The sources due for a poll now, as the record says (`veille crawl --due`, `veille queue
--due`): the daemon's rule, for system cron."""

from __future__ import annotations

from pathlib import Path

from crawler.clock import utc_now
from crawler.config.model import Config, Source
from crawler.record.schema import open_database
from crawler.record.store import Store
from scheduler.schedules import due_sources


def due_only(db_file: Path, config: Config, sources: tuple[Source, ...]
             ) -> tuple[Source, ...]:
    """The sources among `sources` whose schedule says a poll is due now."""
    with Store(open_database(db_file)) as store:
        wanted = {s.id for s in due_sources(config, store.db, utc_now())}
    return tuple(s for s in sources if s.id in wanted)
