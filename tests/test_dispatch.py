"""The dispatcher against real receivers on 127.0.0.1: a webhook endpoint, an SMTP server
(aiosmtpd) and an Atom file read back by feedparser. Time is an injected clock: retries
"an hour later" are the clock moving, never a sleep.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from conftest import PROJECT, Clock, rows, veille
from receivers import WEBHOOK_SECRET, WebhookReceiver
from test_storage import article, other_body

from crawler.alerts.dispatch import Dispatcher, digest_due, retry_failed
from crawler.config.model import (
    AlertSettings,
    Conflict,
    EmailChannel,
    FeedChannel,
    Source,
    Subscription,
    WebhookChannel,
)
from crawler.config.redaction import redact_url
from crawler.record.outbox import Outbox, sync_alerting
from crawler.record.store import Store

pytest_plugins = ["receivers"]

CONFLICTS = (
    Conflict("karabakh", "Nagorny Karabakh", ("Haut-Karabakh", "Artsakh")),
    Conflict("soudan", "Soudan", ("Soudan", "Sudan")),
)
SETTINGS = AlertSettings(max_attempts=8, backoff_seconds=60, backoff_cap_seconds=1200,
                         lease_seconds=300)
ENV = {"HOOK_SECRET": WEBHOOK_SECRET}


def webhook_sub(url: str, **options) -> Subscription:
    return Subscription(id="desk-caucase", name="Desk Caucase", conflicts=("karabakh",),
                        channel=WebhookChannel(url, "HOOK_SECRET", timeout=5), **options)


class Desk:
    """A database with two sources, the conflicts above and some subscriptions."""

    def __init__(self, path: Path, subscriptions, clock: Clock):
        self.clock = clock
        self.subscriptions = tuple(subscriptions)
        self.store = Store.open(path, clock, outbox=Outbox(CONFLICTS, self.subscriptions))
        self.store.sync_sources([
            Source(id="s1", name="Le Courrier du Levant", kind="topic",
                   url="https://levant.example/"),
            Source(id="s2", name="The Gazette", kind="feed", url="https://gazette.example/rss"),
        ])
        sync_alerting(self.store.db, CONFLICTS, self.subscriptions, self.store.now())
        clock.advance(1)
        self.count = 0

    def publish(self, title: str, text: str, **changes) -> int:
        self.count += 1
        url = f"https://levant.example/2026/11/{self.count}.html"
        body = f"{text} " + other_body(f"topic{self.count}")
        result = self.store.save_article(article(url=url, title=title, body=body, **changes))
        assert result.alerts, title
        return result.article_id

    def dispatcher(self, environ=ENV) -> Dispatcher:
        return Dispatcher(self.store.db, self.subscriptions, SETTINGS, clock=self.clock,
                          environ=environ, user_agent="Veille-test")

    def statuses(self) -> list[str]:
        return [r[0] for r in self.store.db.execute("SELECT status FROM alerts ORDER BY id")]


@pytest.fixture
def clock():
    return Clock()


def test_webhook_gets_one_signed_post_per_alert_and_nothing_twice(tmp_path, clock,
                                                                  webhook_receiver):
    desk = Desk(tmp_path / "v.db", [webhook_sub(webhook_receiver.url)], clock)
    first = desk.publish("Stepanakert, un an après", "Les réfugiés du Haut-Karabakh.",
                         lead="Un an après l'exode, les familles attendent.")
    desk.store.save_article(article(url="https://gazette.example/copy.html", source_id="s2",
                                    title="Copie", body=desk.store.db["articles"].get(first)["body"]))
    desk.publish("Artsakh: la mémoire", "Artsakh, un nom qui reste.")
    report = desk.dispatcher().run()
    assert (report.sent, report.batches, report.failed) == (2, 2, 0)
    one, two = webhook_receiver.wait_for(2)
    assert one.signature_valid and two.signature_valid
    uids = [r[0] for r in desk.store.db.execute("SELECT uid FROM alerts ORDER BY id")]
    assert webhook_receiver.unique_ids() == uids  # the Idempotency-Key is the alert's id
    doc = one.json["alert"]
    assert doc["title"] == "Stepanakert, un an après"
    assert doc["url"] == "https://levant.example/2026/11/1.html"
    assert doc["source"] == {"id": "s1", "name": "Le Courrier du Levant"}
    assert doc["conflicts"] == ["Nagorny Karabakh"]
    assert doc["matched"][0]["alias"] == "Haut-Karabakh"
    assert doc["lead"] == "Un an après l'exode, les familles attendent."
    # The same text reached from another source: the payload names it.
    assert doc["other_copies"] == [{"source": "The Gazette",
                                    "url": "https://gazette.example/copy.html", "title": None}]
    assert "<https://levant.example/2026/11/1.html|Stepanakert, un an après>" in one.json["text"]
    assert desk.statuses() == ["sent", "sent"]
    clock.advance(60)
    assert desk.dispatcher().run().batches == 0
    assert len(webhook_receiver.requests) == 2


def test_a_receiver_down_for_an_hour_gets_every_alert_afterwards_once(tmp_path, clock,
                                                                     webhook_receiver):
    desk = Desk(tmp_path / "v.db", [webhook_sub(webhook_receiver.url)], clock)
    for n in range(3):
        desk.publish(f"Karabakh {n}", f"Haut-Karabakh, dépêche {n}.")
    webhook_receiver.down()
    start = clock.now
    attempts = 0
    while clock.now - start < timedelta(hours=1):
        report = desk.dispatcher().run()
        attempts += report.batches
        assert report.sent == 0 and report.failed == 0
        next_at = desk.store.db.execute("SELECT min(next_attempt_at) FROM alerts").fetchone()[0]
        clock.now = datetime.fromisoformat(next_at.replace("Z", "+00:00"))
    assert attempts >= 3 * 5  # 60 s, 2 min, 4 min, 8 min, 16 min, 20 min...
    errors = [r[0] for r in desk.store.db.execute("SELECT last_error FROM alerts")]
    # Stored redacted (the database is published): the host, not the path that may hold a token.
    host = webhook_receiver.url.rsplit("/", 1)[0]
    assert all("connection refused" in e.lower() and f"{host}/…" in e for e in errors)
    assert not any(webhook_receiver.url in e for e in errors)
    webhook_receiver.up()
    report = desk.dispatcher().run()
    assert report.sent == 3
    assert len(webhook_receiver.delivered()) == 3 and len(webhook_receiver.unique_ids()) == 3
    assert desk.statuses() == ["sent"] * 3


def test_retries_stop_at_max_attempts_then_retry_requeues(tmp_path, clock, webhook_receiver):
    desk = Desk(tmp_path / "v.db", [webhook_sub(webhook_receiver.url)], clock)
    desk.publish("Artsakh", "Artsakh.")
    webhook_receiver.fail_with(503)
    for _ in range(SETTINGS.max_attempts):
        desk.dispatcher().run()
        clock.advance(30)
    [row] = desk.store.db.query("SELECT status, attempts, last_error FROM alerts")
    assert row["status"] == "failed" and row["attempts"] == SETTINGS.max_attempts
    assert "503" in row["last_error"]
    webhook_receiver.recover()
    assert desk.dispatcher().run().batches == 0  # failed stays failed
    assert retry_failed(desk.store.db) == 1
    assert desk.dispatcher().run().sent == 1
    assert desk.statuses() == ["sent"]
    # Every attempt carried the same key: the receiver can tell repeats apart.
    assert len(webhook_receiver.unique_ids()) == 1


def test_a_permanent_refusal_or_a_missing_secret_fails_at_once(tmp_path, clock, webhook_receiver):
    desk = Desk(tmp_path / "v.db", [webhook_sub(webhook_receiver.url)], clock)
    desk.publish("Artsakh", "Artsakh.")
    report = desk.dispatcher(environ={}).run()
    assert report.failed == 1 and webhook_receiver.requests == []
    [row] = desk.store.db.query("SELECT status, last_error FROM alerts")
    assert row == {"status": "failed",
                   "last_error": "subscription 'desk-caucase': environment variable "
                                 "HOOK_SECRET is not set"}
    retry_failed(desk.store.db)
    webhook_receiver.fail_with(400, "unknown channel")
    assert desk.dispatcher().run().failed == 1
    [row] = desk.store.db.query("SELECT status, last_error FROM alerts")
    assert row["status"] == "failed" and "400" in row["last_error"]


def test_email_immediate_and_digest(tmp_path, clock, smtp_sink):
    mail = EmailChannel(host=smtp_sink.host, port=smtp_sink.port, security="none",
                        sender="veille@desk.example", to=("desk@desk.example",), timeout=5)
    subs = [
        Subscription(id="mail-now", name="Desk Afrique", conflicts=("soudan",), channel=mail),
        Subscription(id="mail-digest", name="Morning digest", conflicts=("soudan", "karabakh"),
                     channel=mail, mode="digest", every_minutes=30),
    ]
    desk = Desk(tmp_path / "v.db", subs, clock)
    desk.publish("Khartoum: l'eau revient", "Au Soudan, les pompes redémarrent.")
    desk.publish("Artsakh: archives", "Artsakh, les archives.")
    report = desk.dispatcher().run()
    assert report.sent == 1  # the digest is not due yet
    [now] = smtp_sink.wait_for(1)
    assert now.message["Subject"] == "[Veille] Soudan: Khartoum: l'eau revient"
    assert now.message.get_body(("plain",)).get_content().count("Khartoum") >= 1
    assert "<a href=" in now.message.get_body(("html",)).get_content()
    clock.advance(30)
    report = desk.dispatcher().run()
    assert (report.sent, report.batches) == (2, 1)
    digest = smtp_sink.wait_for(2)[1]
    assert digest.message["Subject"].startswith("[Veille] 2 new stories")
    batch = desk.store.db.execute(
        "SELECT DISTINCT batch_uid FROM alerts WHERE subscription_id = 'mail-digest'").fetchall()
    assert len(batch) == 1 and batch[0][0] in digest.message["Message-ID"]
    clock.advance(30)
    assert desk.dispatcher().run().batches == 0  # due, but nothing new to send


def test_an_smtp_failure_is_retried_with_the_same_message_id(tmp_path, clock, smtp_sink):
    mail = EmailChannel(host=smtp_sink.host, port=smtp_sink.port, security="none",
                        sender="veille@desk.example", to=("desk@desk.example",), timeout=5)
    desk = Desk(tmp_path / "v.db", [Subscription(id="m", name="M", conflicts=("soudan",),
                                                 channel=mail)], clock)
    desk.publish("Soudan", "Soudan.")
    smtp_sink.fail_next(451)
    report = desk.dispatcher().run()
    assert report.retrying == 1 and desk.statuses() == ["pending"]
    clock.advance(2)
    assert desk.dispatcher().run().sent == 1
    [mail_received] = smtp_sink.wait_for(1)
    uid = desk.store.db.execute("SELECT uid FROM alerts").fetchone()[0]
    assert uid in mail_received.message["Message-ID"]


def test_atom_feed_subscription_is_valid_and_keeps_its_entry_ids(tmp_path, clock):
    feed_path = tmp_path / "feeds" / "desk.xml"
    sub = Subscription(id="desk", name="Desk Caucase", conflicts=("karabakh",),
                       channel=FeedChannel(path=feed_path, max_entries=2))
    desk = Desk(tmp_path / "v.db", [sub], clock)
    desk.publish("Premier & <dernier>", "Haut-Karabakh.")
    desk.dispatcher().run()
    first = feedparser.parse(feed_path.read_bytes())
    assert not first.bozo and len(first.entries) == 1
    assert first.entries[0].title == "Premier & <dernier>"
    clock.advance(5)
    desk.publish("Deuxième", "Artsakh.")
    clock.advance(5)
    desk.publish("Troisième", "Artsakh encore.")
    desk.dispatcher().run()
    later = feedparser.parse(feed_path.read_bytes())
    assert not later.bozo
    assert [e.title for e in later.entries] == ["Troisième", "Deuxième"]  # newest, at most 2
    ids = {r[0] for r in desk.store.db.execute("SELECT uid FROM alerts")}
    assert all(e.id.rsplit(":", 1)[-1].replace("-", "") in ids for e in later.entries)
    assert desk.statuses() == ["sent"] * 3
    assert list(feed_path.parent.iterdir()) == [feed_path]  # no temporary file left


@pytest.mark.parametrize(
    ("last", "now", "due"),
    [("2026-11-20T05:00:00+00:00", "2026-11-20T05:59:00+00:00", False),  # 07:59 in Kyiv
     ("2026-11-20T05:00:00+00:00", "2026-11-20T06:00:00+00:00", True),  # 08:00 in Kyiv
     ("2026-11-20T06:00:00+00:00", "2026-11-20T15:59:00+00:00", False),
     ("2026-11-20T06:00:00+00:00", "2026-11-21T06:30:00+00:00", True)],  # missed 18:00: due
)
def test_digest_at_set_hours_in_the_subscriptions_time_zone(last, now, due):
    sub = Subscription(id="d", name="d", conflicts=("k",), channel=FeedChannel(Path("x")),
                       mode="digest", at=("08:00", "18:00"), timezone="Europe/Kyiv")
    assert digest_due(sub, datetime.fromisoformat(last), datetime.fromisoformat(now)) is due


def test_a_second_receiver_is_unaffected_by_a_broken_one(tmp_path, clock, webhook_receiver):
    with WebhookReceiver(secret=WEBHOOK_SECRET) as broken:
        broken.fail_with(500)
        subs = [webhook_sub(webhook_receiver.url),
                Subscription(id="broken", name="Broken", conflicts=("karabakh",),
                             channel=WebhookChannel(broken.url, "HOOK_SECRET", timeout=5))]
        desk = Desk(tmp_path / "v.db", subs, clock)
        desk.publish("Artsakh", "Artsakh.")
        report = desk.dispatcher().run()
    assert (report.sent, report.retrying) == (1, 1)
    assert "broken" in report.errors[0] and "500" in report.errors[0]


KILL_CONFIG = """
[[source]]
id = "s1"
name = "Le Courrier du Levant"
kind = "topic"
url = "https://levant.example/"

[[source]]
id = "s2"
name = "The Gazette"
kind = "feed"
url = "https://gazette.example/rss"

[[conflict]]
id = "karabakh"
name = "Nagorny Karabakh"
aliases = ["Haut-Karabakh", "Artsakh"]

[[conflict]]
id = "soudan"
name = "Soudan"
aliases = ["Soudan", "Sudan"]

[[subscription]]
id = "desk-caucase"
name = "Desk Caucase"
conflicts = ["karabakh"]
[subscription.webhook]
url = "{url}"
secret_env = "HOOK_SECRET"
timeout = 30
"""


def test_a_dispatcher_killed_mid_send_loses_nothing(tmp_path, webhook_receiver):
    config = tmp_path / "veille.toml"
    config.write_text(KILL_CONFIG.replace("{url}", webhook_receiver.url), encoding="utf-8")
    db = tmp_path / "v.db"
    desk = Desk(db, [webhook_sub(webhook_receiver.url)], Clock(datetime.now().astimezone()))
    desk.publish("Karabakh 1", "Haut-Karabakh, un.")
    desk.publish("Karabakh 2", "Haut-Karabakh, deux.")
    desk.store.close()

    webhook_receiver.hang()  # the first POST arrives, and is never answered
    env = {**os.environ, "HOOK_SECRET": WEBHOOK_SECRET}
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler", "--config", str(config), "--db", str(db),
         "alerts", "send"], cwd=PROJECT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        [received] = webhook_receiver.wait_for(1, timeout=60)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        webhook_receiver.release()
    assert [r["status"] for r in rows(db, "SELECT status FROM alerts")] == ["sending", "sending"]
    # The next dispatcher sees that the claimer is dead and sends both, the first again.
    result = veille("--config", config, "--db", db, "alerts", "send",
                    env={"HOOK_SECRET": WEBHOOK_SECRET})
    assert result.returncode == 0, result.stderr
    assert "2 sent" in result.stdout
    assert [r["status"] for r in rows(db, "SELECT status FROM alerts")] == ["sent", "sent"]
    keys = [r.headers["idempotency-key"] for r in webhook_receiver.requests]
    assert keys[0] == keys[1] == received.headers["idempotency-key"]  # a repeat, recognisable
    assert len(webhook_receiver.unique_ids()) == 2
    listing = veille("--config", config, "--db", db, "alerts", "--status", "sent")
    assert "2 sent" in listing.stdout and "Karabakh 1" in listing.stdout
    # The same rows for programs: an alert's conflicts are a list, not JSON text.
    as_json = json.loads(veille("--config", config, "--db", db, "alerts", "--json").stdout)
    assert [a["conflicts"] for a in as_json] == [["karabakh"], ["karabakh"]]
    nl = veille("--config", config, "--db", db, "alerts", "--nl").stdout.splitlines()
    assert [json.loads(line)["id"] for line in nl] == [a["id"] for a in as_json]
    as_csv = veille("--config", config, "--db", db, "alerts", "--csv").stdout.splitlines()
    assert as_csv[0].startswith("id,status,subscription_id,") and len(as_csv) == 3
    assert '"[""karabakh""]"' in as_csv[1]


def test_alerts_test_sends_a_test_message_and_names_what_is_missing(tmp_path, webhook_receiver):
    config = tmp_path / "veille.toml"
    config.write_text(KILL_CONFIG.replace("{url}", webhook_receiver.url), encoding="utf-8")
    db = tmp_path / "v.db"
    ok = veille("--config", config, "--db", db, "alerts", "test", "desk-caucase",
                env={"HOOK_SECRET": WEBHOOK_SECRET})
    assert ok.returncode == 0, ok.stderr
    assert "desk-caucase: test message delivered by webhook" in ok.stdout
    [request] = webhook_receiver.wait_for(1)
    assert request.signature_valid and request.json["alert"]["kind"] == "test"
    assert rows(db, "SELECT count(*) AS n FROM alerts") == [{"n": 0}]  # nothing stored

    missing = veille("--config", config, "--db", db, "alerts", "test", "desk-caucase",
                     env={"HOOK_SECRET": ""})
    assert missing.returncode == 1
    assert "environment variable HOOK_SECRET is not set" in missing.stderr
    unknown = veille("--config", config, "--db", db, "alerts", "test", "sports")
    assert unknown.returncode == 2  # an unknown id: bad input
    assert "no subscription with id 'sports' (known: desk-caucase)" in unknown.stderr
    webhook_receiver.down()
    down = veille("--config", config, "--db", db, "alerts", "test", "desk-caucase",
                  env={"HOOK_SECRET": WEBHOOK_SECRET})
    assert down.returncode == 1 and redact_url(webhook_receiver.url) in down.stderr
    assert "Traceback" not in down.stderr


def test_alerts_retry_and_the_listing_from_the_command_line(tmp_path, webhook_receiver):
    config = tmp_path / "veille.toml"
    config.write_text(KILL_CONFIG.replace("{url}", webhook_receiver.url), encoding="utf-8")
    db = tmp_path / "v.db"
    desk = Desk(db, [webhook_sub(webhook_receiver.url)], Clock(datetime.now().astimezone()))
    desk.publish("Karabakh 1", "Haut-Karabakh, un.")
    desk.store.close()
    webhook_receiver.fail_with(410, "gone")
    env = {"HOOK_SECRET": WEBHOOK_SECRET}
    failed = veille("--config", config, "--db", db, "alerts", "send", env=env)
    assert failed.returncode == 1 and "1 failed" in failed.stdout
    listing = veille("--config", config, "--db", db, "alerts", "--status", "failed")
    assert "1 failed" in listing.stdout and "Karabakh 1" in listing.stdout
    assert "410" in listing.stdout
    webhook_receiver.recover()
    retried = veille("--config", config, "--db", db, "alerts", "retry")
    assert "1 failed alert queued again" in retried.stdout
    sent = veille("--config", config, "--db", db, "alerts", "send", env=env)
    assert sent.returncode == 0 and "1 sent" in sent.stdout
    as_json = veille("--config", config, "--db", db, "alerts", "--json")
    assert '"status": "sent"' in as_json.stdout


def test_a_batch_whose_lease_ran_out_while_others_were_sent_is_sent_once(
        tmp_path, clock, webhook_receiver, monkeypatch):
    """A run claims every due batch at once and sends them one by one. When the earlier
    batches take longer than the lease (5 minutes here, 3 minutes a batch), another
    dispatcher takes the rest over: each batch's lease starts again when its sending
    starts, so the batch being sent stays with its sender, the first one leaves the rest
    to the other, and each alert reaches the receiver once."""
    desk = Desk(tmp_path / "v.db", [webhook_sub(webhook_receiver.url)], clock)
    for k in range(3):
        desk.publish(f"Haut-Karabakh, jour {k}", f"Le Haut-Karabakh, chronique {k}.")
    first, second = desk.dispatcher(), desk.dispatcher()
    # On two other machines: their leases are trusted until they end.
    first.claimer, second.claimer = "host-a:101", "host-b:202"
    deliver = Dispatcher._deliver
    calls = []

    def three_minutes_each(self, sub, batch_uid, messages):
        calls.append((self.claimer, batch_uid))
        deliver(self, sub, batch_uid, messages)
        clock.advance(3)
        if len(calls) == 2:  # 6 minutes in: the third batch's lease (5) has run out
            report = second.run()
            assert (report.sent, report.batches) == (1, 1)

    monkeypatch.setattr(Dispatcher, "_deliver", three_minutes_each)
    report = first.run()
    assert (report.sent, report.batches) == (2, 2)
    webhook_receiver.wait_for(3)
    assert sorted(webhook_receiver.unique_ids()) == sorted(
        r[0] for r in desk.store.db.execute("SELECT uid FROM alerts"))
    assert [claimer for claimer, _ in calls] == [first.claimer] * 2 + [second.claimer]
    assert desk.statuses() == ["sent"] * 3

