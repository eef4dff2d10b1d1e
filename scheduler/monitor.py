"""`veille run --metrics HOST:PORT`: an HTTP server in the daemon with Prometheus metrics at
`/metrics` and a health check at `/healthz`.

The health check fails (503) when no poll started or ended for twice the daemon's longest
configured interval: a scheduler that stopped firing, or every poll slot held by a hung crawl.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from http import HTTPStatus
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import make_wsgi_app
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.registry import Collector, CollectorRegistry

from crawler.clock import utc_now
from crawler.config.cron import cron_trigger
from crawler.config.model import Config, Source
from crawler.errors import BadInputError
from scheduler.schedules import interval_seconds, jitter

LOGGER = logging.getLogger("veille.daemon")

# A cron timetable's longest gap is looked for among this many of its next fire times
# (a week of a "*/5 * * * 1-5" one, weekend included), and at most a year ahead.
_CRON_FIRES = 2100
_CRON_HORIZON = timedelta(days=366)


def parse_address(text: str) -> tuple[str, int]:
    """`HOST:PORT` ("127.0.0.1:9464", "[::1]:9464", "localhost:0") as a host and a port.

    Raises:
        BadInputError: not HOST:PORT with a port from 0 to 65535.
    """
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    bare_ipv6 = ":" in host and not text.startswith("[")
    if not sep or not host or bare_ipv6 or not port.isdigit() or int(port) > 65535:
        raise BadInputError(f"--metrics {text!r}: give HOST:PORT, such as 127.0.0.1:9464 "
                            "(a port from 0 to 65535; [::1]:9464 for IPv6)")
    return host, int(port)


def longest_interval(config: Config, now: datetime | None = None) -> float | None:
    """The longest time, in seconds, between two polls of one source as configured (jitter
    included; an adaptive source's `max_every`); None without sources."""
    now = now or utc_now()
    longest = [_longest(source, config, now) for source in config.sources]
    return max(longest) if longest else None


def _longest(source: Source, config: Config, now: datetime) -> float:
    settings = config.schedule
    if source.adaptive:
        longest = source.max_every_seconds or settings.max_every_seconds
    elif not source.schedule:
        longest = interval_seconds(source, settings)
    else:
        longest = _cron_gap(source.schedule, config.crawl.timezone, now.date())
    return longest + jitter(source, settings)


@lru_cache(maxsize=256)
def _cron_gap(expression: str, timezone: str, day: date) -> float:
    """The longest gap between two fire times of a cron timetable from `day` on (sources
    that share a timetable share the work: about 0.1 s for a busy one)."""
    trigger = cron_trigger(expression, timezone)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    fires: list[datetime] = []
    moment = trigger.get_next_fire_time(None, start)
    while moment is not None and len(fires) < _CRON_FIRES and moment - start <= _CRON_HORIZON:
        fires.append(moment)
        moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
    gaps = [(b - a).total_seconds() for a, b in zip(fires, fires[1:], strict=False)]
    return max(gaps) if gaps else _CRON_HORIZON.total_seconds()


class Health:
    """Whether the daemon polls: the last time a poll started or ended, against twice its
    longest interval (`interval()` gives that, read again at each check: a reload changes it)."""

    def __init__(self, interval: Callable[[], float | None],
                 clock: Callable[[], datetime] = utc_now):
        self.interval = interval
        self.clock = clock
        self.started = clock()
        self.last_poll: datetime | None = None
        self.stopping = False

    def polled(self) -> None:
        """A poll starts or ends now (a poll longer than the interval is not a silence)."""
        self.last_poll = self.clock()

    def check(self) -> tuple[bool, str]:
        """(healthy, one line saying why)."""
        if self.stopping:
            return False, "stopping"
        interval = self.interval()
        if interval is None:
            return True, "ok: no source to poll"
        since = self.last_poll or self.started
        quiet = (self.clock() - since).total_seconds()
        limit = 2 * interval
        if quiet > limit:
            what = f"no poll started or ended for {quiet:.0f} s" if self.last_poll \
                else f"no poll since the daemon started {quiet:.0f} s ago"
            return False, (f"stale: {what}, more than {limit:.0f} s (twice the longest "
                           f"interval, {interval:.0f} s)")
        what = f"a poll started or ended {quiet:.0f} s ago" if self.last_poll \
            else f"no poll yet, started {quiet:.0f} s ago"
        return True, f"ok: {what} (limit {limit:.0f} s)"


class HealthCollector(Collector):
    """The daemon's own figures, from memory: its last poll and its health."""

    def __init__(self, health: Health):
        self.health = health

    def collect(self):
        last = GaugeMetricFamily("veille_daemon_last_poll_timestamp_seconds",
                                 "When a poll of the daemon last started or ended (Unix time; "
                                 "0: none yet)")
        last.add_metric([], self.health.last_poll.timestamp() if self.health.last_poll else 0)
        yield last
        healthy = GaugeMetricFamily("veille_daemon_healthy", "1 while /healthz answers 200")
        healthy.add_metric([], 1 if self.health.check()[0] else 0)
        yield healthy


class MonitorServer:
    """The HTTP server, bound at construction (so a bad address fails before the daemon
    starts) and serving from `start` until `stop`, in a thread of its own: prometheus_client's
    WSGI app at /metrics (text or OpenMetrics, gzip when asked), the health check beside it."""

    def __init__(self, address: str):
        host, port = parse_address(address)
        try:
            family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        except socket.gaierror as exc:
            raise BadInputError(f"--metrics {address}: unknown host {host!r} ({exc.strerror})"
                                ) from None
        server_class = type("_Server", (ThreadingWSGIServer,), {"address_family": family})
        try:
            self.server = make_server(host, port, self._app, server_class, _Handler)
        except OSError as exc:
            raise BadInputError(f"--metrics {address}: cannot listen there: "
                                f"{exc.strerror or exc}") from None
        self.registry = CollectorRegistry()
        self.metrics_app = make_wsgi_app(self.registry)
        self.health: Health | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    def start(self, health: Health, *collectors: Collector) -> None:
        self.health = health
        for collector in (*collectors, HealthCollector(health)):
            self.registry.register(collector)
        self.thread = threading.Thread(target=self.server.serve_forever, name="veille-metrics",
                                       kwargs={"poll_interval": 0.2}, daemon=True)
        self.thread.start()
        LOGGER.info("metrics at %s/metrics, health at %s/healthz", self.url, self.url)

    def stop(self) -> None:
        if self.thread is not None:
            self.server.shutdown()
            self.thread.join()
        self.server.server_close()

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        def no_store(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            return start_response(status, [*headers, ("Cache-Control", "no-store")], *exc_info)

        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            return self.metrics_app(environ, no_store)
        if path == "/healthz":
            assert self.health is not None
            healthy, text = self.health.check()
            status = HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE
        elif path == "/":
            status, text = HTTPStatus.OK, "Veille daemon: /metrics (Prometheus), /healthz"
        else:
            status, text = HTTPStatus.NOT_FOUND, "not found: /metrics or /healthz"
        no_store(f"{status.value} {status.phrase}",
                 [("Content-Type", "text/plain; charset=utf-8")])
        return [f"{text}\n".encode()]


class _Handler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        LOGGER.debug("metrics: %s %s", self.address_string(), format % args)
