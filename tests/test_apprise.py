"""The Apprise channel: deliveries through Apprise's `json://` to a real receiver on
127.0.0.1, retries and failures that name no token, and the `[subscription.apprise]` table."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from conftest import Clock, rows, veille
from receivers import WebhookReceiver
from test_channels import make_alert
from test_config_alerts import BASE, load
from test_dispatch import KILL_CONFIG, SETTINGS, Desk
from test_secrets import TOKEN, leaks_in

from crawler.alerts.channels.apprise import message_text, send_apprise, split_urls
from crawler.config.redaction import service_url_secrets
from crawler.config.subscriptions import AppriseChannel, Subscription
from crawler.errors import ConfigError, DeliveryError

pytest_plugins = ["receivers"]

VARIABLE = "DESK_APPRISE_URLS"
PASSWORD = "hunterSECRET"


def apprise_sub() -> Subscription:
    return Subscription(id="desk-caucase", name="Desk Caucase", conflicts=("karabakh",),
                        channel=AppriseChannel(VARIABLE))


def json_url(receiver: WebhookReceiver) -> str:
    """Apprise's JSON service posting to `receiver`, with a token in the path and a password
    (what a chat service's URL holds)."""
    return f"json://veille:{PASSWORD}@127.0.0.1:{receiver.port}/hook/{TOKEN}"


def test_an_alert_reaches_every_service_of_the_variable(tmp_path, webhook_receiver):
    with WebhookReceiver() as second:
        urls = f"{json_url(webhook_receiver)}, json://127.0.0.1:{second.port}/other\n"
        desk = Desk(tmp_path / "v.db", [apprise_sub()], Clock())
        desk.publish("Stepanakert, un an après", "Les réfugiés du Haut-Karabakh.",
                     lead="Un an après l'exode, les familles attendent.")
        report = desk.dispatcher(environ={VARIABLE: urls}).run()
        assert (report.sent, report.failed, report.errors) == (1, 0, [])
        [request] = webhook_receiver.wait_for(1)
        [other] = second.wait_for(1)
    assert request.path == f"/hook/{TOKEN}"  # the URL's path, token and all, did go out
    assert request.headers["authorization"].startswith("Basic ")
    note = request.json
    assert note["title"] == "Nagorny Karabakh: Stepanakert, un an après"
    assert note["message"].splitlines() == [
        "https://levant.example/2026/11/1.html", "Le Courrier du Levant, 2026-11-20 08:15 UTC",
        "", "Un an après l'exode, les familles attendent."]
    assert note["type"] == "info"
    assert other.json["title"] == note["title"] and other.path == "/other"
    assert desk.statuses() == ["sent"]
    assert rows(tmp_path / "v.db", "SELECT channel FROM subscriptions") == [{"channel": "apprise"}]


@pytest.mark.parametrize("failure", ["500", "refused"])
def test_a_failing_service_is_retried_then_failed_and_no_token_is_kept(
        tmp_path, webhook_receiver, caplog, failure):
    url = json_url(webhook_receiver)
    webhook_receiver.fail_with(500, f"bad token {TOKEN}")
    if failure == "refused":
        webhook_receiver.down()
    clock = Clock()
    desk = Desk(tmp_path / "v.db", [apprise_sub()], clock)
    desk.publish("Artsakh", "Artsakh.")
    caplog.set_level(logging.DEBUG)
    report = desk.dispatcher(environ={VARIABLE: url}).run()
    assert (report.retrying, report.failed) == (1, 0)
    [row] = desk.store.db.query("SELECT status, last_error FROM alerts")
    assert row["status"] == "pending"
    assert row["last_error"].startswith(
        f"apprise: 1 of 1 service: JSON (json://…), URL 1 of {VARIABLE}, did not accept it: ")
    if failure == "500":
        assert row["last_error"].endswith(
            "did not accept it: Failed to send JSON POST notification: Internal server error., "
            "error=500.")
    else:
        assert "connection error" in row["last_error"].lower()
    for _ in range(SETTINGS.max_attempts):  # retried like every channel, until given up
        clock.advance(30)
        desk.dispatcher(environ={VARIABLE: url}).run()
    [row] = desk.store.db.query("SELECT status, attempts FROM alerts")
    assert row == {"status": "failed", "attempts": SETTINGS.max_attempts}
    desk.store.close()
    texts = [caplog.text, *report.errors]
    assert leaks_in(tmp_path / "v.db", texts) == []
    assert not [t for t in texts if PASSWORD in t or f":{webhook_receiver.port}" in t]
    if failure == "500":
        assert len(webhook_receiver.requests) == SETTINGS.max_attempts


def test_a_service_back_up_gets_the_alert_at_its_next_attempt(tmp_path, webhook_receiver):
    clock = Clock()
    desk = Desk(tmp_path / "v.db", [apprise_sub()], clock)
    desk.publish("Artsakh", "Artsakh.")
    environ = {VARIABLE: json_url(webhook_receiver)}
    webhook_receiver.fail_with(503)
    assert desk.dispatcher(environ=environ).run().retrying == 1
    webhook_receiver.recover()
    assert desk.dispatcher(environ=environ).run().batches == 0  # not due yet: backoff
    clock.advance(1)
    assert desk.dispatcher(environ=environ).run().sent == 1
    assert desk.statuses() == ["sent"]
    assert [r.status for r in webhook_receiver.requests] == [503, 200]


@pytest.mark.parametrize(("environ", "error"), [
    ({}, f"subscription 'desk-caucase': environment variable {VARIABLE} is not set"),
    ({VARIABLE: " , "}, f"apprise: {VARIABLE} holds no Apprise URL"),
    ({VARIABLE: f"nope://{TOKEN}@host/{TOKEN}"},
     f"apprise: URL 1 of {VARIABLE} (nope://…) is not one Apprise can use"),
])
def test_a_missing_or_unusable_variable_fails_at_once(tmp_path, environ, error):
    desk = Desk(tmp_path / "v.db", [apprise_sub()], Clock())
    desk.publish("Artsakh", "Artsakh.")
    report = desk.dispatcher(environ=environ).run()
    assert report.failed == 1
    [row] = desk.store.db.query("SELECT status, last_error FROM alerts")
    assert row["status"] == "failed"
    assert row["last_error"].startswith(error) and TOKEN not in row["last_error"]


def test_a_digest_is_one_notification_and_the_urls_split_as_apprise_splits_them():
    alerts = [make_alert(1), make_alert(2, kind="update", conflicts=())]
    title, body = message_text(alerts, "Desk Caucase")
    assert title == "Veille: 2 alerts for Desk Caucase"
    first, second = body.split("\n\n")
    assert first.splitlines()[0] == "Haut-Karabakh: " + alerts[0].title
    assert second.splitlines()[:2] == ["Updated: " + alerts[1].title, alerts[1].url]
    assert split_urls("json://a/b, ntfy://topic\n tgram://1:AB/2 ") == [
        "json://a/b", "ntfy://topic", "tgram://1:AB/2"]
    # a Telegram URL: its host is the bot's token, its path the chat
    assert {"tgram://123456789:ABCDEFG/4242", "123456789:ABCDEFG", "123456789", "ABCDEFG",
            "4242"} <= set(service_url_secrets("tgram://123456789:ABCDEFG/4242"))


def test_send_apprise_names_the_service_never_its_url(webhook_receiver):
    webhook_receiver.down()
    alert = make_alert()
    with pytest.raises(DeliveryError) as error:
        send_apprise([json_url(webhook_receiver)], alert.uid, [alert], "Desk",
                     variable=VARIABLE)
    assert not error.value.permanent
    assert TOKEN not in str(error.value) and PASSWORD not in str(error.value)


def test_alerts_test_reaches_an_apprise_service(tmp_path, webhook_receiver):
    config = tmp_path / "veille.toml"
    config.write_text(KILL_CONFIG.split("[subscription.webhook]")[0]
                      + f'[subscription.apprise]\nurls_env = "{VARIABLE}"\n', encoding="utf-8")
    sent = veille("--config", config, "--db", tmp_path / "v.db", "alerts", "test", "desk-caucase",
                  env={VARIABLE: json_url(webhook_receiver)})
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.strip() == "desk-caucase: test message delivered by apprise"
    [request] = webhook_receiver.wait_for(1)
    assert request.json["title"] == "karabakh: Veille test message for subscription 'Desk Caucase'"
    missing = veille("--config", config, "--db", tmp_path / "v.db", "alerts", "test",
                     "desk-caucase")
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        "Error: desk-caucase: test message not delivered: subscription 'desk-caucase': "
        f"environment variable {VARIABLE} is not set")


def test_alerts_send_prints_and_stores_no_part_of_a_failing_url(tmp_path, webhook_receiver):
    webhook_receiver.fail_with(500, f"token {TOKEN} is not valid")
    config = tmp_path / "veille.toml"
    config.write_text(KILL_CONFIG.split("[subscription.webhook]")[0]
                      + f'[subscription.apprise]\nurls_env = "{VARIABLE}"\n', encoding="utf-8")
    db = tmp_path / "v.db"
    desk = Desk(db, [apprise_sub()], Clock(datetime.now(UTC)))
    desk.publish("Karabakh 1", "Haut-Karabakh, un.")
    desk.store.close()
    sent = veille("--config", config, "--db", db, "alerts", "send",
                  env={VARIABLE: json_url(webhook_receiver)})
    assert sent.returncode == 0 and "1 to retry" in sent.stdout, sent.stdout + sent.stderr
    error = (f"desk-caucase: apprise: 1 of 1 service: JSON (json://…), URL 1 of {VARIABLE}, "
             "did not accept it: Failed to send JSON POST notification: Internal server "
             "error., error=500.")
    # the dispatcher's warning, then the command's line: nothing of Apprise's own
    assert sent.stderr.splitlines() == [f"{error} (attempt 1, next in 30 s)", f"  error: {error}"]
    assert webhook_receiver.requests[0].path == f"/hook/{TOKEN}"
    assert leaks_in(db, [sent.stdout, sent.stderr]) == []


# -- the [subscription.apprise] table -------------------------------------------------------

APPRISE = f"""
[[subscription]]
id = "desk-chat"
conflicts = ["karabakh"]
[subscription.apprise]
urls_env = "{VARIABLE}"
"""


def test_an_apprise_subscription_loads_with_the_name_of_its_variable(tmp_path):
    [sub] = load(tmp_path, BASE + APPRISE).subscriptions
    assert sub.channel == AppriseChannel(VARIABLE) and sub.channel_kind == "apprise"


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: t.replace(f'urls_env = "{VARIABLE}"', f'urls = ["tgram://{TOKEN}/1"]'),
     "subscription 'desk-chat': apprise.urls must not be written in the config (Apprise URLs "
     "hold the services' tokens); put the URLs in an environment variable and name the "
     "variable with urls_env"),
    (lambda t: t.replace(f'urls_env = "{VARIABLE}"', f'url = "tgram://{TOKEN}/1"'),
     "subscription 'desk-chat': apprise.url must not be written in the config"),
    (lambda t: t.replace(f'urls_env = "{VARIABLE}"', f'urls_env = "tgram://{TOKEN}/1"'),
     "subscription 'desk-chat': apprise: urls_env must name an environment variable (such as "
     "VEILLE_APPRISE_URLS), not a URL"),
    (lambda t: t.replace(f'urls_env = "{VARIABLE}"', ""),
     "subscription 'desk-chat': apprise: missing 'urls_env'"),
    (lambda t: t.replace(f'urls_env = "{VARIABLE}"', 'urls_env = "A"\ntimeout = 5'),
     "subscription 'desk-chat': apprise: unknown key 'timeout'"),
    (lambda t: t + '[subscription.feed]\npath = "x.xml"\n',
     "needs exactly one channel table: [subscription.webhook], [subscription.email], "
     "[subscription.feed] or [subscription.apprise] (found feed, apprise)"),
])
def test_apprise_urls_in_the_file_are_refused(tmp_path, change, message):
    with pytest.raises(ConfigError) as error:
        load(tmp_path, change(BASE + APPRISE))
    assert message in str(error.value) and "\n" not in str(error.value)
    assert TOKEN not in str(error.value)
