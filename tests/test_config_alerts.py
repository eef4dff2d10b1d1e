"""`[[conflict]]`, `[[subscription]]` and `[alerts]`: what loads, and what a mistake gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.config.model import (
    SHIPPED_CONFIG,
    EmailChannel,
    FeedChannel,
    WebhookChannel,
    load_config,
    parse_duration,
)
from crawler.demo import render_demo_config
from crawler.errors import ConfigError

BASE = """
[[source]]
id = "levant-rss"
kind = "feed"
url = "https://levant.example/rss.xml"

[[conflict]]
id = "karabakh"
name = "Nagorny Karabakh"
aliases = ["Haut-Karabakh", "Artsakh"]
exclude = ["cheval du Karabakh"]
topics = ["Nagorny Karabakh"]

[[conflict]]
id = "soudan"
aliases = ["Soudan", "Sudan"]
"""
WEBHOOK = """
[[subscription]]
id = "desk-caucase"
name = "Desk Caucase"
conflicts = ["karabakh"]
sources = ["levant-rss"]
languages = ["FR"]
[subscription.webhook]
url = "https://hooks.example/veille"
secret_env = "DESK_SECRET"
"""


def load(tmp_path: Path, text: str):
    path = tmp_path / "veille.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def test_conflicts_and_a_webhook_subscription_load_typed(tmp_path):
    config = load(tmp_path, BASE + WEBHOOK)
    karabakh, soudan = config.conflicts
    assert karabakh.aliases == ("Haut-Karabakh", "Artsakh")
    assert karabakh.exclude == ("cheval du Karabakh",) and karabakh.topics == ("Nagorny Karabakh",)
    assert soudan.name == "soudan"  # the name defaults to the id
    [sub] = config.subscriptions
    assert sub.channel == WebhookChannel("https://hooks.example/veille", "DESK_SECRET", 10.0)
    assert (sub.mode, sub.languages, sub.sources) == ("immediate", ("fr",), ("levant-rss",))
    assert sub.channel_kind == "webhook"
    assert config.alerts.max_attempts == 12  # defaults when [alerts] is absent


def test_email_and_feed_channels_digests_and_alert_settings(tmp_path):
    config = load(tmp_path, BASE + """
[alerts]
max_attempts = 5
backoff = "10s"
backoff_cap = "2m"

[[subscription]]
id = "matin"
conflicts = ["karabakh", "soudan"]
mode = "digest"
at = ["18:00", "08:00"]
timezone = "Asia/Beirut"
[subscription.email]
host = "smtp.example.org"
security = "tls"
username = "veille"
password_env = "SMTP_PASSWORD"
sender = "veille@example.org"
to = ["desk@example.org", "chef@example.org"]

[[subscription]]
id = "flux"
conflicts = ["soudan"]
mode = "digest"
every = "1h30m"
[subscription.feed]
max_entries = 20
""")
    matin, flux = config.subscriptions
    assert isinstance(matin.channel, EmailChannel)
    assert (matin.channel.port, matin.channel.to) == (465, ("desk@example.org", "chef@example.org"))
    assert matin.at == ("08:00", "18:00") and matin.timezone == "Asia/Beirut"
    assert isinstance(flux.channel, FeedChannel) and flux.every_minutes == 90
    # Feed files default to feeds/<id>.xml beside the config (data/feeds/ for the shipped one).
    assert flux.channel.path == tmp_path / "feeds" / "flux.xml"
    assert (config.alerts.max_attempts, config.alerts.backoff_seconds,
            config.alerts.backoff_cap_seconds) == (5, 10.0, 120.0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace('conflicts = ["karabakh"]', 'conflicts = ["tchad"]'),
         "subscription 'desk-caucase': unknown conflict 'tchad' (known: karabakh, soudan)"),
        (lambda t: t.replace('sources = ["levant-rss"]', 'sources = ["levant"]'),
         "subscription 'desk-caucase': unknown source 'levant'"),
        (lambda t: t.replace('secret_env = "DESK_SECRET"', 'secret = "hunter2"'),
         "webhook.secret must not be written in the config; put it in an environment variable"),
        (lambda t: t.replace('secret_env = "DESK_SECRET"', 'secret_env = "my secret"'),
         "secret_env 'my secret' is not an environment variable name"),
        (lambda t: t.replace('url = "https://hooks.example/veille"', 'url = "hooks.example"'),
         "subscription 'desk-caucase': webhook: url 'hooks.example' is not an absolute http(s) URL"),
        (lambda t: t.replace("[subscription.webhook]", "[subscription.pigeon]"),
         "subscription 'desk-caucase': unknown key 'pigeon'"),
        (lambda t: t + '[subscription.feed]\npath = "x.xml"\n',
         "needs exactly one channel table"),
        (lambda t: t.replace('languages = ["FR"]', 'mode = "weekly"'),
         "mode 'weekly' is not \"immediate\" or \"digest\""),
        (lambda t: t.replace('languages = ["FR"]', 'mode = "digest"'),
         "a digest needs every = \"30m\" or at = [\"08:00\", ...]"),
        (lambda t: t.replace('languages = ["FR"]', 'mode = "digest"\nat = ["8h"]'),
         "at '8h' is not a time such as \"08:00\""),
        (lambda t: t.replace('languages = ["FR"]', 'every = "soon"'),
         "every: 'soon' is not a duration"),
        (lambda t: t.replace('aliases = ["Soudan", "Sudan"]', 'aliases = []'),
         "conflict 'soudan': give at least one alias (or a topic label)"),
        (lambda t: t.replace('aliases = ["Soudan", "Sudan"]', 'aliases = ["Soudan", ""]'),
         "conflict 'soudan': aliases must be a list of non-empty strings"),
        (lambda t: t.replace('id = "soudan"', 'id = "karabakh"'),
         "conflict 'karabakh': duplicate id"),
        (lambda t: t + '\n[alerts]\nmax_attempts = 0\n', "[alerts]: max_attempts = 0: must be between 1 and 100"),
    ],
)
def test_a_bad_alert_config_names_the_table_and_the_problem(tmp_path, change, message):
    with pytest.raises(ConfigError) as error:
        load(tmp_path, change(BASE + WEBHOOK))
    assert message in str(error.value)
    assert str(tmp_path / "veille.toml") in str(error.value)


def test_an_email_subscription_needs_its_addresses(tmp_path):
    text = BASE + """
[[subscription]]
id = "mail"
conflicts = ["soudan"]
[subscription.email]
host = "smtp.example.org"
sender = "veille@example.org"
to = ["desk.example.org"]
"""
    with pytest.raises(ConfigError, match="'desk.example.org' is not an e-mail address"):
        load(tmp_path, text)
    with pytest.raises(ConfigError, match="username given without password_env"):
        load(tmp_path, text.replace("desk.example.org", "desk@example.org")
             .replace('host = "smtp.example.org"', 'host = "smtp.example.org"\nusername = "v"'))


@pytest.mark.parametrize(("text", "minutes"), [("90s", 1.5), ("5m", 5), ("2h", 120),
                                               ("1h30m", 90), (15, 15), ("10 min", 10),
                                               ("1d", 1440), ("2d12h", 3600)])
def test_durations(text, minutes):
    assert parse_duration(text, "here").total_seconds() == minutes * 60


def test_the_shipped_and_demo_configs_track_conflicts(tmp_path):
    shipped = load_config(SHIPPED_CONFIG)
    assert len(shipped.conflicts) >= 10
    for conflict in shipped.conflicts:
        assert conflict.aliases, conflict.id
    assert {"karabakh", "ukraine", "sudan"} <= {c.id for c in shipped.conflicts}
    demo = load_config(render_demo_config("http://127.0.0.1:8000", tmp_path / "demo.toml"))
    assert {s.channel_kind for s in demo.subscriptions} == {"feed", "webhook"}
    assert {c for s in demo.subscriptions for c in s.conflicts} <= {c.id for c in demo.conflicts}


def test_an_email_ca_file_resolves_beside_the_config_and_must_exist(tmp_path):
    text = BASE + """
[[subscription]]
id = "mail"
conflicts = ["soudan"]
[subscription.email]
host = "relay.newsroom.internal"
sender = "veille@example.org"
to = ["desk@example.org"]
ca_file = "certs/newsroom-ca.pem"
"""
    with pytest.raises(ConfigError) as missing:
        load(tmp_path, text)
    assert str(missing.value) == (
        f"{tmp_path / 'veille.toml'}: subscription 'mail': email: ca_file "
        f"'{tmp_path / 'certs' / 'newsroom-ca.pem'}' does not exist"
    )
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "newsroom-ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    [sub] = load(tmp_path, text).subscriptions
    assert isinstance(sub.channel, EmailChannel)
    assert sub.channel.ca_file == tmp_path / "certs" / "newsroom-ca.pem"
    absolute = tmp_path / "certs" / "newsroom-ca.pem"
    [sub] = load(tmp_path, text.replace('"certs/newsroom-ca.pem"', f'"{absolute}"')).subscriptions
    assert sub.channel.ca_file == absolute
    [sub] = load(tmp_path, text.replace('ca_file = "certs/newsroom-ca.pem"\n', "")).subscriptions
    assert sub.channel.ca_file is None
