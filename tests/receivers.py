"""Real receivers on 127.0.0.1 (port 0) for channel tests: a webhook endpoint and an SMTP sink.

Import them as ``from receivers import WebhookReceiver, SmtpSink`` (pytest puts `tests/` on
sys.path, as for `conftest`). The fixtures `webhook_receiver` and `smtp_sink` are defined here
too; a test module that wants them says ``pytest_plugins = ["receivers"]`` (importing the
fixture functions instead would make ruff report every test argument as a redefinition).

Both wait on a `threading.Condition` (`wait_for(count)`), never on a sleep.

PYTEST_DONT_REWRITE: this module is imported before pytest loads it as a plugin, too late for
assertion rewriting; the marker stops pytest warning about it (it raises its own messages).
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import ssl
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from crawler.alerts.channels.webhook import SIGNATURE_HEADER, verify_signature

WEBHOOK_SECRET = "s3cret-for-tests"


@dataclass
class ReceivedRequest:
    """One request as the webhook receiver saw it, and what it answered."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    json: Any  # None when the body is not JSON
    signature_valid: bool | None  # None when the receiver has no secret
    status: int


class WebhookReceiver:
    """An HTTP endpoint that records every request; it can fail, hang or go down on demand.

    Usage::

        with WebhookReceiver(secret="k") as hook:
            send_webhook(WebhookChannel(hook.url), "k", ...)
            [request] = hook.wait_for(1)
            hook.fail_with(503)   # answer 503 until recover()
            hook.down()           # connection refused until up(), on the same port
            hook.hang()           # accept requests but never answer until release()
    """

    def __init__(self, secret: str | None = None, path: str = "/hook"):
        self.secret = secret
        self.path = path
        self.requests: list[ReceivedRequest] = []
        self._condition = threading.Condition()
        self._status = 200
        self._answer = b'{"ok": true}'
        self._extra_headers: dict[str, str] = {}
        self._released = threading.Event()
        self._released.set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # life cycle ---------------------------------------------------------------------------
    def __enter__(self) -> WebhookReceiver:
        self.up()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._released.set()  # free any handler still hanging before closing
        self.down()

    def up(self) -> None:
        """Listen (again), on the port used before if there was one."""
        if self._server is not None:
            return
        server = _QuietServer(("127.0.0.1", self.port), self._handler())
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="webhook-receiver",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def down(self) -> None:
        """Stop listening: connections to `url` are refused until `up()`."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        assert self._thread is not None
        self._thread.join()
        self._server = self._thread = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    # behaviour ----------------------------------------------------------------------------
    def fail_with(self, status: int = 503, body: str = "temporarily unavailable",
                  headers: dict[str, str] | None = None) -> None:
        """Answer `status` with `body` (and `headers`, e.g. a Location) until `recover()`."""
        with self._condition:
            self._status, self._answer = status, body.encode("utf-8")
            self._extra_headers = dict(headers or {})

    def recover(self) -> None:
        with self._condition:
            self._status, self._answer, self._extra_headers = 200, b'{"ok": true}', {}

    def hang(self) -> None:
        """Record requests but never answer them until `release()` (or the end of the test)."""
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    # inspection ---------------------------------------------------------------------------
    def wait_for(self, count: int, timeout: float = 10) -> list[ReceivedRequest]:
        """Block until at least `count` requests arrived; return them all."""
        with self._condition:
            if not self._condition.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(
                    f"webhook receiver got {len(self.requests)} request(s), expected {count}"
                )
            return list(self.requests)

    def unique_ids(self) -> list[str]:
        """The distinct Idempotency-Key values received, in order of first arrival."""
        with self._condition:
            keys = [r.headers.get("idempotency-key", "") for r in self.requests]
        return list(dict.fromkeys(keys))

    def delivered(self) -> list[ReceivedRequest]:
        """The requests answered with a 2xx."""
        with self._condition:
            return [r for r in self.requests if 200 <= r.status < 300]

    def _record(self, request: ReceivedRequest) -> None:
        with self._condition:
            self.requests.append(request)
            self._condition.notify_all()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._condition:
                    status, answer = receiver._status, receiver._answer
                    extra = receiver._extra_headers
                try:
                    parsed = json.loads(body.decode("utf-8"))
                except ValueError:
                    parsed = None
                valid = None
                if receiver.secret is not None:
                    valid = verify_signature(receiver.secret, body,
                                             self.headers.get(SIGNATURE_HEADER))
                receiver._record(ReceivedRequest(
                    method=self.command, path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()}, body=body,
                    json=parsed, signature_valid=valid, status=status,
                ))
                receiver._released.wait()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if status < 300
                                 else "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(answer)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_PUT = do_POST  # record whatever method a bug might send

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that gave up (the timeout test) leaves a broken pipe behind: not news
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class ReceivedMail:
    """One message the SMTP sink accepted."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes
    login: str | None  # the user that authenticated, if any
    tls: str | None = None  # the session's TLS version ("TLSv1.3"), None when in clear


@dataclass
class _SinkState:
    fail_next: list[tuple[int, str]] = field(default_factory=list)
    refuse: dict[str, int] = field(default_factory=dict)


class _PortZeroController(Controller):
    """aiosmtpd's Controller, able to bind port 0: it learns the port before its self-test.

    The self-test (`InetMixin._trigger_server`) reads the greeting; for implicit TLS
    (`ssl_context=`) it wraps its socket in a client context made from the server's, so it
    needs nothing more here.
    """

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpSink:
    """An aiosmtpd server on 127.0.0.1 that keeps every message it accepts.

    `require_auth=(user, password)` offers AUTH PLAIN/LOGIN and answers MAIL FROM with 530
    until the client logged in. Without `tls` that AUTH is in clear (aiosmtpd refuses that by
    default); with STARTTLS it is offered only after STARTTLS; with implicit TLS at once
    (aiosmtpd only counts STARTTLS as TLS for AUTH, hence `auth_require_tls=False` there).

    `tls="starttls"` offers STARTTLS and answers 530 to MAIL FROM (and AUTH is not offered)
    until the client issued it; `tls="tls"` speaks TLS from the first byte (implicit TLS, port
    465 style). Either way the certificate is for the IP address 127.0.0.1, issued by a fresh
    test CA (`ca`) whose PEM is written to `ca_file` while the sink runs: give that path as
    `EmailChannel.ca_file`.
    """

    def __init__(self, require_auth: tuple[str, str] | None = None,
                 tls: Literal["starttls", "tls"] | None = None):
        if tls not in (None, "starttls", "tls"):
            raise ValueError(f"tls {tls!r} is not \"starttls\", \"tls\" or None")
        self.require_auth = require_auth
        self.tls = tls
        self.messages: list[ReceivedMail] = []
        self.ca: trustme.CA | None = None
        self.ca_file: Path | None = None
        self._condition = threading.Condition()
        self._state = _SinkState()
        kwargs: dict[str, Any] = {}
        if require_auth:
            # auth_required=True would make aiosmtpd warn about AUTH without TLS on every
            # connection; the handler enforces the login at MAIL FROM instead.
            kwargs.update(authenticator=self._authenticate,
                          auth_require_tls=tls == "starttls")
        if tls:
            self.ca = trustme.CA()
            # Purpose.CLIENT_AUTH: a server context that asks no certificate of the client
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.ca.issue_cert("127.0.0.1").configure_cert(context)
            if tls == "starttls":
                kwargs.update(tls_context=context, require_starttls=True)
            else:
                kwargs.update(ssl_context=context)
        self._controller = _PortZeroController(
            _Handler(self), hostname="127.0.0.1", port=0, server_hostname="sink.test",
            ready_timeout=10, **kwargs,
        )

    def __enter__(self) -> SmtpSink:
        if self.ca is not None:
            fd, name = tempfile.mkstemp(prefix="veille-test-ca-", suffix=".pem")
            with os.fdopen(fd, "wb") as pem:
                pem.write(self.ca.cert_pem.bytes())
            self.ca_file = Path(name)
        try:
            self._controller.start()
        except BaseException:
            self._remove_ca_file()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._controller.stop()
        finally:
            self._remove_ca_file()

    def _remove_ca_file(self) -> None:
        if self.ca_file is not None:
            self.ca_file.unlink(missing_ok=True)
            self.ca_file = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return self._controller.port

    def fail_next(self, code: int = 451, text: str = "4.3.0 Temporary failure, try later") -> None:
        """Answer the next DATA with `code` instead of accepting the message."""
        with self._condition:
            self._state.fail_next.append((code, text))

    def refuse(self, address: str, code: int = 550) -> None:
        """Refuse RCPT TO `address` with `code` (550: no such mailbox)."""
        with self._condition:
            self._state.refuse[address.lower()] = code

    def wait_for(self, count: int, timeout: float = 10) -> list[ReceivedMail]:
        """Block until at least `count` messages arrived; return them all."""
        with self._condition:
            if not self._condition.wait_for(lambda: len(self.messages) >= count, timeout):
                raise AssertionError(f"SMTP sink got {len(self.messages)} message(s), "
                                     f"expected {count}")
            return list(self.messages)

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                      auth_data: Any) -> AuthResult:
        assert self.require_auth is not None
        user, password = self.require_auth
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == user.encode() and auth_data.password == password.encode())
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


class _Handler:
    """aiosmtpd hooks for `SmtpSink` (they run on the sink's event-loop thread)."""

    def __init__(self, sink: SmtpSink):
        self.sink = sink

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.sink.require_auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.sink._condition:
            code = self.sink._state.refuse.get(address.lower())
        if code:
            return f"{code} 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.sink._condition:
            failure = self.sink._state.fail_next.pop(0) if self.sink._state.fail_next else None
        if failure:
            return f"{failure[0]} {failure[1]}"
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        login = session.login_data.decode() if session.login_data else None
        # session.ssl is only set after STARTTLS; the transport knows for implicit TLS too
        ssl_object = server.transport.get_extra_info("ssl_object") if server.transport else None
        tls = ssl_object.version() if ssl_object is not None else None
        with self.sink._condition:
            self.sink.messages.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos),
                                                   message, raw, login, tls))
            self.sink._condition.notify_all()
        return "250 Message accepted for delivery"


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A `WebhookReceiver` that checks signatures against `WEBHOOK_SECRET`."""
    with WebhookReceiver(secret=WEBHOOK_SECRET) as receiver:
        yield receiver


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """An `SmtpSink` without authentication."""
    with SmtpSink() as sink:
        yield sink
