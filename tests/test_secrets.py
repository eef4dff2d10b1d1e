"""No secret is stored or logged: URLs in delivery errors are redacted (over generated URLs,
with hypothesis), a webhook that fails leaves no token or password in the SQLite file or the
logs, and configurations that would leak a secret are refused when they are read."""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import Clock, veille
from hypothesis import example, given
from hypothesis import strategies as st
from receivers import WEBHOOK_SECRET, SmtpSink
from test_config_alerts import BASE, WEBHOOK, load
from test_dispatch import KILL_CONFIG, Desk, webhook_sub

from crawler.alerts.channels.mail import send_email
from crawler.config.model import EmailChannel
from crawler.config.redaction import redact, redact_url, url_secrets
from crawler.errors import ConfigError, DeliveryError

pytest_plugins = ["receivers"]

# Every secret part of a generated URL starts and ends with MARK, which no other part holds:
# a redacted message without MARK kept neither the secret nor a prefix or suffix of it.
MARK = "QX"
ODD = "@:!$%&'()*+,;=~-._ÄéQ/?# "


def secret(draw_text: str) -> str:
    return f"{MARK}{draw_text}{MARK}"


def in_url(text: str, raw: str = "@:!$%'()*+,;=~") -> str:
    """`text` as a careless URL writer would put it: percent-escaped, except `raw`
    characters (a raw "@" or ":" in a password, a lone "%" as in `Pa%24%`)."""
    return quote(text, safe=raw)


odd_text = st.text(alphabet=st.sampled_from(ODD + "abcXYZ019"), max_size=12)
hosts = st.one_of(
    st.from_regex(r"[a-z][a-z0-9-]{0,8}(\.[a-z]{2,6}){0,2}", fullmatch=True),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda ip: f"[{ip}]"),
    st.just("[fe80::1%25eth0]"),
)
segments = st.lists(st.from_regex(r"[a-z0-9_-]{1,8}", fullmatch=True), max_size=4)


@st.composite
def urls(draw) -> tuple[str, list[str], str]:
    """A URL with any of user, password, query and fragment; the secrets it holds; and its
    path and query, as some libraries quote them."""
    secrets: list[str] = []
    scheme = draw(st.sampled_from(["http", "https", "HTTPS", "ftp"]))
    userinfo = ""
    if draw(st.booleans()):
        user = secret(draw(odd_text))
        userinfo = in_url(user, raw="!$%'()*+,;=~")  # no raw ":" in a user name
        secrets.append(user)
        if draw(st.booleans()):
            password = secret(draw(odd_text))
            userinfo += ":" + in_url(password)
            secrets.append(password)
        userinfo += "@"
    port = draw(st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}")))
    path = "/".join(["", *draw(segments)]) if draw(st.booleans()) else ""
    if path and draw(st.booleans()):
        path += "/"
    query = ""
    pairs = draw(st.lists(st.tuples(st.from_regex(r"[a-z]{1,6}", fullmatch=True), odd_text),
                          max_size=3))
    if pairs:
        values = [secret(value) for _, value in pairs]
        query = "?" + "&".join(f"{key}={in_url(value, raw=':@!$%')}"
                               for (key, _), value in zip(pairs, values, strict=True))
        secrets += values
    fragment = ""
    if draw(st.booleans()):
        value = secret(draw(odd_text))
        fragment = "#" + in_url(value, raw=":@!$'()*+,;=?/")
        secrets.append(value)
    url = f"{scheme}://{userinfo}{draw(hosts)}{port}{path}{query}{fragment}"
    return url, secrets, (path or "/") + query


WRAPPERS = [
    "webhook {url}: connection refused",
    "webhook {url} answered HTTP 500: token {secret} rejected",  # a receiver echoing it
    "webhook https://hooks.example.org/x (redirected to {url}) answered HTTP 404",
    "<urlopen error {url}>",
    "ClientResponseError(url=URL('{url}'), status=500)",  # aiohttp
    "url='{url}'.",
    "HTTPConnectionPool(host='h', port=1): Max retries exceeded with url: {reference} "
    "(Caused by NewConnectionError('refused'))",  # requests quotes the path and query
]


@given(urls(), st.sampled_from(WRAPPERS))
@example((f"http://hook:{MARK}Pa%24%{MARK}@hooks.example.org/services/T/B",
          [f"{MARK}Pa%24%{MARK}"], "/services/T/B"), WRAPPERS[1])
@example((f"https://hook:{MARK}s3cr3t!{MARK}@[::1]:8080?token={MARK}x{MARK}#{MARK}f{MARK}",
          [f"{MARK}s3cr3t!{MARK}", f"{MARK}x{MARK}", f"{MARK}f{MARK}"], f"/?token={MARK}x{MARK}"),
         WRAPPERS[6])
def test_a_redacted_message_holds_no_secret_of_any_url(generated, wrapper):
    url, secrets, reference = generated
    echoed = secrets[0] if secrets else ""
    public = redact(wrapper.format(url=url, secret=echoed, reference=reference),
                    url_secrets(url))
    assert MARK not in public, public
    assert "#" not in public
    # without the configured URL's secrets, the URL's shape alone keeps them out
    alone = redact(wrapper.format(url=url, secret="", reference=reference))
    assert MARK not in alone, alone


@given(urls())
def test_a_redacted_url_keeps_scheme_host_port_and_its_first_path_segment(generated):
    url, _, _ = generated
    public = redact_url(url)
    scheme = url.split("://", 1)[0]
    assert public.startswith(f"{scheme}://") and MARK not in public
    assert "?" not in public and "#" not in public


@pytest.mark.parametrize(("url", "public"), [
    ("https://hooks.example.org/services/T000/B000/XXXX", "https://hooks.example.org/services/…"),
    ("http://127.0.0.1:8080?token=SECRET#frag", "http://127.0.0.1:8080/…"),
    ("http://hook:Pa%24%25@127.0.0.1:8080/hook", "http://127.0.0.1:8080/…"),
    ("http://hook:Pa%24%@hooks.example.org/", "http://hooks.example.org/…"),
    ("https://hook:s3cr3t!@hooks.example.org/a/b", "https://hooks.example.org/a/…"),
    ("http://u:p@ss@[::1]:99/x", "http://[::1]:99/…"),
    ("http://hooks.example.org/", "http://hooks.example.org/"),
    ("http://hooks.example.org", "http://hooks.example.org"),
    # a raw "/" or "?" in a password: nothing after the scheme can be trusted
    ("http://u:12/34@hooks.example.org/x", "http://…"),
    ("http://u:pa?ss@hooks.example.org/x", "http://…"),
])
def test_redact_url_on_the_cases_found(url, public):
    assert redact_url(url) == public


def test_redact_keeps_messages_readable():
    assert redact("webhook http://127.0.0.1:9/hook: connection refused") == (
        "webhook http://127.0.0.1:9/…: connection refused")
    assert redact("smtp 127.0.0.1:25: recipients refused: desk@newsroom.test (550)") == (
        "smtp 127.0.0.1:25: recipients refused: [address] (550)")
    assert redact("is it here/there? no") == "is it here/there? no"
    assert redact("password hunter2 refused", ["hunter2"]) == "password [redacted] refused"


# -- end to end: a failing webhook leaves no secret in the database or the logs ----------------

TOKEN, PASSWORD, FRAGMENT = "T0kenSECRET", "Pa%24%25", "fragSECRET"
LEAKS = ["SECRET", "Pa%24", "Pa$", WEBHOOK_SECRET]


def leaks_in(db: Path, texts: list[str]) -> list[str]:
    """Where a secret appears: the bytes of the database's files, every column of every
    table, and `texts` (logs, command output)."""
    found = []
    for path in db.parent.glob(db.name + "*"):  # the database, its WAL and shared memory
        data = path.read_bytes()
        found += [f"{path.name}: {s}" for s in LEAKS if s.encode() in data]
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                found += [f"{table}: {s}" for value in row for s in LEAKS if s in str(value)]
    return found + [f"log: {s}" for text in texts for s in LEAKS if s in text]


@pytest.mark.parametrize("failure", ["500", "refused"])
@pytest.mark.parametrize("template", [
    "http://127.0.0.1:{port}?token=" + TOKEN + "#" + FRAGMENT,
    "http://user:" + PASSWORD + "@127.0.0.1:{port}/hook",
    "http://127.0.0.1:{port}/hooks/services?token=" + TOKEN,
])
def test_a_failing_webhook_leaves_no_secret_in_the_database_or_the_logs(
        tmp_path, webhook_receiver, caplog, template, failure):
    url = template.format(port=webhook_receiver.port)
    # the receiver repeats what it was sent, as a careless one does in its error page
    held = " ".join(s for s in (TOKEN, FRAGMENT, PASSWORD) if s in url)
    webhook_receiver.fail_with(500, f"refused {url}: bad credentials {held}")
    if failure == "refused":
        webhook_receiver.down()
    desk = Desk(tmp_path / "v.db", [webhook_sub(url)], Clock())
    desk.publish("Karabakh 1", "Haut-Karabakh, un.")
    caplog.set_level(logging.DEBUG)
    report = desk.dispatcher().run()
    desk.store.close()
    assert report.retrying == 1 and report.errors
    [error] = [r[0] for r in sqlite3.connect(tmp_path / "v.db").execute(
        "SELECT last_error FROM alerts")]
    assert f"127.0.0.1:{webhook_receiver.port}" in error  # still says which receiver
    assert leaks_in(tmp_path / "v.db", [caplog.text, *report.errors]) == []


def test_alerts_send_to_a_url_with_a_token_stores_and_prints_no_secret(tmp_path,
                                                                      webhook_receiver):
    url = f"http://127.0.0.1:{webhook_receiver.port}?token={TOKEN}#{FRAGMENT}"
    webhook_receiver.fail_with(500, f"token {TOKEN} is not valid")
    config = tmp_path / "veille.toml"
    config.write_text(KILL_CONFIG.replace("{url}", url), encoding="utf-8")
    db = tmp_path / "v.db"
    desk = Desk(db, [webhook_sub(url)], Clock(datetime.now().astimezone()))
    desk.publish("Karabakh 1", "Haut-Karabakh, un.")
    desk.store.close()
    sent = veille("--config", config, "--db", db, "alerts", "send",
                  env={"HOOK_SECRET": WEBHOOK_SECRET})
    assert "1 to retry" in sent.stdout, sent.stdout + sent.stderr
    assert webhook_receiver.requests[0].path == f"/?token={TOKEN}"  # the token did go out
    listing = veille("--config", config, "--db", db, "alerts", "--status", "pending")
    assert "HTTP 500" in listing.stdout
    assert leaks_in(db, [sent.stdout, sent.stderr, listing.stdout, listing.stderr]) == []


# -- refused when the configuration is read ------------------------------------------------------

EMAIL = """
[[subscription]]
id = "desk-mail"
conflicts = ["soudan"]
[subscription.email]
host = "127.0.0.1"
sender = "veille@example.org"
to = ["desk@example.org"]
username = "veille"
password_env = "SMTP_PASSWORD"
"""


@pytest.mark.parametrize("url", [
    "https://hook:s3cr3t!@hooks.example.org/services/x",
    "https://hook:Pa%24%25@hooks.example.org/",
    "https://hook@hooks.example.org/",
])
def test_a_webhook_url_with_credentials_is_refused(tmp_path, url):
    with pytest.raises(ConfigError) as error:
        load(tmp_path, BASE + WEBHOOK.replace("https://hooks.example/veille", url))
    message = str(error.value)
    assert "\n" not in message and "subscription 'desk-caucase': webhook: url" in message
    assert "holds a user name or password" in message and "secret_env" in message
    assert "s3cr3t" not in message and "Pa%24" not in message and "hook@" not in message


def test_a_webhook_url_with_a_bad_port_is_refused_without_echoing_it(tmp_path):
    with pytest.raises(ConfigError, match="has an invalid port") as error:
        load(tmp_path, BASE + WEBHOOK.replace("https://hooks.example/veille",
                                              "https://u:pa/ss@hooks.example/"))
    assert "pa/ss" not in str(error.value)


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: t.replace('host = "127.0.0.1"', 'host = "127.0.0.1"\nsecurity = "none"'),
     "subscription 'desk-mail': email: security = \"none\" would send the password of "
     "'veille' in clear: use starttls or tls, or set allow_plaintext_login = true"),
    (lambda t: t.replace('host = "127.0.0.1"', 'host = "127.0.0.1"\nallow_plaintext_login = true'),
     "subscription 'desk-mail': email: allow_plaintext_login only applies to security = \"none\""),
    (lambda t: t.replace('host = "127.0.0.1"',
                         'host = "127.0.0.1"\nsecurity = "none"\nallow_plaintext_login = "yes"'),
     "allow_plaintext_login"),
])
def test_a_plaintext_smtp_login_is_refused_unless_allowed(tmp_path, change, message):
    with pytest.raises(ConfigError) as error:
        load(tmp_path, change(BASE + EMAIL))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_plaintext_smtp_login_loads_when_allowed_and_without_a_login(tmp_path):
    allowed = load(tmp_path, BASE + EMAIL.replace(
        'host = "127.0.0.1"', 'host = "127.0.0.1"\nsecurity = "none"\nallow_plaintext_login = true'))
    channel = allowed.subscription("desk-mail").channel
    assert isinstance(channel, EmailChannel)
    assert (channel.security, channel.port, channel.allow_plaintext_login) == ("none", 25, True)
    anonymous = load(tmp_path, BASE + EMAIL.replace('username = "veille"\n', "").replace(
        'password_env = "SMTP_PASSWORD"\n', "").replace('host = "127.0.0.1"',
                                                        'host = "127.0.0.1"\nsecurity = "none"'))
    assert anonymous.subscription("desk-mail").channel.allow_plaintext_login is False


def test_send_email_refuses_a_plaintext_login_it_was_not_allowed():
    """A channel built without the config (a script, a test) gets the same rule."""
    from test_channels import make_alert

    with SmtpSink(require_auth=("veille", "pass word")) as sink:
        channel = EmailChannel(host=sink.host, port=sink.port, security="none",
                               sender="veille@example.org", to=("desk@example.org",),
                               username="veille", password_env="SMTP_PASSWORD", timeout=10)
        with pytest.raises(DeliveryError) as refused:
            send_email(channel, "pass word", "alert-1", [make_alert()], "Desk")
        assert refused.value.permanent is True and "in clear" in str(refused.value)
        assert not sink.messages
