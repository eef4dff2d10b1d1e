"""`veille run --metrics`: the Prometheus text scraped over HTTP and parsed with
prometheus_client's parser, checked against the record; the health check, 200 then 503 as
an injected clock moves; the address refused with one line."""

from __future__ import annotations

import os
import socket
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest
from conftest import Clock, crawl, rows, veille, write_config
from prometheus_client.parser import text_string_to_metric_families
from receivers import WEBHOOK_SECRET
from test_daemon import ALERTS, TOPIC, Daemon
from test_dispatch import Desk, webhook_sub

from crawler.config.model import Source, load_config
from crawler.errors import BadInputError
from crawler.record import events
from crawler.record.schema import connect
from crawler.record.store import Store
from scheduler.metrics import RecordCollector
from scheduler.monitor import Health, MonitorServer, longest_interval, parse_address

pytest_plugins = ["receivers"]

BROKEN = """
[[source]]
id = "gone-feed"
kind = "feed"
url = "{site}/no-such-feed.xml"
"""


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape: (name, sorted labels) -> value."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(target: MonitorServer | str) -> dict:
    url = target.url if isinstance(target, MonitorServer) else target
    status, text = get(f"{url}/metrics")
    assert status == 200
    return samples(text)


def value(found: dict, name: str, **labels: str) -> float:
    return found[name, tuple(sorted(labels.items()))]


@pytest.fixture
def daemons():
    """Daemons a test starts, killed at its end (as tests/test_daemon.py's fixture; a test
    module registered as a plugin is not found under pytest-xdist)."""
    started: list[Daemon] = []
    yield lambda *args, **kwargs: started.append(Daemon(*args, **kwargs)) or started[-1]
    for daemon in started:
        daemon.kill()


def test_the_daemon_serves_the_records_figures(mini_site, webhook_receiver, tmp_path, daemons):
    # polled at once, then every minute: the health check's limit is 2 minutes
    config = write_config(tmp_path / "veille.toml", mini_site.origin,
                          TOPIC.replace('every = "1s"', 'every = "1m"', 1) + BROKEN
                          + ALERTS.replace("{hook}", webhook_receiver.url))
    db = tmp_path / "veille.db"
    daemon = daemons(config, db, {"HOOK_SECRET": WEBHOOK_SECRET},
                     args=("--metrics", "127.0.0.1:0"))
    [line] = daemon.wait_for(r"metrics at http://127\.0\.0\.1:\d+/metrics")
    url = line.split("metrics at ", 1)[1].split("/metrics")[0]
    daemon.wait_for(r"mini-topic: ok in [\d.]+ s, 6 new, 0 updated")
    daemon.wait_for(r"desk: sent 1 alert\(s\) by webhook")
    daemon.wait_for(r"gone-feed: failed")
    polls_before = rows(db, "SELECT count(*) AS n FROM crawl_runs WHERE source_id = 'mini-topic' "
                            "AND status = 'ok'")[0]["n"]
    found = scrape(url)
    polls_after = rows(db, "SELECT count(*) AS n FROM crawl_runs WHERE source_id = 'mini-topic' "
                           "AND status = 'ok'")[0]["n"]
    assert polls_before <= value(found, "veille_polls_total", source="mini-topic",
                                 status="ok") <= polls_after
    assert value(found, "veille_polls_total", source="gone-feed", status="failed") >= 1
    stored = rows(db, "SELECT count(*) AS n FROM articles")[0]["n"]
    assert stored == 6
    assert value(found, "veille_articles_total", source="mini-topic", change="new") == stored
    assert value(found, "veille_articles_stored", source="mini-topic") == stored
    kinds = rows(db, "SELECT level, kind, count(*) AS n FROM fetch_errors "
                     "WHERE source_id = 'gone-feed' GROUP BY 1, 2")
    assert kinds and all(
        value(found, "veille_fetch_errors_total", source="gone-feed", level=k["level"],
              kind=k["kind"]) >= k["n"] for k in kinds)
    assert value(found, "veille_alerts", channel="webhook", status="sent") == 1
    assert value(found, "veille_alerts_due") == 0
    [source] = rows(db, "SELECT last_success_at FROM sources WHERE id = 'mini-topic'")
    last = value(found, "veille_source_last_success_timestamp_seconds", source="mini-topic")
    first_success = datetime.fromisoformat(source["last_success_at"].replace("Z", "+00:00"))
    assert 0 <= first_success.timestamp() - last < 60  # later polls move it on
    assert ("veille_source_last_success_timestamp_seconds", (("source", "gone-feed"),)) \
        not in found
    assert value(found, "veille_source_failures", source="gone-feed") >= 1
    assert value(found, "veille_daemon_healthy") == 1
    assert value(found, "veille_record_readable") == 1
    status, text = get(f"{url}/healthz")
    assert status == 200 and text.startswith("ok: a poll started or ended ")
    assert get(f"{url}/nothing")[0] == 404
    assert daemon.stop() == 0
    with pytest.raises(urllib.error.URLError):  # the port is closed with the daemon
        get(f"{url}/healthz")


def test_counters_read_once_a_run_ended_and_add_up_across_scrapes(mini_site, tmp_path):
    config = write_config(tmp_path / "veille.toml", mini_site.origin,
                          TOPIC.split("[schedule]")[0] + TOPIC.split('grace = "2s"')[1] + BROKEN)
    db = tmp_path / "veille.db"
    assert crawl(config, db).returncode == 1  # the broken feed fails
    kept = RecordCollector(db)
    first = samples_of(kept)
    assert value(first, "veille_articles_total", source="mini-topic", change="new") == 6
    conn = connect(db)
    # A poll still running (its process alive) is not counted yet, only shown as open; the
    # polls that end after it are.
    with conn.conn:
        conn.execute("INSERT INTO crawl_runs (source_id, started_at, status, pid, new) "
                     "VALUES ('mini-topic', '2026-11-20T12:00:00Z', 'running', ?, 40)",
                     [os.getpid()])
    mini_site.edition = 2
    assert crawl(config, db, "--source", "mini-topic").returncode == 0
    second = samples_of(kept)
    assert value(second, "veille_polls_open", status="running") == 1
    assert value(second, "veille_articles_total", source="mini-topic", change="new") == 7
    assert value(second, "veille_articles_total", source="mini-topic", change="updated") == 1
    with conn.conn:
        conn.execute("UPDATE crawl_runs SET status = 'interrupted' WHERE status = 'running'")
    third, fresh = samples_of(kept), samples_of(RecordCollector(db))
    assert third == fresh  # the running sums are what a new process reads
    assert value(third, "veille_articles_total", source="mini-topic", change="new") == 47
    assert value(third, "veille_polls_total", source="mini-topic", status="interrupted") == 1
    assert value(third, "veille_polls_open", status="running") == 0
    errors = rows(db, "SELECT count(*) AS n FROM fetch_errors")[0]["n"]
    assert sum(v for (name, _), v in third.items() if name == "veille_fetch_errors_total") \
        == errors


def samples_of(collector: RecordCollector) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in collector.collect() for s in family.samples}


def test_the_alert_queue_and_its_oldest_alert(tmp_path, webhook_receiver):
    clock = Clock()
    desk = Desk(tmp_path / "v.db", [webhook_sub(webhook_receiver.url)], clock)
    desk.publish("Artsakh", "Artsakh.")
    desk.publish("Karabakh", "Haut-Karabakh.")
    collector = RecordCollector(tmp_path / "v.db", clock=clock)
    found = samples_of(collector)
    assert value(found, "veille_alerts", channel="webhook", status="pending") == 2
    assert value(found, "veille_alerts_due") == 2
    webhook_receiver.down()
    clock.advance(1)
    assert desk.dispatcher().run().retrying == 2
    found = samples_of(collector)
    assert value(found, "veille_alerts_due") == 0  # waiting for their next attempt
    assert value(found, "veille_alerts_oldest_waiting_seconds") == 60
    clock.advance(2)
    assert value(samples_of(collector), "veille_alerts_due") == 2


def test_health_is_200_while_polls_start_and_503_after_twice_the_longest_interval():
    clock = Clock(datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    health = Health(lambda: 600.0, clock=clock)
    monitor = MonitorServer("127.0.0.1:0")
    monitor.start(health)
    try:
        assert get(f"{monitor.url}/healthz") == (200, "ok: no poll yet, started 0 s ago "
                                                      "(limit 1200 s)\n")
        clock.advance(19)
        health.polled()
        clock.advance(19)
        assert get(f"{monitor.url}/healthz") == (200, "ok: a poll started or ended 1140 s ago "
                                                      "(limit 1200 s)\n")
        assert value(scrape(monitor), "veille_daemon_healthy") == 1
        assert value(scrape(monitor), "veille_daemon_last_poll_timestamp_seconds") == \
            datetime(2026, 11, 20, 12, 19, tzinfo=UTC).timestamp()
        clock.advance(2)
        status, text = get(f"{monitor.url}/healthz")
        assert status == 503
        assert text == ("stale: no poll started or ended for 1260 s, more than 1200 s (twice "
                        "the longest interval, 600 s)\n")
        assert value(scrape(monitor), "veille_daemon_healthy") == 0
        health.polled()
        assert get(f"{monitor.url}/healthz")[0] == 200
        health.stopping = True
        assert get(f"{monitor.url}/healthz") == (503, "stopping\n")
    finally:
        monitor.stop()


def test_the_longest_interval_of_each_kind_of_timetable(tmp_path):
    path = tmp_path / "veille.toml"
    sources = """
[schedule]
every = "5m"
jitter = "30s"

[[source]]
id = "plain"
kind = "feed"
url = "https://a.example/rss"

[[source]]
id = "weekdays"
kind = "feed"
url = "https://b.example/rss"
schedule = "0 8 * * 1-5"
jitter = 0
"""
    path.write_text(sources, encoding="utf-8")
    config = load_config(path)
    # Friday 08:00 to Monday 08:00, whatever day it is now
    assert longest_interval(config, datetime(2026, 11, 25, tzinfo=UTC)) == 3 * 86400
    path.write_text(sources.replace('schedule = "0 8 * * 1-5"', 'adaptive = true\n'
                                    'max_every = "2h"'), encoding="utf-8")
    assert longest_interval(load_config(path)) == 7200
    path.write_text(sources.split("[[source]]\nid = \"weekdays\"")[0], encoding="utf-8")
    assert longest_interval(load_config(path)) == 330  # 5 minutes and 30 s of jitter
    path.write_text("[schedule]\nevery = \"5m\"\n", encoding="utf-8")
    assert longest_interval(load_config(path)) is None
    assert Health(lambda: None).check() == (True, "ok: no source to poll")
    clock = Clock()
    never = Health(lambda: 10.0, clock=clock)
    clock.advance(1)
    assert never.check() == (False, "stale: no poll since the daemon started 60 s ago, more "
                                    "than 20 s (twice the longest interval, 10 s)")


@pytest.mark.parametrize(("text", "parsed"), [
    ("127.0.0.1:9464", ("127.0.0.1", 9464)), ("[::1]:0", ("::1", 0)),
    ("localhost:9464", ("localhost", 9464)),
])
def test_an_address_is_host_and_port(text, parsed):
    assert parse_address(text) == parsed


@pytest.mark.parametrize("text", ["9464", ":9464", "127.0.0.1:", "127.0.0.1:65536",
                                  "127.0.0.1:port", "::1:9464", "127.0.0.1:-1"])
def test_a_bad_address_is_refused(text):
    with pytest.raises(BadInputError) as error:
        parse_address(text)
    assert str(error.value).startswith(f"--metrics {text!r}: give HOST:PORT, such as "
                                       "127.0.0.1:9464")


def test_veille_run_refuses_a_bad_or_busy_address_in_one_line(tmp_path, mini_site):
    config = write_config(tmp_path / "veille.toml", mini_site.origin, TOPIC)
    db = tmp_path / "veille.db"
    bad = veille("--config", config, "--db", db, "run", "--metrics", "127.0.0.1")
    assert bad.returncode == 2
    assert bad.stderr == ("Error: --metrics '127.0.0.1': give HOST:PORT, such as "
                          "127.0.0.1:9464 (a port from 0 to 65535; [::1]:9464 for IPv6)\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = veille("--config", config, "--db", db, "run", "--metrics", f"127.0.0.1:{port}")
    assert busy.returncode == 2
    assert busy.stderr.startswith(f"Error: --metrics 127.0.0.1:{port}: cannot listen there: ")
    assert len(busy.stderr.splitlines()) == 1
    assert not db.exists() and mini_site.requests_under("/") == 0  # nothing started


def test_broken_sources_and_operator_notices_are_counted(tmp_path):
    """A source's open breakage checks (docs/operating.md) are one gauge each, gone when
    they close; operator notices are counted by kind and delivery status."""
    store = Store.open(tmp_path / "v.db")
    store.sync_sources([Source(id="front", name="Front", kind="topic",
                               url="https://news.example/latest/")])
    run = store.start_run("front", 1)
    now = store.now()
    for check in ("no-links", "rate-drop"):
        events.open_incident(store.db, run, "front", check, now, f"front: {check}",
                             {"url": "https://news.example/latest/"}, now)
    with store.db.conn:
        store.db.execute("INSERT INTO subscriptions (id, name, channel, mode, created_at) "
                         "VALUES ('ops', 'Ops', 'webhook', 'instant', ?)", [now])
        for n, (kind, status) in enumerate([("broken", "sent"), ("broken", "pending"),
                                            ("polling-stopped", "failed")]):
            store.db.execute(
                "INSERT INTO operator_notices (uid, subscription_id, incident, kind, "
                "dedup_key, title, status, created_at) VALUES (?, 'ops', ?, ?, ?, 'T', ?, ?)",
                [f"u{n}", f"i{n}", kind, f"k{n}", status, now])
    collector = RecordCollector(tmp_path / "v.db")
    found = samples_of(collector)
    assert value(found, "veille_source_broken", source="front", check="no-links") == 1
    assert value(found, "veille_source_broken", source="front", check="rate-drop") == 1
    assert value(found, "veille_operator_notices", kind="broken", status="sent") == 1
    assert value(found, "veille_operator_notices", kind="broken", status="pending") == 1
    assert value(found, "veille_operator_notices", kind="polling-stopped", status="failed") == 1
    events.close_incident(store.db, run, "front", "no-links", "front: links again",
                          {"url": "https://news.example/latest/"}, store.now())
    found = samples_of(collector)
    assert ("veille_source_broken", (("check", "no-links"), ("source", "front"))) not in found
    assert value(found, "veille_source_broken", source="front", check="rate-drop") == 1
    store.close()
