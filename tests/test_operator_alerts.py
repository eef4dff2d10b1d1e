"""Operator alerts: a subscription with `operators = true` hears of sources broken and
recovered, deliveries given up on and working again, and polling stopped and resumed, once
per incident, through real receivers on 127.0.0.1. Time is an injected clock (the
dispatcher's), never a sleep; the end-to-end tests run `veille crawl` and `veille alerts send`.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import escape
from pathlib import Path

import feedparser
import pytest
from conftest import Clock, crawl, rows, veille, write_config
from receivers import WEBHOOK_SECRET, SmtpSink, WebhookReceiver
from test_dispatch import CONFLICTS, ENV, SETTINGS, Desk, webhook_sub
from test_gaps import NewsSite, title

from crawler.alerts.dispatch import Dispatcher, retry_failed
from crawler.alerts.operators import Operators, duration_text, write_heartbeat
from crawler.clock import stamp
from crawler.config.model import (
    EmailChannel,
    FeedChannel,
    Subscription,
    WebhookChannel,
    load_config,
)
from crawler.config.subscriptions import AppriseChannel
from crawler.demo import SiteServer
from crawler.errors import ConfigError
from crawler.record.outbox import sync_alerting

pytest_plugins = ["receivers"]

TOKEN = "tok3n-in-the-path"


def operator_sub(url: str, sub_id: str = "ops", **options) -> Subscription:
    return Subscription(id=sub_id, name="Night shift", conflicts=(), operators=True,
                        channel=WebhookChannel(url, "HOOK_SECRET", timeout=5), **options)


class Record(Desk):
    """test_dispatch's Desk with operator subscriptions, and incidents written as the
    crawl writes them (`source_events`)."""

    def __init__(self, path: Path, subscriptions, clock: Clock):
        super().__init__(path, subscriptions, clock)
        self.db = self.store.db

    def event(self, kind: str, source_id: str = "s1", check: str = "no-links",
              broken: int | None = None, message: str | None = None) -> int:
        now = stamp(self.clock())
        evidence = {"check": check, **({"broken_event_id": broken} if broken else {})}
        since = self.db.execute("SELECT since FROM source_events WHERE id = ?",
                                [broken]).fetchone()[0] if broken else now
        cursor = self.db.execute(
            "INSERT INTO source_events (source_id, kind, since, until, message, evidence, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [source_id, kind, since, now if broken else None,
             message or f"Le Courrier du Levant: listing https://levant.example/ yields "
             f"{'no article link' if kind == 'broken' else 'article links again'}",
             json.dumps(evidence), now])
        self.db.conn.commit()
        return int(cursor.lastrowid)

    def send(self, environ=ENV, limit: float | None = None):
        dispatcher = Dispatcher(self.db, self.subscriptions, SETTINGS, clock=self.clock,
                                environ=environ, user_agent="Veille-test",
                                polling_limit=(lambda: limit) if limit else None)
        dispatcher.operators.queue()
        return dispatcher.run()

    def notices(self, sub_id: str | None = None) -> list[dict]:
        where = "WHERE subscription_id = ?" if sub_id else ""
        return list(self.db.query(
            f"SELECT * FROM operator_notices {where} ORDER BY id", [sub_id] if sub_id else []))


def operator_docs(receiver: WebhookReceiver) -> list[dict]:
    return [r.json for r in receiver.requests if r.json["type"] == "veille.operator"]


@pytest.fixture
def clock():
    return Clock()


# -- sources broken and recovered -----------------------------------------------------------


def test_a_broken_source_is_told_once_then_its_recovery_once(tmp_path, clock,
                                                             webhook_receiver):
    with WebhookReceiver(secret=WEBHOOK_SECRET) as desk_hook:
        record = Record(tmp_path / "v.db", [operator_sub(webhook_receiver.url),
                                            webhook_sub(desk_hook.url)], clock)
        broken = record.event("broken")
        report = record.send()
        assert (report.notices, report.sent, report.failed) == (1, 0, 0)
        [request] = webhook_receiver.wait_for(1)
        assert request.signature_valid
        doc = request.json
        assert doc["type"] == "veille.operator" and doc["subscription"] == "ops"
        notice = doc["notice"]
        assert notice["title"] == ("source s1 broken: listing https://levant.example/ yields "
                                   "no article link")
        assert (notice["kind"], notice["state"], notice["source"]) == ("broken", "problem", "s1")
        assert notice["incident"] == f"source:s1:no-links:{broken}"
        assert notice["details"]["check"] == "no-links"
        assert "Le Courrier du Levant" in notice["body"]
        assert request.headers["idempotency-key"] == notice["id"]
        assert "*Veille problem: source s1 broken" in doc["text"]

        clock.advance(30)  # still broken: the crawl writes nothing more, nothing is told
        assert record.send().notices == 0
        clock.advance(90)
        record.event("recovered", broken=broken)
        assert record.send().notices == 1
        _, recovery = webhook_receiver.wait_for(2)
        notice = recovery.json["notice"]
        assert notice["title"] == "source s1 recovered: no-links (broken for 2 h)"
        assert (notice["kind"], notice["state"]) == ("recovered", "recovery")
        assert notice["incident"] == f"source:s1:no-links:{broken}"
        clock.advance(5)
        assert record.send().notices == 0

        # A new incident of the same source and check is a new notice.
        record.event("broken")
        assert record.send().notices == 1
        assert len(webhook_receiver.wait_for(3)) == 3
        assert desk_hook.requests == []  # a desk hears only of articles
    assert [n["kind"] for n in record.notices()] == ["broken", "recovered", "broken"]
    assert {n["status"] for n in record.notices()} == {"sent"}


def test_each_operator_subscription_hears_of_it_by_its_own_channel(tmp_path, clock,
                                                                   webhook_receiver):
    with SmtpSink() as sink:
        mail = Subscription(
            id="ops-mail", name="Ops by mail", conflicts=(), operators=True,
            channel=EmailChannel(host=sink.host, port=sink.port, security="none",
                                 sender="veille@example.org", to=("ops@example.org",)))
        feed = Subscription(id="ops-feed", name="Ops feed", conflicts=(), operators=True,
                            channel=FeedChannel(tmp_path / "ops.xml"))
        record = Record(tmp_path / "v.db", [operator_sub(webhook_receiver.url), mail, feed],
                        clock)
        broken = record.event("broken", check="short-bodies",
                              message="Le Courrier du Levant: 9 of 10 pages without text")
        assert record.send().notices == 3
        [received] = sink.wait_for(1)
        subject = received.message["Subject"]
        assert subject == "[Veille] source s1 broken: 9 of 10 pages without text"
        assert received.message["X-Veille-Notice"] == "broken"
        text = received.message.get_body(("plain",)).get_content()
        assert "is broken since 2026-11-20 12:01 UTC: 9 of 10 pages without text" in text
        clock.advance(10)
        record.event("recovered", check="short-bodies", broken=broken)
        assert record.send().notices == 3
        assert sink.wait_for(2)[1].message["Subject"] == (
            "[Veille] source s1 recovered: short-bodies (broken for 10 min)")
    entries = feedparser.parse((tmp_path / "ops.xml").read_bytes()).entries
    assert [e.title for e in entries] == [
        "[Veille] source s1 recovered: short-bodies (broken for 10 min)",
        "[Veille] source s1 broken: 9 of 10 pages without text"]
    assert entries[0].tags[0].term == "recovered"


def test_an_apprise_service_gets_the_notice_title(tmp_path, clock, webhook_receiver):
    apprise = Subscription(id="ops-chat", name="Ops chat", conflicts=(), operators=True,
                           channel=AppriseChannel("OPS_APPRISE"))
    record = Record(tmp_path / "v.db", [apprise], clock)
    record.event("broken", check="feed-malformed",
                 message="Le Courrier du Levant: the feed is not XML any more")
    report = record.send(environ={"OPS_APPRISE": f"json://127.0.0.1:{webhook_receiver.port}/x"})
    assert (report.notices, report.errors) == (1, [])
    [request] = webhook_receiver.wait_for(1)
    assert request.json["title"] == "[Veille] source s1 broken: the feed is not XML any more"
    assert "Check: feed-malformed." in request.json["message"]


def test_incidents_closed_before_a_subscription_existed_are_history(tmp_path, clock,
                                                                    webhook_receiver):
    record = Record(tmp_path / "v.db", [], clock)
    old = record.event("broken", source_id="s1")
    clock.advance(5)
    record.event("recovered", source_id="s1", broken=old)
    still = record.event("broken", source_id="s2", check="rate-drop",
                         message="The Gazette: 1 article in 3 days, 40 a day usually")
    clock.advance(5)
    record.subscriptions = (operator_sub(webhook_receiver.url),)
    sync_alerting(record.db, CONFLICTS, record.subscriptions, stamp(clock()))
    assert record.send().notices == 1  # the open incident only
    [request] = webhook_receiver.wait_for(1)
    assert request.json["notice"]["title"] == (
        "source s2 broken: 1 article in 3 days, 40 a day usually")
    clock.advance(5)
    record.event("recovered", source_id="s2", check="rate-drop", broken=still)
    assert record.send().notices == 1
    assert webhook_receiver.wait_for(2)[1].json["notice"]["kind"] == "recovered"


def test_a_recovery_without_its_breakage_notice_is_not_told(tmp_path, clock,
                                                            webhook_receiver):
    record = Record(tmp_path / "v.db", [], clock)
    old = record.event("broken")
    clock.advance(1)
    record.subscriptions = (operator_sub(webhook_receiver.url),)
    sync_alerting(record.db, CONFLICTS, record.subscriptions, stamp(clock()))
    clock.advance(1)
    # Broken and recovered between two dispatches, after the subscription appeared: both.
    fresh = record.event("broken", source_id="s2", check="no-links")
    record.event("recovered", source_id="s2", check="no-links", broken=fresh)
    record.event("recovered", broken=old)  # its breakage was never told: no recovery alone
    queued = Operators(record.db, record.subscriptions, clock).queue()
    assert queued == 2
    assert [(n["source_id"], n["kind"]) for n in record.notices()] == [
        ("s2", "broken"), ("s2", "recovered")]


# -- deliveries given up on ------------------------------------------------------------------


def test_a_delivery_given_up_on_is_told_then_its_next_success(tmp_path, clock,
                                                              webhook_receiver):
    with WebhookReceiver(secret=WEBHOOK_SECRET, path=f"/hooks/{TOKEN}") as desk_hook:
        desk = webhook_sub(desk_hook.url + "?key=" + TOKEN)
        record = Record(tmp_path / "v.db", [operator_sub(webhook_receiver.url), desk], clock)
        desk_hook.fail_with(404, f"no hook {TOKEN} here")  # a 404 is given up on at once
        record.publish("Stepanakert, un an après", "Les réfugiés du Haut-Karabakh.")
        report = record.send()
        assert (report.failed, report.notices) == (1, 0)
        report = record.send()  # the notice was queued with the failure: sent now
        assert report.notices == 1
        [request] = webhook_receiver.wait_for(1)
        notice = request.json["notice"]
        assert notice["title"].startswith(
            "delivery to desk-caucase given up (webhook): webhook http://127.0.0.1:")
        assert "answered HTTP 404" in notice["title"]
        assert (notice["kind"], notice["subscription"]) == ("delivery-failed", "desk-caucase")
        assert notice["details"]["channel"] == "webhook"
        assert "1 alert to subscription desk-caucase (Desk Caucase) by webhook after 1 " \
               "attempt" in notice["body"]
        raw = request.body.decode()
        assert TOKEN not in raw and WEBHOOK_SECRET not in raw

        # Two more alerts fail: two more notices (one per delivery given up on).
        record.publish("Artsakh: la mémoire", "Artsakh, un nom qui reste.")
        record.publish("Haut-Karabakh: le retour", "Haut-Karabakh encore.")
        record.send()
        assert record.send().notices == 2
        desk_hook.recover()
        record.publish("Haut-Karabakh: une école rouvre", "Artsakh, l'école rouvre.")
        assert record.send().sent == 1  # the desk works again...
        assert record.send().notices == 1  # ...which is told once
        record.publish("Artsakh: les archives", "Artsakh, les archives.")
        record.send()
        assert record.send().notices == 0
    titles = [d["notice"]["title"] for d in operator_docs(webhook_receiver)]
    assert len(titles) == 4 and titles[3] == "delivery to desk-caucase works again (webhook)"
    assert all(TOKEN not in t for t in titles)
    assert [n["kind"] for n in record.notices()] == ["delivery-failed"] * 3 + [
        "delivery-recovered"]
    stored = json.dumps(record.notices())
    assert TOKEN not in stored and WEBHOOK_SECRET not in stored


def test_a_notice_that_cannot_be_delivered_is_retried_then_told_to_the_other(
        tmp_path, clock, webhook_receiver):
    with WebhookReceiver(secret=WEBHOOK_SECRET) as other:
        first = operator_sub(webhook_receiver.url, "ops")
        second = operator_sub(other.url, "ops-2")
        record = Record(tmp_path / "v.db", [first, second], clock)
        webhook_receiver.down()
        record.event("broken")
        report = record.send()
        assert (report.notices, report.retrying) == (1, 1)  # ops-2 has it; ops waits
        first_try = record.notices("ops")[0]
        assert first_try["status"] == "pending" and "connection refused" in \
            first_try["last_error"]
        for _ in range(SETTINGS.max_attempts - 1):
            clock.advance(20)
            record.send()
        [given_up] = record.notices("ops")
        assert (given_up["status"], given_up["attempts"]) == ("failed", SETTINGS.max_attempts)
        told = [d["notice"] for d in operator_docs(other)]
        assert [n["kind"] for n in told] == ["broken", "delivery-failed"]
        assert told[1]["title"].startswith("delivery to ops given up (webhook): webhook "
                                           "http://127.0.0.1:")
        assert 'the operator notice "source s1 broken' in told[1]["body"]

        # ops-2 failing a notice about ops's delivery is not told back to ops (no loop).
        other.fail_with(400, "bad request")
        record.event("broken", source_id="s2")
        webhook_receiver.up()
        record.send()
        record.send()
        kinds = [(n["subscription_id"], n["kind"], n["status"]) for n in record.notices()]
        assert ("ops-2", "broken", "failed") in kinds
        assert ("ops", "delivery-failed", "pending") in kinds or \
            ("ops", "delivery-failed", "sent") in kinds
        # ops-2 gave up on a source notice: ops hears of it; a notice about that notice
        # failing would go to ops-2 only, which is not told about itself.
        assert not [k for k in kinds if k[0] == "ops-2" and k[1] == "delivery-failed"
                    and k[2] == "pending"]
        # `veille alerts retry` requeues failed notices too.
        other.recover()
        assert retry_failed(record.db, "ops-2") == 2  # the source notice, the recovery
        record.send()
        assert [(d["notice"]["kind"], d["notice"]["source"]) for d in operator_docs(other)][-2:] \
            == [("broken", "s2"), ("delivery-recovered", None)]


# -- polling stopped and resumed -------------------------------------------------------------


def test_polling_that_stops_is_told_once_then_its_resumption(tmp_path, clock,
                                                            webhook_receiver):
    record = Record(tmp_path / "v.db", [operator_sub(webhook_receiver.url)], clock)
    write_heartbeat(record.db, clock(), 4242, started=True)
    assert record.send(limit=600).notices == 0  # nothing stale yet
    clock.advance(15)
    write_heartbeat(record.db, clock(), 4242)  # a poll, at 12:16
    clock.advance(20)
    assert record.send(limit=600).notices == 0  # 20 min: not more than twice 10 min
    clock.advance(5)
    assert record.send(limit=600).notices == 1
    [request] = webhook_receiver.wait_for(1)
    notice = request.json["notice"]
    assert notice["title"] == "daemon stopped polling since 2026-11-20 12:16 UTC"
    assert notice["kind"] == "polling-stopped"
    assert ("No poll started or ended for 25 min, more than twice the longest interval "
            "between two polls of a source (10 min).") in notice["body"]
    assert "the daemon (pid 4242) at 2026-11-20 12:16 UTC" in notice["body"]
    clock.advance(60)
    assert record.send(limit=600).notices == 0  # once per incident
    write_heartbeat(record.db, clock(), 4242)
    clock.advance(1)
    assert record.send(limit=600).notices == 1
    resumed = webhook_receiver.wait_for(2)[1].json["notice"]
    assert resumed["title"] == "polling resumed at 2026-11-20 13:41 UTC after 1 h 25 min"
    assert (resumed["kind"], resumed["state"], resumed["incident"]) == (
        "polling-resumed", "recovery", notice["incident"])
    clock.advance(1)
    assert record.send(limit=600).notices == 0


def test_a_crawl_run_counts_as_a_poll_and_a_shut_down_daemon_is_named(tmp_path, clock,
                                                                      webhook_receiver):
    record = Record(tmp_path / "v.db", [operator_sub(webhook_receiver.url)], clock)
    assert record.send(limit=60).notices == 0  # nothing polled ever: nothing stopped
    write_heartbeat(record.db, clock(), 99, started=True)
    write_heartbeat(record.db, clock(), 99, stopped=True)
    clock.advance(1)
    run = record.store.start_run("s2", 1234)
    clock.advance(3)
    operators = Operators(record.db, record.subscriptions, clock, polling_limit=lambda: 60)
    moment, who = operators.last_poll()
    assert moment == clock() - timedelta(minutes=3)
    assert who == "a crawl of s2 started at 2026-11-20 12:02 UTC" and run
    assert operators.queue() == 1
    body = record.notices()[0]["body"]
    assert "The last: a crawl of s2 started at 2026-11-20 12:02 UTC." in body


def test_duration_text():
    assert [duration_text(s) for s in (5, 600, 3600, 3 * 3600 + 300, 49 * 3600)] == [
        "5 s", "10 min", "1 h", "3 h 5 min", "2 d 1 h"]


# -- the configuration -----------------------------------------------------------------------

BASE = """
[[source]]
id = "feed"
kind = "feed"
url = "http://127.0.0.1:9/feed.xml"

[[conflict]]
id = "karabakh"
aliases = ["Karabakh"]

[[subscription]]
id = "ops"
"""


@pytest.mark.parametrize(("lines", "message"), [
    ("", "ops': conflicts must name at least one [[conflict]] id (or operators = true for a "
         "subscription to operator notices only)"),
    ('operators = "yes"\n', "operators"),
    ('operators = true\nsources = ["feed"]\n',
     "ops': sources applies to article alerts, and this subscription has no conflicts: "
     "operator notices cover every source and are sent at once"),
    ('operators = true\nmode = "digest"\nevery = "1h"\n', "mode applies to article alerts"),
])
def test_bad_operator_subscriptions_are_one_line(tmp_path, lines, message):
    path = tmp_path / "veille.toml"
    path.write_text(BASE + lines + '[subscription.feed]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_an_operator_subscription_may_follow_conflicts_too(tmp_path):
    path = tmp_path / "veille.toml"
    path.write_text(BASE + 'operators = true\n[subscription.feed]\n\n[[subscription]]\n'
                    'id = "both"\noperators = true\nconflicts = ["karabakh"]\nmode = "digest"\n'
                    'every = "1h"\n[subscription.feed]\n', encoding="utf-8")
    ops, both = load_config(path).subscriptions
    assert (ops.operators, ops.conflicts, both.operators, both.mode) == (
        True, (), True, "digest")


# -- end to end: veille alerts send ----------------------------------------------------------


def test_veille_alerts_send_tells_that_polling_stopped(tmp_path, webhook_receiver):
    """The cron line's dispatcher notices a daemon that stopped, against the limit of the
    daemon's health check (twice the longest interval: here 2 x 5 min)."""
    config = write_config(
        tmp_path / "veille.toml", "http://127.0.0.1:9",
        '[[source]]\nid = "front"\nkind = "feed"\nurl = "{site}/feed.xml"\nevery = "5m"\n'
        f'\n[[subscription]]\nid = "ops"\noperators = true\n[subscription.webhook]\n'
        f'url = "{webhook_receiver.url}"\n')
    db = tmp_path / "veille.db"
    assert veille("--config", config, "--db", db, "alerts", "send").returncode == 0
    from crawler.clock import utc_now
    from crawler.record.schema import open_database

    store = open_database(db)
    write_heartbeat(store, utc_now() - timedelta(minutes=25), 777, started=True)
    store.close()
    sent = veille("--config", config, "--db", db, "alerts", "send")
    assert sent.returncode == 0, sent.stderr
    assert "1 operator notice sent" in sent.stdout
    [request] = webhook_receiver.wait_for(1)
    assert request.json["notice"]["title"].startswith("daemon stopped polling since ")
    again = veille("--config", config, "--db", db, "alerts", "send")
    assert "operator notice" not in again.stdout
    assert len(webhook_receiver.requests) == 1
    assert rows(db, "SELECT kind, status FROM operator_notices") == [
        {"kind": "polling-stopped", "status": "sent"}]
    listed = veille("--config", config, "--db", db, "alerts")
    assert "operator notices: 1 sent" in listed.stdout.splitlines()


# -- end to end: the fixture, a listing whose links move into new markup ------------


class RedesignedSite(NewsSite):
    """test_gaps' NewsSite, whose listing can move its links into new markup."""

    redesigned = False

    def listing(self, entries, next_path):
        if not self.redesigned:
            return super().listing(entries, next_path)
        items = "".join(f'<li class="story"><a href="{self.path(n)}">{escape(title(n))}</a>'
                        "</li>" for n, _ in entries)
        return (f'<html><head><title>Latest</title></head><body><ul class="stream">{items}'
                "</ul></body></html>").encode()


def test_a_template_change_is_one_operator_alert_then_one_recovery(tmp_path, webhook_receiver):
    """`veille crawl` then `veille alerts send`, as cron runs them: the crawl that finds the
    listing's links gone opens an incident, which the operators hear of once (not again
    while it stays broken); the crawl that reads links again closes it, heard of once."""
    root = tmp_path / "site"
    root.mkdir()
    with SiteServer(root) as site:
        site.overrides["/robots.txt"] = (200, {"Content-Type": "text/plain"},
                                         b"User-agent: *\nAllow: /\n")
        news = RedesignedSite(site)
        db = tmp_path / "veille.db"

        def config(links: str) -> Path:
            return write_config(
                tmp_path / "veille.toml", site.origin,
                '[[source]]\nid = "front"\nname = "Front Latest"\nkind = "topic"\n'
                f'url = "{{site}}/latest/"\nlinks = "{links}"\n\n'
                '[[subscription]]\nid = "ops"\nname = "Night shift"\noperators = true\n'
                f'[subscription.webhook]\nurl = "{webhook_receiver.url}"\n'
                'secret_env = "OPS_SECRET"\n')

        def cycle(links: str, status: int = 0) -> list[dict]:
            """A crawl, then the dispatcher: the operator notices it sent."""
            cfg = config(links)
            crawled = crawl(cfg, db)
            assert crawled.returncode == status, crawled.stdout + crawled.stderr
            before = len(webhook_receiver.requests)
            sent = veille("--config", cfg, "--db", db, "alerts", "send",
                          env={"OPS_SECRET": WEBHOOK_SECRET})
            assert sent.returncode == 0, sent.stderr
            return [r.json["notice"] for r in webhook_receiver.requests[before:]]

        news.publish(5)
        assert cycle("article.card a") == []
        assert cycle("article.card a") == []  # an unchanged listing
        news.redesigned = True  # the links move into <li class="story">
        news.publish(2)
        [broken] = cycle("article.card a", status=1)
        listing = site.url("/latest/")
        assert broken["title"] == (
            f"source front broken: listing {listing} yields no article link matching "
            f"'article.card a' (the links moved? it had some at the poll of "
            f"{broken['details']['evidence']['last_good_poll']})")
        assert (broken["kind"], broken["state"], broken["source"]) == (
            "broken", "problem", "front")
        assert cycle("article.card a", status=1) == []  # still broken: told once
        [recovered] = cycle("li.story a")  # the configuration follows the site
        assert recovered["title"].startswith("source front recovered: no-links (broken for ")
        assert (recovered["kind"], recovered["incident"]) == ("recovered", broken["incident"])
        assert cycle("li.story a") == []
    assert all(r.signature_valid for r in webhook_receiver.requests)
    assert [(n["kind"], n["status"]) for n in rows(
        db, "SELECT kind, status FROM operator_notices ORDER BY id")] == [
        ("broken", "sent"), ("recovered", "sent")]
    print("operator notices:", broken["title"], "|", recovered["title"])


# -- end to end: the daemon ----------------------------------------------------------------


def test_a_daemon_whose_poll_slot_hangs_tells_the_operators_then_resumes(tmp_path,
                                                                        webhook_receiver):
    """`veille run` with one poll slot, held by a crawl of a site that accepts connections
    and never answers: the daemon's own dispatcher tells that polling stopped (no poll
    started or ended for twice the 1 s interval), once; when the crawl times out and the
    poll ends, that polling resumed. The heartbeat row says when the daemon stopped."""
    import socket
    import subprocess
    import sys

    from conftest import PROJECT

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # connections complete in the backlog; nothing is ever read
    origin = f"http://127.0.0.1:{silent.getsockname()[1]}"
    config = write_config(
        tmp_path / "veille.toml", origin,
        '[schedule]\nevery = "1s"\ndispatch_every = "1s"\ngrace = "1s"\nprocesses = 1\n\n'
        '[[source]]\nid = "silent"\nkind = "feed"\nurl = "{site}/feed.xml"\n\n'
        '[[subscription]]\nid = "ops"\noperators = true\n[subscription.webhook]\n'
        f'url = "{webhook_receiver.url}"\n', crawl="obey_robots = false\n").read_text()
    (tmp_path / "veille.toml").write_text(config.replace("timeout = 10", "timeout = 6"))
    db = tmp_path / "veille.db"
    daemon = subprocess.Popen(
        [sys.executable, "-m", "crawler", "--config", str(tmp_path / "veille.toml"),
         "--db", str(db), "run"], cwd=PROJECT, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        stopped, resumed = (r.json["notice"] for r in webhook_receiver.wait_for(2, timeout=90))
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)
        silent.close()
    assert stopped["kind"] == "polling-stopped"
    assert stopped["title"].startswith("daemon stopped polling since ")
    # the last poll: the daemon's heartbeat as it started the crawl, or the crawl's run
    assert re.search(rf"The last: (the daemon \(pid {daemon.pid}\)|a crawl of silent "
                     "started) at ", stopped["body"])
    assert (resumed["kind"], resumed["incident"]) == ("polling-resumed", stopped["incident"])
    assert resumed["title"].startswith("polling resumed at ")
    [beat] = rows(db, "SELECT * FROM heartbeats")
    assert beat["pid"] == daemon.pid and beat["stopped_at"] >= beat["started_at"]
