"""What workers, the ingester and a distributed scheduler share in Redis.

Keys, all under `[redis] prefix` (P):

- `P:requests`: a stream of requests, read by the consumer group "workers". A worker owns
  an entry from the moment it reads it until it acknowledges it, after every article and
  request the page produced is itself in Redis; then the entry is deleted. A worker that
  dies leaves its entries pending; another one claims them (`reclaim_dead`).
- `P:articles`: a stream of events for `veille ingest` (group "ingest"): "article",
  "error" and "run-done". The ingester acknowledges one only after its SQLite commit.
- `P:run:<id>`: a run's counters; `pending` is how many of its requests are still in
  `P:requests`. The acknowledgement that takes it to 0 also adds the run's "run-done"
  event, in one Lua script, so a run cannot end twice or never.
- `P:run:<id>:validators`: the ETag/Last-Modified a run saw, kept by the ingester only
  if the run ends clean (the single-machine rule: a listing is marked read only once
  all its articles are stored).
- `P:validators`, `P:known`, `P:dead`: what workers read instead of the SQLite record
  (conditional GET validators, stored articles, links that failed for good); the ingester
  writes them after each commit and copies the record into them when it starts.
- `P:seen:<fingerprint>:<scope>`: the shared duplicate filter, one key per request with a
  time to live; `P:robots:<origin>`: robots.txt files, with a time to live.
- `P:host:<netloc>`: the next moment a site may be sent a request by any worker.
- `P:worker:<name>`: a worker's heartbeat; `P:ingester`: the ingester's lock.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

import redis

from crawler.cluster import wire
from crawler.config.model import RedisSettings
from crawler.errors import ClusterError
from crawler.page.links import DEAD, FETCH, UNCHANGED, HttpValidators, Link
from crawler.record.store import KnownArticle

LOGGER = logging.getLogger(__name__)

WORKERS = "workers"  # consumer group of P:requests
INGEST = "ingest"  # consumer group of P:articles

# Acknowledge a request entry; count it against its run; end the run when it was the last.
# KEYS: requests stream, run hash, articles stream. ARGV: group, entry id, run id ("" = none).
_DONE = """
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
if ARGV[3] == '' then return 1 end
redis.call('HINCRBY', KEYS[2], 'requests', 1)
if redis.call('HINCRBY', KEYS[2], 'pending', -1) <= 0 then
  local counts = redis.call('HGETALL', KEYS[2])
  local fields = {}
  for i = 1, #counts, 2 do fields[counts[i]] = tonumber(counts[i + 1]) end
  redis.call('XADD', KEYS[3], '*', 'kind', 'run-done', 'run', ARGV[3],
             'data', cjson.encode(fields))
  redis.call('DEL', KEYS[2])
end
return 1
"""


# Reserve the next moment a host may be sent a request, cluster-wide; returns how many
# milliseconds to wait. Redis's clock, not the workers': their clocks may disagree.
# KEYS: the host's key. ARGV: the delay between two requests, in milliseconds.
_RESERVE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local at = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local delay = tonumber(ARGV[1])
redis.call('SET', KEYS[1], at + delay, 'PX', at + delay - now + 60000)
return at - now
"""


class Keys:
    """Key names under one prefix."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.requests = f"{prefix}:requests"
        self.articles = f"{prefix}:articles"
        self.validators = f"{prefix}:validators"
        self.known = f"{prefix}:known"
        self.dead = f"{prefix}:dead"
        self.rejected = f"{prefix}:rejected"
        self.ingester = f"{prefix}:ingester"

    def run(self, run_id: int | str) -> str:
        return f"{self.prefix}:run:{run_id}"

    def run_validators(self, run_id: int | str) -> str:
        return f"{self.prefix}:run:{run_id}:validators"

    def seen(self, fingerprint: str, scope: str) -> str:
        return f"{self.prefix}:seen:{fingerprint}:{scope}"

    def worker(self, name: str) -> str:
        return f"{self.prefix}:worker:{name}"

    def host(self, netloc: str) -> str:
        return f"{self.prefix}:host:{netloc}"

    def robots(self, origin: str) -> str:
        return f"{self.prefix}:robots:{origin}"


def where(url: str) -> str:
    """A Redis URL fit for a message: host, port and database, never a password."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix:{parts.path}"
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or 6379}{parts.path or '/0'}"


def connect(settings: RedisSettings, environ: Mapping[str, str] | None = None) -> redis.Redis:
    """A client for the configured server, checked with PING, with both groups created."""
    url = settings.resolved_url(environ)
    try:
        client = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=10,
                                      health_check_interval=30)
        client.ping()
        keys = Keys(settings.prefix)
        for stream, group in ((keys.requests, WORKERS), (keys.articles, INGEST)):
            try:
                client.xgroup_create(stream, group, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
    except redis.RedisError as exc:
        raise ClusterError(f"Redis at {where(url)}: {exc}") from None
    return client


class Cluster:
    """One connection and the operations every role uses."""

    def __init__(self, client: redis.Redis, settings: RedisSettings):
        self.client = client
        self.settings = settings
        self.keys = Keys(settings.prefix)
        self.where = where(settings.resolved_url())  # for messages: no password
        self._done = client.register_script(_DONE)
        self._reserve = client.register_script(_RESERVE)

    @classmethod
    def open(cls, settings: RedisSettings, environ: Mapping[str, str] | None = None) -> Cluster:
        return cls(connect(settings, environ), settings)

    # -- requests --------------------------------------------------------------------

    def enqueue_run(self, source_id: str, run_id: int) -> str:
        """Queue a source's poll: its start request is built by the worker that reads it."""
        pipe = self.client.pipeline(transaction=True)
        pipe.hincrby(self.keys.run(run_id), "pending", 1)
        pipe.xadd(self.keys.requests, {"due": json.dumps({"source": source_id, "run": run_id})})
        return pipe.execute()[1].decode()

    def push_request(self, data: bytes, run_id: int | None) -> None:
        pipe = self.client.pipeline(transaction=True)
        if run_id is not None:
            pipe.hincrby(self.keys.run(run_id), "pending", 1)
        pipe.xadd(self.keys.requests, {"request": data})
        pipe.execute()

    def done(self, entry_id: str, run_id: int | None) -> bool:
        """Acknowledge a request entry (see `_DONE`). False if it was acknowledged before."""
        run = "" if run_id is None else str(run_id)
        keys = [self.keys.requests, self.keys.run(run or "none"), self.keys.articles]
        return bool(self._done(keys=keys, args=[WORKERS, entry_id, run]))

    def reserve(self, host: str, delay: float) -> float:
        """Seconds to wait before sending `host` a request, so that all workers together
        keep `delay` seconds between two requests to it."""
        return int(self._reserve(keys=[self.keys.host(host)], args=[int(delay * 1000)])) / 1000

    def queued(self) -> int:
        """Request entries not yet acknowledged: waiting, or being worked on."""
        return int(self.client.xlen(self.keys.requests))

    def backlog(self) -> int:
        """Events not yet acknowledged by the ingester."""
        return int(self.client.xlen(self.keys.articles))

    # -- events for the ingester -------------------------------------------------------

    def push_event(self, kind: str, run_id: int | None, value: object,
                   analysis: object | None = None) -> None:
        fields = {"kind": kind, "run": "" if run_id is None else str(run_id),
                  "data": wire.dumps(value)}
        if analysis is not None:
            fields["analysis"] = wire.dumps(analysis)
        self.client.xadd(self.keys.articles, fields)

    def reject(self, stream: str, entry_id: str, fields: Mapping, problem: str) -> None:
        """Keep an entry nobody can use in P:rejected (for a person to look at), not lost."""
        record = {k.decode() if isinstance(k, bytes) else k: v for k, v in fields.items()}
        record.update({"from": stream, "entry": entry_id, "problem": problem})
        self.client.xadd(self.keys.rejected, record, maxlen=10000, approximate=True)
        LOGGER.error("%s entry %s set aside in %s: %s", stream, entry_id, self.keys.rejected,
                     problem)

    # -- liveness --------------------------------------------------------------------

    def beat(self, name: str) -> None:
        self.client.set(self.keys.worker(name), str(time.time()),
                        px=int(self.settings.worker_timeout_seconds * 1000))

    def alive(self, name: str) -> bool:
        return bool(self.client.exists(self.keys.worker(name)))

    def reclaim_dead(self, me: str) -> list[tuple[str, dict]]:
        """Claim the entries of workers whose heartbeat stopped; returns them, to work on."""
        claimed: list[tuple[str, dict]] = []
        min_idle = int(self.settings.worker_timeout_seconds * 1000)
        for consumer in self.client.xinfo_consumers(self.keys.requests, WORKERS):
            name = _text(consumer["name"])
            if name == me or self.alive(name):
                continue
            if consumer["pending"]:
                pending = self.client.xpending_range(
                    self.keys.requests, WORKERS, min="-", max="+", count=1000, consumername=name)
                ids = [p["message_id"] for p in pending]
                if ids:
                    for entry_id, fields in self.client.xclaim(
                            self.keys.requests, WORKERS, me, min_idle, ids):
                        claimed.append((_text(entry_id), fields))
                    LOGGER.warning("worker %s stopped answering: %d of its requests taken over "
                                   "by %s", name, len(claimed), me)
            elif consumer["idle"] > min_idle:
                self.client.xgroup_delconsumer(self.keys.requests, WORKERS, name)
        return claimed


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisLedger:
    """What a worker's spiders ask (`crawler.crawl.ledger.Ledger`), answered from Redis
    (workers have no SQLite).

    The same questions as `Store` answers on a single machine; the ingester keeps the
    answers current after each commit. (Not `last_run_finished`: a topic spider's early
    stop at a page of known articles is always safe here, since a killed worker's page 2
    is redelivered from the durable queue; workers never run `TopicSpider.start`.)
    """

    def __init__(self, cluster: Cluster, dead_days: float = 7.0):
        self.cluster = cluster
        self.keys = cluster.keys
        self.dead_days = dead_days

    def validators(self, url: str) -> HttpValidators | None:
        raw = self.cluster.client.hget(self.keys.validators, url)
        return wire.loads(raw) if raw else None

    def known(self, url: str) -> KnownArticle | None:
        raw = self.cluster.client.hget(self.keys.known, url)
        if not raw:
            return None
        article_id, canonical, latest = json.loads(raw)
        return KnownArticle(article_id, canonical, latest)

    def failed_for_good(self, url: str) -> bool:
        at = self.cluster.client.zscore(self.keys.dead, url)
        return at is not None and at >= time.time() - self.dead_days * 86400

    def list_links(self, source_id: str, run_id: int,
                   links: Sequence[Link]) -> list[tuple[str, str | None]]:
        """What `Store.list_links` answers, from Redis: the ingester records the listing
        (provenance) from a "listing" event; no claims, as the workers' shared duplicate
        filter makes one fetch of each link."""
        if links:
            self.cluster.push_event("listing", run_id, (source_id, tuple(links)))
        verdicts = []
        for link in links:
            known = self.known(link.url) or (self.known(link.alias) if link.alias else None)
            if known is not None:
                unchanged = (link.listed_at or "") <= (known.latest_time or "")
                verdicts.append((UNCHANGED if unchanged else FETCH, known.latest_time))
            else:
                verdicts.append((DEAD if self.failed_for_good(link.url) else FETCH, None))
        return verdicts

    def save_run_validators(self, run_id: int, polled: Mapping[str, HttpValidators]) -> None:
        if polled:
            self.cluster.client.hset(self.keys.run_validators(run_id),
                                     mapping={url: wire.dumps(v) for url, v in polled.items()})
