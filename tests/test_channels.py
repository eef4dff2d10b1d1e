"""The three alert channels against real receivers on 127.0.0.1: webhook, SMTP, Atom file."""

from __future__ import annotations

import json
import os
import ssl
import time
import uuid
from dataclasses import replace
from pathlib import Path

import feedparser
import pytest
import trustme
from receivers import WEBHOOK_SECRET, SmtpSink, WebhookReceiver

import crawler.alerts.channels
from crawler.alerts.channels import AlertMessage, MatchedTerm, OtherCopy
from crawler.alerts.channels.atom import entry_id, write_feed
from crawler.alerts.channels.mail import _tls_context, build_email, send_email
from crawler.alerts.channels.webhook import format_text, send_webhook, sign, verify_signature
from crawler.config.model import EmailChannel, FeedChannel, WebhookChannel
from crawler.config.redaction import redact_url
from crawler.errors import DeliveryError

pytest_plugins = ["receivers"]  # the webhook_receiver and smtp_sink fixtures

UA = "Veille-test/0.1"


def make_alert(n: int = 1, **changes) -> AlertMessage:
    alert = AlertMessage(
        uid=f"alert-{n}",
        subscription_id="desk-caucase",
        kind="new",
        created_at=f"2024-05-01T10:{n:02d}:00+00:00",
        title=f"Haut-Karabakh : l'Élysée & <Bakou> dialoguent ({n})",
        url=f"https://levant.test/monde/article-{n}?a=1&b=2",
        source_id="levant",
        source_name="Le Levant",
        published_at="2024-05-01T09:30:00+02:00",
        language="fr",
        lead="Un chapô accentué : « déjà » vu.",
        topic="Caucase",
        image_url="https://levant.test/img.jpg",
        conflicts=("Haut-Karabakh",),
        matched=(MatchedTerm("nagorno", "Haut-Karabakh", "Karabakh", "title"),),
        other_copies=(OtherCopy("Le Courrier", "https://courrier.test/x", "Autre titre"),),
    )
    return replace(alert, **changes)


# -- webhook ------------------------------------------------------------------------------

def test_webhook_single_alert(webhook_receiver):
    alert = make_alert()
    before = int(time.time())
    send_webhook(WebhookChannel(webhook_receiver.url), WEBHOOK_SECRET, alert.uid, [alert],
                 user_agent=UA)
    [request] = webhook_receiver.wait_for(1)
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == UA
    assert request.headers["idempotency-key"] == "alert-1"
    assert request.headers["x-veille-alert-id"] == "alert-1"
    assert before <= int(request.headers["x-veille-timestamp"]) <= time.time()
    assert request.signature_valid is True
    body = json.loads(request.body.decode("utf-8"))  # UTF-8, accents unescaped
    assert "Élysée" in request.body.decode("utf-8")
    assert body["type"] == "alert" and body["id"] == "alert-1"
    assert body["subscription"] == "desk-caucase"
    assert body["alert"] == {
        "id": "alert-1", "kind": "new", "created_at": "2024-05-01T10:01:00+00:00",
        "title": alert.title, "url": alert.url,
        "source": {"id": "levant", "name": "Le Levant"},
        "published_at": "2024-05-01T09:30:00+02:00", "language": "fr",
        "lead": alert.lead, "topic": "Caucase", "image_url": "https://levant.test/img.jpg",
        "conflicts": ["Haut-Karabakh"],
        "matched": [{"conflict_id": "nagorno", "conflict": "Haut-Karabakh",
                     "alias": "Karabakh", "field": "title"}],
        "other_copies": [{"source": "Le Courrier", "url": "https://courrier.test/x",
                          "title": "Autre titre"}],
    }
    assert body["text"] == (
        "*Haut-Karabakh* <https://levant.test/monde/article-1?a=1&amp;b=2|Haut-Karabakh : "
        "l'Élysée &amp; &lt;Bakou&gt; dialoguent (1)>\n"
        "Le Levant, 2024-05-01 07:30 UTC\n"
        "Also in: <https://courrier.test/x|Le Courrier>"
    )


def test_webhook_digest(webhook_receiver):
    alerts = [make_alert(1), make_alert(2, kind="update", conflicts=("Soudan", "Tchad"))]
    send_webhook(WebhookChannel(webhook_receiver.url), WEBHOOK_SECRET, "batch-7", alerts,
                 user_agent=UA)
    [request] = webhook_receiver.wait_for(1)
    body = request.json
    assert body["type"] == "digest" and body["id"] == "batch-7"
    assert [a["id"] for a in body["alerts"]] == ["alert-1", "alert-2"]
    assert body["alerts"][1]["kind"] == "update"
    assert "alert" not in body
    lines = body["text"].split("\n")
    assert len(lines) == 2
    assert lines[1].startswith("• *Soudan, Tchad* Updated: <https://levant.test/monde/article-2")
    assert request.headers["idempotency-key"] == "batch-7"


def test_webhook_one_alert_under_its_own_batch_uid_is_a_digest(webhook_receiver):
    send_webhook(WebhookChannel(webhook_receiver.url), None, "digest-08h00", [make_alert()],
                 user_agent=UA)
    [request] = webhook_receiver.wait_for(1)
    assert request.json["type"] == "digest" and len(request.json["alerts"]) == 1


def test_webhook_without_secret_is_not_signed(webhook_receiver):
    send_webhook(WebhookChannel(webhook_receiver.url), None, "alert-1", [make_alert()],
                 user_agent=UA)
    [request] = webhook_receiver.wait_for(1)
    assert "x-veille-signature" not in request.headers
    assert request.signature_valid is False


def test_signature_verification(webhook_receiver):
    send_webhook(WebhookChannel(webhook_receiver.url), WEBHOOK_SECRET, "alert-1",
                 [make_alert()], user_agent=UA)
    [request] = webhook_receiver.wait_for(1)
    header, body = request.headers["x-veille-signature"], request.body
    ts = int(request.headers["x-veille-timestamp"])
    assert header.startswith(f"t={ts},sha256=")
    assert verify_signature(WEBHOOK_SECRET, body, header)
    assert not verify_signature("wrong-secret", body, header)
    assert not verify_signature(WEBHOOK_SECRET, body.replace(b"Levant", b"Levent"), header)
    assert not verify_signature(WEBHOOK_SECRET, body, header.replace(f"t={ts}", f"t={ts + 1}"))
    assert not verify_signature(WEBHOOK_SECRET, body, header, now=ts + 301)  # a replay
    assert verify_signature(WEBHOOK_SECRET, body, header, now=ts + 299)
    assert not verify_signature(WEBHOOK_SECRET, body, None)
    assert not verify_signature(WEBHOOK_SECRET, body, "sha256=abc")
    assert not verify_signature(WEBHOOK_SECRET, body, "t=soon,sha256=abc")
    # during a secret rotation the sender may sign twice: either signature is enough
    rotated = f"{sign('old', body, ts)},sha256={header.rpartition('sha256=')[2]}"
    assert verify_signature(WEBHOOK_SECRET, body, rotated, now=ts)


@pytest.mark.parametrize("status", [500, 502, 503, 408, 409, 425, 429])
def test_webhook_retryable_status_is_temporary(webhook_receiver, status):
    webhook_receiver.fail_with(status, "  maintenance\n in progress  ")
    with pytest.raises(DeliveryError) as caught:
        send_webhook(WebhookChannel(webhook_receiver.url), None, "alert-1", [make_alert()],
                     user_agent=UA)
    assert caught.value.permanent is False
    assert str(caught.value) == (
        f"webhook {redact_url(webhook_receiver.url)} answered HTTP {status}: "
        "maintenance in progress"
    )


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 413, 422])
def test_webhook_client_error_is_permanent(webhook_receiver, status):
    webhook_receiver.fail_with(status, "x" * 500)
    with pytest.raises(DeliveryError) as caught:
        send_webhook(WebhookChannel(webhook_receiver.url), None, "alert-1", [make_alert()],
                     user_agent=UA)
    assert caught.value.permanent is True
    message = str(caught.value)
    assert redact_url(webhook_receiver.url) in message and f"HTTP {status}" in message
    assert message.endswith(": " + "x" * 200)


def test_webhook_receiver_down_then_back(webhook_receiver):
    channel = WebhookChannel(webhook_receiver.url)
    webhook_receiver.down()
    with pytest.raises(DeliveryError) as caught:
        send_webhook(channel, WEBHOOK_SECRET, "alert-1", [make_alert()], user_agent=UA)
    assert caught.value.permanent is False
    assert str(caught.value) == f"webhook {redact_url(channel.url)}: connection refused"
    webhook_receiver.up()  # same port: the configured URL works again
    assert webhook_receiver.url == channel.url
    send_webhook(channel, WEBHOOK_SECRET, "alert-1", [make_alert()], user_agent=UA)
    webhook_receiver.wait_for(1)
    assert webhook_receiver.unique_ids() == ["alert-1"]


def test_webhook_timeout_is_temporary(webhook_receiver):
    webhook_receiver.hang()  # released when the fixture ends
    started = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        send_webhook(WebhookChannel(webhook_receiver.url, timeout=0.5), None, "alert-1",
                     [make_alert()], user_agent=UA)
    assert time.monotonic() - started < 5
    assert caught.value.permanent is False
    assert str(caught.value) == f"webhook {redact_url(webhook_receiver.url)}: no answer within 0.5 s"
    assert len(webhook_receiver.wait_for(1)) == 1


def test_webhook_follows_307_with_the_same_signed_post(webhook_receiver):
    with WebhookReceiver(secret=WEBHOOK_SECRET) as final:
        webhook_receiver.fail_with(307, "moved", headers={"Location": final.url})
        send_webhook(WebhookChannel(webhook_receiver.url), WEBHOOK_SECRET, "alert-1",
                     [make_alert()], user_agent=UA)
        [moved] = webhook_receiver.wait_for(1)
        [request] = final.wait_for(1)
    assert request.method == "POST" and request.body == moved.body
    assert request.signature_valid is True
    assert request.headers["idempotency-key"] == "alert-1"


def test_webhook_error_after_a_redirect_names_both_urls(webhook_receiver):
    with WebhookReceiver() as final:
        final.fail_with(404, "gone")
        webhook_receiver.fail_with(308, "moved", headers={"Location": final.url})
        with pytest.raises(DeliveryError) as caught:
            send_webhook(WebhookChannel(webhook_receiver.url), None, "alert-1",
                         [make_alert()], user_agent=UA)
    assert caught.value.permanent is True
    # both redacted: the message is stored in the published database
    assert str(caught.value) == (f"webhook {redact_url(webhook_receiver.url)} (redirected to "
                                 f"{redact_url(final.url)}) answered HTTP 404: gone")


@pytest.mark.parametrize("status, location", [
    (302, "http://127.0.0.1:9/elsewhere"),  # a POST turned into a GET would lose the alert
    (301, "https://hooks.test/new"),
    (307, "file:///etc/passwd"),
    (308, "ftp://hooks.test/x"),
])
def test_webhook_unfollowed_redirect_is_permanent(webhook_receiver, status, location):
    webhook_receiver.fail_with(status, "moved", headers={"Location": location})
    with pytest.raises(DeliveryError) as caught:
        send_webhook(WebhookChannel(webhook_receiver.url), None, "alert-1", [make_alert()],
                     user_agent=UA)
    assert caught.value.permanent is True
    assert f"answered {status} redirecting to {redact_url(location)}" in str(caught.value)
    assert len(webhook_receiver.requests) == 1


def test_webhook_refuses_a_non_http_url():
    with pytest.raises(DeliveryError) as caught:
        send_webhook(WebhookChannel("file:///tmp/x"), None, "a", [make_alert()], user_agent=UA)
    assert caught.value.permanent is True


def test_format_text_escapes_mrkdwn():
    text = format_text([make_alert(title="A | B >\nC", published_at=None, other_copies=())])
    assert text == ("*Haut-Karabakh* <https://levant.test/monde/article-1?a=1&amp;b=2"
                    "|A ¦ B &gt; C>\nLe Levant")


# -- e-mail -------------------------------------------------------------------------------

def mail_channel(sink: SmtpSink, **changes) -> EmailChannel:
    channel = EmailChannel(host=sink.host, port=sink.port, security="none",
                           sender="Veille <veille@newsroom.test>",
                           to=("desk@newsroom.test", "chef@newsroom.test"), timeout=10)
    return replace(channel, **changes)


def parts(message):
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return plain, html


def test_email_single_alert(smtp_sink):
    alert = make_alert()
    send_email(mail_channel(smtp_sink), None, alert.uid, [alert], "Desk Caucase")
    [mail] = smtp_sink.wait_for(1)
    message = mail.message
    assert mail.rcpt_tos == ["desk@newsroom.test", "chef@newsroom.test"]
    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"] == f"[Veille] Haut-Karabakh: {alert.title}"
    assert message["Message-ID"] == "<alert-1@veille>"
    assert message["X-Veille-Alert-Id"] == "alert-1"
    assert message["From"] == "Veille <veille@newsroom.test>"
    assert message["To"] == "desk@newsroom.test, chef@newsroom.test"
    assert message["Date"].datetime.tzinfo is not None
    assert max(len(line) for line in mail.raw.split(b"\r\n")) <= 78
    assert all(byte < 128 for byte in mail.raw)  # 7-bit clean on the wire
    plain, html = parts(message)
    assert alert.title in plain and alert.url in plain
    assert "Un chapô accentué : « déjà » vu." in plain
    assert "Matched: Karabakh (title)" in plain
    assert "Also in Le Courrier: https://courrier.test/x" in plain
    assert "l&#x27;Élysée &amp; &lt;Bakou&gt; dialoguent" in html
    assert '<a href="https://levant.test/monde/article-1?a=1&amp;b=2">' in html
    assert "<Bakou>" not in html
    assert 'Desk Caucase' in plain and "Desk Caucase" in html


def test_email_digest(smtp_sink):
    alerts = [make_alert(1), make_alert(2, conflicts=("Soudan",)),
              make_alert(3, conflicts=("Soudan", "Haut-Karabakh"))]
    send_email(mail_channel(smtp_sink), None, "digest-0800", alerts, "Desk")
    [mail] = smtp_sink.wait_for(1)
    assert mail.message["Subject"] == "[Veille] 3 new stories: Haut-Karabakh, Soudan"
    assert mail.message["Message-ID"] == "<digest-0800@veille>"
    plain, html = parts(mail.message)
    for alert in alerts:
        assert alert.url in plain
    assert html.count("<h3>") == 3


def test_email_message_id_is_stable_and_valid():
    channel = EmailChannel(host="smtp.test", sender="v@x.test", to=("d@x.test",))
    first = build_email(channel, "batch 1/é", [make_alert()], "Desk")
    second = build_email(channel, "batch 1/é", [make_alert()], "Desk")
    assert first["Message-ID"] == second["Message-ID"]
    assert first["Message-ID"].startswith("<") and " " not in first["Message-ID"]
    assert build_email(channel, "alert-1", [make_alert(kind="update")], "Desk")["Subject"] == (
        f"[Veille] Haut-Karabakh: Updated: {make_alert().title}"
    )
    multiline = build_email(channel, "a", [make_alert(title="Soudan :\n  le point")], "Desk")
    assert multiline["Subject"] == "[Veille] Haut-Karabakh: Soudan : le point"


def test_email_login():
    with SmtpSink(require_auth=("desk", "pass word")) as sink:
        channel = mail_channel(sink, username="desk", password_env="VEILLE_SMTP_PASSWORD",
                               allow_plaintext_login=True)
        send_email(channel, "pass word", "alert-1", [make_alert()], "Desk")
        [mail] = sink.wait_for(1)
        assert mail.login == "desk"
        with pytest.raises(DeliveryError) as wrong:
            send_email(channel, "guess", "alert-2", [make_alert(2)], "Desk")
        with pytest.raises(DeliveryError) as not_ascii:
            send_email(channel, "pâss", "alert-2", [make_alert(2)], "Desk")
        with pytest.raises(DeliveryError) as anonymous:
            send_email(mail_channel(sink), None, "alert-3", [make_alert(3)], "Desk")
        assert len(sink.messages) == 1
    assert wrong.value.permanent is True and "login refused: 535" in str(wrong.value)
    assert not_ascii.value.permanent is True and "not ASCII" in str(not_ascii.value)
    assert anonymous.value.permanent is True and "sender refused: 530" in str(anonymous.value)


def test_email_missing_password_is_permanent():
    channel = EmailChannel(host="127.0.0.1", port=9, security="none", sender="v@x.test",
                           to=("d@x.test",), username="desk", password_env="SMTP_PW",
                           allow_plaintext_login=True)
    with pytest.raises(DeliveryError) as caught:
        send_email(channel, None, "alert-1", [make_alert()], "Desk")
    assert caught.value.permanent is True
    assert "password_env SMTP_PW is not set" in str(caught.value)


def test_email_server_down_is_temporary():
    with SmtpSink() as sink:
        channel = mail_channel(sink)
    with pytest.raises(DeliveryError) as caught:
        send_email(channel, None, "alert-1", [make_alert()], "Desk")
    assert caught.value.permanent is False
    assert str(caught.value) == f"smtp 127.0.0.1:{channel.port}: connection refused"


def test_email_451_is_temporary_and_the_retry_goes_through(smtp_sink):
    smtp_sink.fail_next(451)
    with pytest.raises(DeliveryError) as caught:
        send_email(mail_channel(smtp_sink), None, "alert-1", [make_alert()], "Desk")
    assert caught.value.permanent is False
    assert "message refused: 451" in str(caught.value)
    send_email(mail_channel(smtp_sink), None, "alert-1", [make_alert()], "Desk")
    assert len(smtp_sink.wait_for(1)) == 1


def test_email_554_is_permanent(smtp_sink):
    smtp_sink.fail_next(554, "5.6.0 rejected")
    with pytest.raises(DeliveryError) as caught:
        send_email(mail_channel(smtp_sink), None, "alert-1", [make_alert()], "Desk")
    assert caught.value.permanent is True


def test_email_recipient_refused_is_permanent(smtp_sink):
    smtp_sink.refuse("desk@newsroom.test")
    smtp_sink.refuse("chef@newsroom.test")
    with pytest.raises(DeliveryError) as caught:
        send_email(mail_channel(smtp_sink), None, "alert-1", [make_alert()], "Desk")
    assert caught.value.permanent is True
    assert "recipients refused: desk@newsroom.test (550" in str(caught.value)
    assert smtp_sink.messages == []


def test_email_one_recipient_refused_is_reported_not_retried(smtp_sink):
    smtp_sink.refuse("chef@newsroom.test")
    with pytest.raises(DeliveryError) as caught:
        send_email(mail_channel(smtp_sink), None, "alert-1", [make_alert()], "Desk")
    assert caught.value.permanent is True
    assert "delivered to 1 recipient but refused for chef@newsroom.test" in str(caught.value)
    assert smtp_sink.wait_for(1)[0].rcpt_tos == ["desk@newsroom.test"]


def test_email_starttls_unsupported_is_permanent(smtp_sink):
    with pytest.raises(DeliveryError) as caught:
        send_email(mail_channel(smtp_sink, security="starttls"), None, "alert-1",
                   [make_alert()], "Desk")
    assert caught.value.permanent is True
    assert str(caught.value) == (f"smtp 127.0.0.1:{smtp_sink.port}: STARTTLS extension not "
                                 "supported by server.")
    assert smtp_sink.messages == []


def test_email_tls_against_a_plain_server_is_temporary_with_a_hint(smtp_sink):
    with pytest.raises(DeliveryError) as caught:
        send_email(mail_channel(smtp_sink, security="tls"), None, "alert-1", [make_alert()],
                   "Desk")
    assert caught.value.permanent is False
    assert "TLS failure" in str(caught.value) and "security = 'tls'" in str(caught.value)


def test_email_starttls_with_login_trusts_the_private_ca():
    with SmtpSink(require_auth=("desk", "pass word"), tls="starttls") as sink:
        channel = mail_channel(sink, security="starttls", ca_file=sink.ca_file,
                               username="desk", password_env="VEILLE_SMTP_PASSWORD")
        send_email(channel, "pass word", "alert-1", [make_alert()], "Desk")
        [mail] = sink.wait_for(1)
        assert mail.login == "desk" and mail.tls is not None and mail.tls.startswith("TLSv1")
        # the relay's certificate is not in the system's store: ca_file is what makes it work
        with pytest.raises(DeliveryError) as untrusted:
            send_email(replace(channel, ca_file=None), "pass word", "alert-2",
                       [make_alert(2)], "Desk")
        # in clear, this relay offers no AUTH and refuses MAIL FROM before STARTTLS
        with pytest.raises(DeliveryError) as clear_login:
            send_email(replace(channel, security="none", allow_plaintext_login=True),
                       "pass word", "alert-2", [make_alert(2)], "Desk")
        with pytest.raises(DeliveryError) as clear:
            send_email(mail_channel(sink), None, "alert-2", [make_alert(2)], "Desk")
        assert len(sink.messages) == 1
    assert untrusted.value.permanent is False
    assert "the certificate of 127.0.0.1 could not be verified" in str(untrusted.value)
    assert "the system's CA store (set ca_file for a private CA)" in str(untrusted.value)
    assert clear_login.value.permanent is True
    assert "SMTP AUTH extension not supported" in str(clear_login.value)
    assert clear.value.permanent is True
    assert "sender refused: 530 Must issue a STARTTLS command first" in str(clear.value)


def test_email_implicit_tls_with_login():
    with SmtpSink(require_auth=("desk", "pass word"), tls="tls") as sink:
        channel = mail_channel(sink, security="tls", ca_file=sink.ca_file,
                               username="desk", password_env="VEILLE_SMTP_PASSWORD")
        send_email(channel, "pass word", "alert-1", [make_alert()], "Desk")
        [mail] = sink.wait_for(1)
    assert mail.login == "desk" and mail.tls is not None and mail.tls.startswith("TLSv1")
    assert mail.message["Message-ID"] == "<alert-1@veille>"


@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_email_certificate_from_another_ca_is_temporary(tmp_path, mode):
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    with SmtpSink(tls=mode) as sink:
        with pytest.raises(DeliveryError) as caught:
            send_email(mail_channel(sink, security=mode, ca_file=other_ca), None, "alert-1",
                       [make_alert()], "Desk")
        assert sink.messages == []
    # temporary, like every TLS failure: a relay's certificate gets fixed, the retry then works
    assert caught.value.permanent is False
    assert str(caught.value) == (
        f"smtp 127.0.0.1:{sink.port}: the certificate of 127.0.0.1 could not be verified "
        f"(unable to get local issuer certificate) against ca_file '{other_ca}'"
    )


def test_email_unloadable_ca_file_is_permanent(tmp_path):
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate\n", encoding="utf-8")
    for ca_file in (tmp_path / "missing.pem", not_pem):
        channel = EmailChannel(host="127.0.0.1", port=9, sender="v@x.test", to=("d@x.test",),
                               ca_file=ca_file)
        with pytest.raises(DeliveryError) as caught:
            send_email(channel, None, "alert-1", [make_alert()], "Desk")
        assert caught.value.permanent is True
        assert f"smtp 127.0.0.1: cannot load ca_file '{ca_file}'" in str(caught.value)


def test_email_tls_context_always_verifies(tmp_path):
    ca_file = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(ca_file))
    for channel in (EmailChannel(host="h", sender="v@x.test", to=("d@x.test",)),
                    EmailChannel(host="h", sender="v@x.test", to=("d@x.test",),
                                 ca_file=ca_file)):
        context = _tls_context(channel)
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname is True
    assert len(context.get_ca_certs()) == 1  # only the private CA, not the system's store


# -- Atom ---------------------------------------------------------------------------------

def read_feed(path: Path):
    parsed = feedparser.parse(str(path))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def test_feed(tmp_path):
    path = tmp_path / "feeds" / "caucase.xml"  # the folder does not exist yet
    uid = uuid.uuid4().hex
    alerts = [make_alert(1, uid=uid), make_alert(3), make_alert(2, published_at=None)]
    write_feed(FeedChannel(path), "desk-caucase", "Desk Caucase", alerts,
               "2024-05-01T10:03:00+00:00")
    feed = read_feed(path)
    assert feed.version == "atom10"
    assert feed.feed.id == "urn:veille:subscription:desk-caucase"
    assert feed.feed.title == "Veille: Desk Caucase"
    assert feed.feed.updated == "2024-05-01T10:03:00Z"
    assert [e.id for e in feed.entries] == [
        "urn:veille:alert:alert-3", "urn:veille:alert:alert-2", str(uuid.UUID(uid).urn),
    ]
    entry = feed.entries[2]
    assert entry.title == "Haut-Karabakh : l'Élysée & <Bakou> dialoguent (1)"
    assert entry.link == "https://levant.test/monde/article-1?a=1&b=2"
    assert entry.updated == "2024-05-01T10:01:00Z"
    assert entry.published == "2024-05-01T07:30:00Z"
    assert "published" not in feed.entries[1]
    assert entry.author == "Le Levant"
    assert [t.term for t in entry.tags] == ["Haut-Karabakh"]
    assert entry.summary == ("Un chapô accentué : « déjà » vu.\n\nMatched: Karabakh (title)"
                             "\n\nAlso in: Le Courrier (https://courrier.test/x)")
    assert os.listdir(path.parent) == ["caucase.xml"]


def test_feed_rewrite_keeps_ids_and_honours_max_entries(tmp_path):
    channel = FeedChannel(tmp_path / "f.atom", title="Caucase & co", max_entries=3)
    write_feed(channel, "s", "Desk", [make_alert(1), make_alert(2)], "2024-05-01T10:02:00Z")
    first = read_feed(channel.path)
    more = [make_alert(n) for n in range(1, 6)]
    write_feed(channel, "s", "Desk", more, "2024-05-01T10:05:00Z")
    second = read_feed(channel.path)
    assert second.feed.title == "Caucase & co"
    assert [e.id for e in second.entries] == [entry_id(f"alert-{n}") for n in (5, 4, 3)]
    assert first.entries[0].id == entry_id("alert-2") == "urn:veille:alert:alert-2"
    assert sorted(os.listdir(tmp_path)) == ["f.atom"]


def test_feed_escapes_and_strips_what_xml_cannot_hold(tmp_path):
    channel = FeedChannel(tmp_path / "f.xml")
    alert = make_alert(title="Crise & <guerre> \x0b« Tchad »", url="https://x.test/?q=1&r=<2>",
                       conflicts=("Soudan & Tchad",), lead=None, matched=(), other_copies=())
    write_feed(channel, "s/é", "Desk", [alert], "2024-05-01T10:00:00Z")
    entry = read_feed(channel.path).entries[0]
    assert entry.title == "Crise & <guerre> « Tchad »"
    assert entry.tags[0].term == "Soudan & Tchad"
    assert entry.summary == alert.title.replace("\x0b", "")


def test_feed_write_failure_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    channel = FeedChannel(tmp_path / "f.xml")
    write_feed(channel, "s", "Desk", [make_alert(1)], "2024-05-01T10:00:00Z")
    before = channel.path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_feed(channel, "s", "Desk", [make_alert(2)], "2024-05-01T10:02:00Z")
    assert channel.path.read_bytes() == before
    assert os.listdir(tmp_path) == ["f.xml"]


def test_channels_exports():
    for name in crawler.alerts.channels.__all__:
        assert hasattr(crawler.alerts.channels, name), name
