"""Webhook channel: POST a signed JSON document (Slack/Mattermost-compatible `text`) to a URL.

Signature scheme (like Stripe's): the header ``X-Veille-Signature: t=<unix seconds>,sha256=<hex>``
carries HMAC-SHA256, keyed with the subscription's secret, of ``f"{t}.".encode() + body`` where
`body` is the exact bytes received. Signing the timestamp with the body lets a receiver refuse
replays (`verify_signature` allows five minutes of skew); the same `t` is also sent alone in
``X-Veille-Timestamp``. ``Idempotency-Key`` (the batch uid) is the same on every retry, so a
receiver can drop a delivery it has already processed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from http.client import HTTPException
from ssl import SSLError
from typing import Any
from urllib.parse import urlsplit

from crawler.alerts.channels.message import AlertMessage, Message, OperatorNotice
from crawler.clock import readable_utc
from crawler.config.model import WebhookChannel
from crawler.config.redaction import redact, redact_url, url_secrets
from crawler.errors import DeliveryError

LOGGER = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Veille-Signature"
# 4xx answers that mean "not now" rather than "never": timeout, conflict, too early, rate limit
RETRYABLE_4XX = frozenset({408, 409, 425, 429})
_MAX_REDIRECTS = 5


def send_webhook(channel: WebhookChannel, secret: str | None, batch_uid: str,
                 alerts: Sequence[Message], *, user_agent: str) -> None:
    """POST `alerts` to `channel.url` as one JSON document; return when any 2xx answers.

    Raises:
        DeliveryError: `permanent` for a 4xx (other than 408/409/425/429), a redirect that
            would drop the POST or leave http(s), or a URL that is not http(s); temporary for
            5xx, 408/409/425/429, connection refused, DNS failure, TLS failure and timeouts.
    """
    url = channel.url
    if urlsplit(url).scheme not in ("http", "https"):
        raise DeliveryError(f"webhook {redact_url(url)}: not an http(s) URL", permanent=True)
    body = json.dumps(build_payload(batch_uid, alerts), ensure_ascii=False).encode("utf-8")
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": user_agent,
        "Idempotency-Key": batch_uid,
        "X-Veille-Alert-Id": batch_uid,
        "X-Veille-Timestamp": str(timestamp),
    }
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body, timestamp)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    opener = urllib.request.build_opener(_PostRedirectHandler)
    try:
        with opener.open(request, timeout=channel.timeout) as response:
            response.read(64 * 1024)  # drain a little so the server sees a clean close
            status = response.status
    except urllib.error.HTTPError as exc:
        raise _http_error(url, exc) from exc
    except urllib.error.URLError as exc:
        raise _network_error(url, exc.reason, channel.timeout) from exc
    except (OSError, HTTPException) as exc:  # a timeout or reset while reading the answer
        raise _network_error(url, exc, channel.timeout) from exc
    LOGGER.debug("webhook %s answered %s for %s", redact_url(url), status, batch_uid)


def build_payload(batch_uid: str, alerts: Sequence[Message]) -> dict[str, Any]:
    """The JSON document: one alert, or a digest when several (or a batch uid of its own);
    an operator notice is a document of its own type, `veille.operator`."""
    if not alerts:
        raise ValueError("no alerts to send")
    subscription = alerts[0].subscription_id
    if isinstance(alerts[0], OperatorNotice):
        notice = alerts[0]
        return {"type": "veille.operator", "id": batch_uid, "subscription": subscription,
                "text": notice_text(notice), "notice": notice_document(notice)}
    alerts = [a for a in alerts if isinstance(a, AlertMessage)]
    if len(alerts) == 1 and alerts[0].uid == batch_uid:
        return {"type": "alert", "id": batch_uid, "subscription": subscription,
                "text": format_text(alerts), "alert": alert_document(alerts[0])}
    return {"type": "digest", "id": batch_uid, "subscription": subscription,
            "text": format_text(alerts), "alerts": [alert_document(a) for a in alerts]}


def alert_document(alert: AlertMessage) -> dict[str, Any]:
    """One alert as a JSON object."""
    return {
        "id": alert.uid,
        "kind": alert.kind,
        "created_at": alert.created_at,
        "title": alert.title,
        "url": alert.url,
        "source": {"id": alert.source_id, "name": alert.source_name},
        "published_at": alert.published_at,
        "language": alert.language,
        "lead": alert.lead,
        "topic": alert.topic,
        "image_url": alert.image_url,
        "conflicts": list(alert.conflicts),
        "matched": [
            {"conflict_id": m.conflict_id, "conflict": m.conflict, "alias": m.alias,
             "field": m.field}
            for m in alert.matched
        ],
        "other_copies": [
            {"source": c.source, "url": c.url, "title": c.title} for c in alert.other_copies
        ],
    }


def notice_document(notice: OperatorNotice) -> dict[str, Any]:
    """One operator notice as a JSON object: `kind` says what happened, `state` whether it
    opens ("problem") or closes ("recovery") its `incident`."""
    return {
        "id": notice.uid,
        "kind": notice.kind,
        "state": "recovery" if notice.recovery else "problem",
        "incident": notice.incident,
        "created_at": notice.created_at,
        "title": notice.title,
        "body": notice.body,
        "source": notice.source_id,
        "subscription": notice.about_subscription,
        "details": notice.details,
    }


def notice_text(notice: OperatorNotice) -> str:
    """Slack/Mattermost mrkdwn: the notice's title in bold, then its text."""
    mark = "Recovered" if notice.recovery else "Problem"
    return f"*Veille {mark.lower()}: {_escape(notice.title)}*\n{_escape(notice.body)}"


def format_text(alerts: Sequence[AlertMessage]) -> str:
    """Slack/Mattermost mrkdwn: a short block for one alert, one line per alert for several."""
    if len(alerts) == 1:
        alert = alerts[0]
        lines = [_headline(alert), _escape(byline(alert))]
        if alert.other_copies:
            copies = ", ".join(_link(c.url, c.source) for c in alert.other_copies)
            lines.append(f"Also in: {copies}")
        return "\n".join(lines)
    return "\n".join(f"• {_headline(a)} ({_escape(byline(a))})" for a in alerts)


def _headline(alert: AlertMessage) -> str:
    prefix = "Updated: " if alert.kind == "update" else ""
    conflicts = f"*{_escape(', '.join(alert.conflicts))}* " if alert.conflicts else ""
    return f"{conflicts}{prefix}{_link(alert.url, alert.title)}"


def byline(alert: AlertMessage) -> str:
    """The source and the publication time: "Le Levant, 2024-05-01 07:30 UTC"."""
    when = readable_utc(alert.published_at)
    return f"{alert.source_name}, {when}" if when else alert.source_name


def _escape(text: str) -> str:
    # Slack's three control characters; Mattermost's Slack-compatible webhooks accept the same
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(url: str, label: str) -> str:
    # "|" ends the URL part of <url|label>; a label cannot escape it, so use a look-alike
    # (Mattermost turns <url|label> into a Markdown link, whose entities are decoded too)
    label = " ".join(label.split())  # a newline in a title would break the one-line digest
    return f"<{_escape(url).replace('|', '%7C')}|{_escape(label).replace('|', '¦')}>"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The `X-Veille-Signature` value for `body` sent at `timestamp` (unix seconds)."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},sha256={digest.hexdigest()}"


def verify_signature(secret: str, body: bytes, header: str | None, tolerance_s: float = 300,
                     now: float | None = None) -> bool:
    """Whether `header` (an `X-Veille-Signature` value) signs `body` with `secret`, recently.

    Receivers should call this on the raw body bytes before parsing them. Several
    ``sha256=`` values are accepted (any one matching), so a sender can rotate secrets.
    """
    if not header:
        return False
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == "sha256":
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    expected = sign(secret, body, timestamp).rpartition("sha256=")[2]
    return any(hmac.compare_digest(expected, s) for s in signatures)


class _PostRedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follow 307/308 with the same POST to an http(s) URL; leave every other redirect unfollowed.

    urllib would turn a POST answered by 301/302/303 into a bodiless GET, which a receiver
    could answer 200 to without ever seeing the alert; such an answer becomes an error instead.
    """

    max_redirections = _MAX_REDIRECTS

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[override]
        if code not in (307, 308) or urlsplit(newurl).scheme not in ("http", "https"):
            return None
        return urllib.request.Request(newurl, data=req.data, headers=dict(req.headers),
                                      method=req.get_method())


def _http_error(url: str, exc: urllib.error.HTTPError) -> DeliveryError:
    status = exc.code
    try:
        text = exc.read(2048).decode("utf-8", "replace")
    except (OSError, HTTPException):
        text = ""
    finally:
        exc.close()
    excerpt = " ".join(text.split())[:200]
    detail = f": {excerpt}" if excerpt else ""
    where = url
    if exc.url and exc.url != url:  # the answer came from a 307/308 target
        where = f"{url} (redirected to {exc.url})"
    if 300 <= status < 400:
        location = exc.headers.get("Location", "?") if exc.headers else "?"
        return _error(
            f"webhook {where} answered {status} redirecting to {location}; not followed "
            "(only 307/308 to http(s) are): set the final URL in the configuration",
            url, permanent=True,
        )
    permanent = 400 <= status < 500 and status not in RETRYABLE_4XX
    return _error(f"webhook {where} answered HTTP {status}{detail}", url, permanent=permanent)


def _network_error(url: str, reason: object, timeout: float) -> DeliveryError:
    if isinstance(reason, TimeoutError):
        problem = f"no answer within {timeout:g} s"
    elif isinstance(reason, ConnectionRefusedError):
        problem = "connection refused"
    elif isinstance(reason, socket.gaierror):
        problem = f"cannot resolve host {urlsplit(url).hostname!r} ({reason})"
    elif isinstance(reason, SSLError):
        problem = f"TLS failure: {reason}"
    else:
        problem = str(reason) or reason.__class__.__name__
    return _error(f"webhook {url}: {problem}", url, permanent=False)


def _error(message: str, url: str, *, permanent: bool) -> DeliveryError:
    """A DeliveryError whose message names URLs without their secrets: it is logged, and
    stored in the published database."""
    return DeliveryError(redact(message, url_secrets(url)), permanent=permanent)
