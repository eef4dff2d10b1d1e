"""The hand-off to `veille worker`s, for distributed polls (`[schedule] distributed =
true`): a due source is not crawled here but its run is queued in Redis for the workers;
`veille ingest` closes it."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import redis

from crawler.clock import stamp
from crawler.cluster.shared import Cluster
from crawler.config.model import Config, Source
from crawler.errors import ClusterError
from crawler.record.store import Store

LOGGER = logging.getLogger("veille.queue")


@dataclass(frozen=True)
class Queued:
    """What became of one source: queued as `run_id`, or skipped with a reason."""

    source_id: str
    run_id: int | None
    note: str


def queue_sources(config: Config, db_path: Path, sources: Iterable[Source],
                  cluster: Cluster | None = None) -> list[Queued]:
    """Queue one run of each source for the workers.

    A source whose previous queued run is still open is skipped (one run per source at a
    time, as on a single machine), unless that run is older than `[schedule] timeout`: then
    it is closed as interrupted (workers down, or Redis lost its queue) and a new one queued.
    """
    assert config.redis is not None
    cluster = cluster or Cluster.open(config.redis)
    done: list[Queued] = []
    with Store.open_for(config, db_path) as store:
        limit = stamp(store.clock() - timedelta(seconds=config.schedule.timeout_seconds))
        for source in sources:
            open_run = store.db.execute(
                "SELECT id, started_at FROM crawl_runs WHERE source_id = ? AND status = 'queued' "
                "ORDER BY id DESC LIMIT 1", [source.id]).fetchone()
            if open_run is not None and open_run[1] > limit:
                done.append(Queued(source.id, None,
                                   f"run {open_run[0]} still queued since {open_run[1]}"))
                continue
            if open_run is not None:
                store.finish_run(open_run[0], "interrupted", {}, "not finished by the workers "
                                 "within the [schedule] timeout")
                LOGGER.warning("%s: run %d never finished; queued again", source.id, open_run[0])
            run_id = store.queue_run(source.id)
            try:
                cluster.enqueue_run(source.id, run_id)
            except redis.RedisError as exc:
                store.finish_run(run_id, "interrupted", {}, f"could not queue it: {exc}")
                raise ClusterError(f"{source.id}: could not queue its run in Redis: {exc}") \
                    from None
            done.append(Queued(source.id, run_id, "queued"))
    return done
