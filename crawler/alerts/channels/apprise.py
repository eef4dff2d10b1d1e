"""Apprise channel: one notification per batch to every service whose Apprise URL the
subscription's environment variable holds (Slack, Teams, Telegram, Matrix, Discord, ntfy...).

The URLs carry the services' tokens. They come from the environment only, and nothing they
hold reaches a message Veille stores or logs: a service is named by its kind and scheme
(``Telegram (tgram://…)``), Apprise's own log lines are kept off Veille's log while it
sends and quoted in the error only after every part of the URLs is blanked out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import apprise
from apprise.utils.parse import parse_urls

from crawler.alerts.channels.mail import heading as mail_heading
from crawler.alerts.channels.message import AlertMessage, Message, OperatorNotice
from crawler.alerts.channels.webhook import byline
from crawler.config.redaction import redact, service_url_secrets
from crawler.errors import DeliveryError
from crawler.wording import plural

LOGGER = logging.getLogger(__name__)

# Apprise and the HTTP library under it log URLs, tokens in their path included.
_QUIET = ("apprise", "urllib3")
# One delivery at a time in a process: the log capture below is process-wide.
_SENDING = threading.Lock()
_MAX_DETAIL = 300


def split_urls(text: str) -> list[str]:
    """The Apprise URLs in an environment variable's value (separated by white space or
    commas, as Apprise's own `APPRISE_URLS` is)."""
    return [url for url in parse_urls(text) if url.strip()]


def send_apprise(urls: Sequence[str], batch_uid: str, alerts: Sequence[Message],
                 subscription_name: str, *, variable: str) -> None:
    """Notify each service of `urls` with `alerts` (one message); return when all took it.

    `variable` names the environment variable the URLs came from, for the messages.

    Raises:
        DeliveryError: `permanent` when the variable holds no URL, or a URL Apprise cannot
            read (an unknown scheme, a missing token); temporary when a service does not
            accept the notification (an HTTP error, a refused connection, a timeout: Apprise
            does not tell them apart). A retry notifies every service of the subscription
            again, those that took the message the first time included.
    """
    if not urls:
        raise DeliveryError(f"apprise: {variable} holds no Apprise URL", permanent=True)
    secrets = [piece for url in urls for piece in service_url_secrets(url)]
    services = []
    for number, url in enumerate(urls, start=1):
        with _captured() as lines:
            service = apprise.Apprise()
            readable = service.add(url)
        if not readable:
            raise DeliveryError(
                f"apprise: URL {number} of {variable} ({_scheme(url)}) is not one Apprise "
                f"can use{_detail(lines, secrets)}", permanent=True)
        services.append((number, url, service))
    title, body = message_text(alerts, subscription_name)
    failures = []
    for number, url, service in services:
        with _captured() as lines:
            delivered = bool(service.notify(title=title, body=body,
                                            body_format=apprise.NotifyFormat.TEXT))
        if not delivered:
            failures.append(f"{_name(service, url)}, URL {number} of {variable}, did not "
                            f"accept it{_detail(lines, secrets)}")
    if failures:
        raise DeliveryError(redact(
            f"apprise: {len(failures)} of {plural(len(urls), 'service')}: "
            + "; ".join(failures), secrets))
    LOGGER.debug("apprise: %s notified for %s", plural(len(urls), "service"), batch_uid)


def message_text(alerts: Sequence[Message], subscription_name: str) -> tuple[str, str]:
    """The notification's title and plain-text body: one alert in full, or a digest with a
    short block per alert; an operator notice is "[Veille] " and its title, then its text."""
    if isinstance(alerts[0], OperatorNotice):
        return f"[Veille] {alerts[0].title}", alerts[0].body
    alerts = [a for a in alerts if isinstance(a, AlertMessage)]
    if len(alerts) == 1:
        alert = alerts[0]
        lines = [alert.url, byline(alert)]
        if alert.lead:
            lines += ["", alert.lead]
        if alert.other_copies:
            lines += ["", "Also in: " + "; ".join(f"{c.source} ({c.url})"
                                                    for c in alert.other_copies)]
        return heading(alert), "\n".join(lines)
    blocks = [f"{heading(a)}\n{a.url}\n{byline(a)}" for a in alerts]
    title = f"Veille: {plural(len(alerts), 'alert')} for {subscription_name}"
    return title, "\n\n".join(blocks)


def heading(alert: AlertMessage) -> str:
    """The e-mail's heading of `alert` on one line (a notification title cannot break)."""
    return " ".join(mail_heading(alert).split())


def _scheme(url: str) -> str:
    scheme, sep, _ = url.strip().partition("://")
    return f"{scheme}://…" if sep and scheme.isalnum() else "not a URL"


def _name(service: apprise.Apprise, url: str) -> str:
    kind = getattr(service[0], "service_name", None) if len(service) else None
    return f"{kind} ({_scheme(url)})" if kind else _scheme(url)


def _detail(lines: list[str], secrets: Sequence[str]) -> str:
    """Apprise's warnings, with every part of every URL blanked out."""
    text = " ".join(" ".join(line.split()) for line in lines)
    if not text:
        return ""
    text = redact(text, secrets)
    return ": " + (text if len(text) <= _MAX_DETAIL else text[:_MAX_DETAIL] + "…")


@contextmanager
def _captured() -> Iterator[list[str]]:
    """Collect Apprise's warnings and errors, and keep its records (and urllib3's) off the
    root logger meanwhile: they can quote a URL, token and all."""
    lines: list[str] = []
    handler = _ListHandler(lines)
    loggers = [logging.getLogger(name) for name in _QUIET]
    with _SENDING:
        saved = [logger.propagate for logger in loggers]
        level = loggers[0].level
        if loggers[0].getEffectiveLevel() > logging.WARNING:
            loggers[0].setLevel(logging.WARNING)
        loggers[0].addHandler(handler)
        for logger in loggers:
            logger.propagate = False
        try:
            yield lines
        finally:
            loggers[0].removeHandler(handler)
            loggers[0].setLevel(level)
            for logger, propagate in zip(loggers, saved, strict=True):
                logger.propagate = propagate


class _ListHandler(logging.Handler):
    def __init__(self, lines: list[str]):
        super().__init__(level=logging.WARNING)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
