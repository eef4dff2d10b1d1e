"""scrapy-redis, adapted so that a killed worker loses nothing.

scrapy-redis 0.9.1 supplies the scheduler, the connection settings and the duplicate
filter. Three of its defaults do not fit a crawl that must lose nothing, so they are
replaced here:

- its queues are lists: a worker pops a request, and if it is killed before the response
  is handled, the request is gone. `StreamQueue` reads a Redis stream through a consumer
  group instead: the entry stays pending until the worker acknowledges it (`Cluster.done`)
  and another worker claims it if this one stops beating.
- it pickles requests; `StreamQueue` sends JSON (`crawler.cluster.wire`).
- its duplicate filter is one set that grows forever, and its scheduler wipes the shared
  queue when a worker closes unless SCHEDULER_PERSIST is set. `SharedDupeFilter` keeps one
  key per request with a time to live; `StreamScheduler` never flushes.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from typing import Any

import redis
from scrapy import Request
from scrapy.utils.misc import load_object
from scrapy.utils.request import request_from_dict
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import Base
from scrapy_redis.scheduler import Scheduler

from crawler.cluster import wire
from crawler.cluster.shared import WORKERS, Cluster, Keys
from crawler.crawl.items import FetchErrorItem

LOGGER = logging.getLogger(__name__)


def seen_scope(request: Request) -> str:
    """What, besides the URL, makes a request new for the duplicate filter.

    A listing or feed poll is new in every run (and fetched once per run, however many
    pages link to it). An article is new for each version of it the record holds: links
    to it from several sources before it is stored make one fetch; a listing that later
    shows it changed (the spider asks only then) makes one more.
    """
    if request.meta.get("veille_poll"):
        return f"run{request.meta.get('veille_run', '')}"
    return request.meta.get("veille_known_time") or "-"


class SharedDupeFilter(RFPDupeFilter):
    """One Redis key per request fingerprint and scope, with a time to live."""

    def __init__(self, server: Any, key: str, ttl: float, debug: bool = False):
        super().__init__(server, key, debug)
        self.keys = Keys(key)
        self.ttl_ms = int(ttl * 1000)

    @classmethod
    def from_spider(cls, spider: Any) -> SharedDupeFilter:
        cluster: Cluster = spider.cluster
        dupefilter = cls(cluster.client, cluster.keys.prefix, cluster.settings.seen_ttl_seconds,
                         debug=spider.settings.getbool("DUPEFILTER_DEBUG"))
        spider.dupefilter = dupefilter  # the spider forgets failed requests through it
        return dupefilter

    def key_for(self, request: Request) -> str:
        return self.keys.seen(self.request_fingerprint(request), seen_scope(request))

    def request_seen(self, request: Request) -> bool:
        return not self.server.set(self.key_for(request), 1, nx=True, px=self.ttl_ms)

    def forget(self, request: Request) -> None:
        """Let a request that failed be made again by a later poll."""
        self.server.delete(self.key_for(request))

    def clear(self) -> None:
        """Never wipe what the other workers share."""


class StreamQueue(Base):
    """The shared requests, as entries of a Redis stream read by a consumer group."""

    def __init__(self, server: Any, spider: Any, key: str, serializer: Any = None):
        super().__init__(server, spider, key, serializer=wire)
        self.cluster: Cluster = spider.cluster
        self.key = self.cluster.keys.requests
        self.consumer: str = spider.consumer
        self.buffer: deque[tuple[str, dict]] = deque()
        self.next_reclaim = 0.0

    def __len__(self) -> int:
        return self.cluster.queued()

    def push(self, request: Request) -> None:
        self.cluster.push_request(self._encode_request(request), request.meta.get("veille_run"))

    def pop(self, timeout: float = 0) -> Request | None:
        if self.spider.broken:
            return None
        try:
            return self._pop()
        except redis.RedisError as exc:
            self.spider.fail(f"could not read {self.key}: {exc}")
            return None

    def _pop(self) -> Request | None:
        while True:
            if not self.buffer:
                self._fill()
            if not self.buffer:
                return None
            entry_id, fields = self.buffer.popleft()
            request = self._decode_entry(entry_id, fields)
            if request is not None:
                return request

    def _fill(self) -> None:
        # One entry at a time: what a worker reads, no other can take while it lives.
        # (Each worker process is a new consumer: what an earlier one left is reclaimed.)
        got = self.cluster.client.xreadgroup(WORKERS, self.consumer, {self.key: ">"}, count=1)
        if got and got[0][1]:
            self.buffer.extend((_text(i), f) for i, f in got[0][1])
            return
        if time.monotonic() >= self.next_reclaim:
            self.next_reclaim = time.monotonic() + self.cluster.settings.worker_timeout_seconds / 3
            self.buffer.extend(self.cluster.reclaim_dead(self.consumer))

    def _decode_entry(self, entry_id: str, fields: dict | None) -> Request | None:
        if not fields:  # deleted while pending (acknowledged by its first owner): done
            self.cluster.done(entry_id, None)
            return None
        fields = {_text(k): v for k, v in fields.items()}
        try:
            if "due" in fields:
                due = json.loads(fields["due"])
                request = self.spider.first_request(due["source"], int(due["run"]))
            else:
                request = request_from_dict(wire.loads(fields["request"]), spider=self.spider)
        except Exception as exc:  # noqa: BLE001 - a bad entry must not stop the worker
            problem = f"{type(exc).__name__}: {exc}"
            self.cluster.reject(self.key, entry_id, fields, problem)
            run = None
            if "due" in fields:
                # The run fails, visibly, rather than ending with nothing fetched.
                run, source = _due_of(fields["due"])
                self.cluster.push_event("error", run, FetchErrorItem(
                    source, None, "worker",
                    f"worker {self.consumer} could not start this run: {problem}",
                    fatal=True))
            self.cluster.done(entry_id, run)
            return None
        request.meta["veille_entry"] = entry_id
        return request


def _due_of(due: bytes) -> tuple[int | None, str]:
    try:
        message = json.loads(due)
        return int(message["run"]), str(message["source"])
    except (ValueError, KeyError, TypeError):
        return None, "?"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class StreamScheduler(Scheduler):
    """scrapy-redis's scheduler, with a request that continues an entry (a redirect or a
    retry carries the entry it came from) ending that entry once it is queued itself."""

    def enqueue_request(self, request: Request) -> bool:
        parent = request.meta.pop("veille_entry", None)
        run = request.meta.get("veille_run")
        if self.spider.broken:
            return False
        try:
            # A redirect is followed even to a page fetched already: the URL it came
            # from is recorded as one more address of that article, as on one machine.
            if not parent and not request.dont_filter and self.df.request_seen(request):
                self.df.log(request, self.spider)
                return False
            try:
                self.queue.push(request)
            except TypeError as exc:
                LOGGER.error("%s: cannot queue %s: %s", request.meta.get("veille_source"),
                             request.url, exc)
                return False
        except redis.RedisError as exc:
            # Its parent entry is not acknowledged: it goes to another worker, whole.
            self.spider.fail(f"could not queue {request.url}: {exc}")
            return False
        else:
            # Queued: Scrapy fires request_dropped for any other answer.
            if self.stats:
                self.stats.inc_value("scheduler/enqueued/redis")
            return True
        finally:
            if parent and not self.spider.broken:
                self.spider.acknowledge_entry(parent, run)

    def open(self, spider: Any) -> None:
        self.spider = spider
        self.queue = load_object(self.queue_cls)(server=self.server, spider=spider,
                                                 key=self.queue_key, serializer=self.serializer)
        self.df = load_object(self.dupefilter_cls).from_spider(spider)

    def next_request(self) -> Request | None:
        request = self.queue.pop()
        if request is not None and self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def has_pending_requests(self) -> bool:
        if self.spider.broken:
            return False
        try:
            return len(self.queue) > 0
        except redis.RedisError as exc:
            self.spider.fail(f"could not read {self.queue.key}: {exc}")
            return False

    def close(self, reason: str) -> None:
        """Leave the shared queue as it is (scrapy-redis flushes it unless told to persist)."""
