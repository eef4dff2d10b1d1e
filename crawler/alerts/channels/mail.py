"""E-mail channel: one multipart/alternative message (plain text and HTML) per batch, over SMTP.

The Message-ID is derived from the batch uid, so a message sent again after a lost answer
carries the same Message-ID and mail clients can fold the two copies.
"""

from __future__ import annotations

import html
import logging
import re
import smtplib
import ssl
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from hashlib import sha256

from crawler.alerts.channels.message import AlertMessage, Message, OperatorNotice
from crawler.alerts.channels.webhook import byline
from crawler.clock import mail_date
from crawler.config.model import EmailChannel
from crawler.errors import DeliveryError
from crawler.wording import plural

LOGGER = logging.getLogger(__name__)

SECURITY_MODES = ("starttls", "tls", "none")
# characters allowed on the left of "@" in a Message-ID (RFC 5322 dot-atom-text)
_MSG_ID_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


def send_email(channel: EmailChannel, password: str | None, batch_uid: str,
               alerts: Sequence[Message], subscription_name: str) -> None:
    """Send one message for `alerts` to `channel.to`; return once the server accepted it.

    The certificate and host name are always checked, against `channel.ca_file` when set
    (a relay with a private CA), else against the system's CA store.

    Raises:
        DeliveryError: `permanent` for a missing password, an unknown `security`, a login
            in clear without `allow_plaintext_login`, a `ca_file` that cannot be loaded, a
            server that lacks STARTTLS/AUTH, or a 5xx answer (authentication refused, sender
            or recipient refused, message rejected);
            temporary for a 4xx answer (greylisting, 451 local error), connection refused,
            DNS, TLS (an unverifiable certificate included), timeouts and dropped connections.
    """
    if channel.security not in SECURITY_MODES:
        raise DeliveryError(
            f"smtp {channel.host}: security {channel.security!r} is not one of "
            f"{', '.join(SECURITY_MODES)}", permanent=True,
        )
    if channel.username and channel.security == "none" and not channel.allow_plaintext_login:
        raise DeliveryError(
            f"smtp {channel.host}: security = \"none\" would send the password of "
            f"{channel.username!r} in clear (allow_plaintext_login is not set)", permanent=True,
        )
    if channel.username and not password:
        env = channel.password_env or "(none configured)"
        raise DeliveryError(
            f"smtp {channel.host}: username {channel.username!r} needs a password but "
            f"password_env {env} is not set", permanent=True,
        )
    message = build_email(channel, batch_uid, alerts, subscription_name)
    where = f"smtp {channel.host}:{channel.port}"
    context = _tls_context(channel) if channel.security != "none" else None
    smtp: smtplib.SMTP | None = None
    sent = False
    try:
        if channel.security == "tls":
            smtp = smtplib.SMTP_SSL(channel.host, channel.port, timeout=channel.timeout,
                                    context=context)
        else:
            smtp = smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout)
        if channel.security == "starttls":
            smtp.starttls(context=context)
        if channel.username:
            assert password is not None
            try:
                smtp.login(channel.username, password)
            except UnicodeEncodeError:  # smtplib sends credentials as ASCII only
                raise DeliveryError(f"{where}: the username or password from password_env "
                                    f"{channel.password_env} is not ASCII, which smtplib "
                                    "cannot send", permanent=True) from None
        refused = smtp.send_message(message)
        sent = True
    except DeliveryError:
        raise
    except smtplib.SMTPException as exc:
        raise _smtp_error(where, exc) from exc
    except TimeoutError as exc:
        raise DeliveryError(f"{where}: no answer within {channel.timeout:g} s") from exc
    except ConnectionRefusedError as exc:
        raise DeliveryError(f"{where}: connection refused") from exc
    except ssl.SSLCertVerificationError as exc:
        # temporary like any TLS failure: an expired or replaced certificate is often fixed
        # on the relay within the retry window, and the alert then still goes out
        trusted = f"ca_file {str(channel.ca_file)!r}" if channel.ca_file else \
            "the system's CA store (set ca_file for a private CA)"
        raise DeliveryError(
            f"{where}: the certificate of {channel.host} could not be verified "
            f"({exc.verify_message or exc.reason}) against {trusted}"
        ) from exc
    except ssl.SSLError as exc:
        raise DeliveryError(
            f"{where}: TLS failure ({exc}); check security = {channel.security!r} and the port"
        ) from exc
    except OSError as exc:  # DNS failure, reset, unreachable network
        raise DeliveryError(f"{where}: {exc}") from exc
    finally:
        if smtp is not None:
            _close(smtp, polite=sent)
    if refused:
        # some recipients took it: a retry would send them a second copy, so report, don't retry
        raise DeliveryError(
            f"{where}: delivered to {plural(len(channel.to) - len(refused), 'recipient')} "
            f"but refused for {_refusals(refused)}", permanent=True,
        )
    LOGGER.debug("%s accepted %s for %s", where, batch_uid, ", ".join(channel.to))


def _tls_context(channel: EmailChannel) -> ssl.SSLContext:
    """The client context: certificate and host name always verified, against `ca_file`
    instead of the system's CA store when it is set."""
    if channel.ca_file is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=str(channel.ca_file))
    except (OSError, ssl.SSLError) as exc:  # gone since the config was read, or not PEM
        raise DeliveryError(f"smtp {channel.host}: cannot load ca_file "
                            f"{str(channel.ca_file)!r}: {exc}", permanent=True) from exc


def build_email(channel: EmailChannel, batch_uid: str, alerts: Sequence[Message],
                subscription_name: str, *, now: datetime | None = None) -> EmailMessage:
    """The message `send_email` sends: subject, headers and both bodies."""
    if not alerts:
        raise ValueError("no alerts to send")
    notice = alerts[0] if isinstance(alerts[0], OperatorNotice) else None
    news = [a for a in alerts if isinstance(a, AlertMessage)]
    message = EmailMessage(policy=SMTP)
    message["Subject"] = f"[Veille] {notice.title}" if notice else subject(news)
    message["From"] = channel.sender
    message["To"] = ", ".join(channel.to)
    message["Date"] = mail_date(now)
    message["Message-ID"] = message_id(batch_uid)
    message["X-Veille-Alert-Id"] = batch_uid
    message["X-Veille-Subscription"] = alerts[0].subscription_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    if notice:
        message["X-Veille-Notice"] = notice.kind
        text, markup = _notice_bodies(notice, subscription_name)
    else:
        text, markup = _text_body(news, subscription_name), _html_body(news, subscription_name)
    # quoted-printable keeps the message 7-bit clean for any relay, accents included
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(markup, subtype="html", cte="quoted-printable")
    return message


def _notice_bodies(notice: OperatorNotice, subscription_name: str) -> tuple[str, str]:
    """An operator notice's plain-text and HTML bodies: its title, then its text."""
    footer = f"Veille, operator notice for subscription \"{subscription_name}\""
    text = f"{notice.title}\n\n{notice.body}\n\n-- \n{footer}\n"
    paragraphs = "\n".join(f"<p>{html.escape(line)}</p>" for line in notice.body.splitlines()
                           if line.strip())
    markup = ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n"
              f"<h3>{html.escape(notice.title)}</h3>\n{paragraphs}\n<hr>\n"
              f"<p><small>{html.escape(footer)}</small></p>\n</body></html>\n")
    return text, markup


def subject(alerts: Sequence[AlertMessage]) -> str:
    """ "[Veille] Soudan: title" for one alert, "[Veille] 3 new stories: Soudan" for several."""
    conflicts = ", ".join(dict.fromkeys(c for a in alerts for c in a.conflicts))
    if len(alerts) == 1:
        alert = alerts[0]
        title = " ".join(alert.title.split())  # a header cannot hold a line break
        title = f"Updated: {title}" if alert.kind == "update" else title
        return f"[Veille] {conflicts}: {title}" if conflicts else f"[Veille] {title}"
    what = "new stories" if all(a.kind == "new" for a in alerts) else "stories"
    return f"[Veille] {len(alerts)} {what}: {conflicts}" if conflicts else \
        f"[Veille] {len(alerts)} {what}"


def message_id(batch_uid: str) -> str:
    """`<batch_uid@veille>`, or a digest of the uid when it holds characters a Message-ID cannot."""
    local = batch_uid if _MSG_ID_LOCAL.match(batch_uid) else \
        sha256(batch_uid.encode("utf-8")).hexdigest()[:32]
    return f"<{local}@veille>"


def _text_body(alerts: Sequence[AlertMessage], subscription_name: str) -> str:
    blocks = []
    for alert in alerts:
        lines = [heading(alert), alert.url, byline(alert)]
        if alert.lead:
            lines += ["", alert.lead]
        if alert.matched:
            lines.append("Matched: " + ", ".join(f"{m.alias} ({m.field})" for m in alert.matched))
        for copy in alert.other_copies:
            lines.append(f"Also in {copy.source}: {copy.url}")
        blocks.append("\n".join(lines))
    footer = f"-- \nVeille, subscription \"{subscription_name}\"\n"
    return "\n\n".join(blocks) + "\n\n" + footer


def _html_body(alerts: Sequence[AlertMessage], subscription_name: str) -> str:
    e = html.escape
    items = []
    for alert in alerts:
        parts = [f"<h3>{_html_link(alert.url, heading(alert))}</h3>",
                 f"<p><small>{e(byline(alert))}</small></p>"]
        if alert.lead:
            parts.append(f"<p>{e(alert.lead)}</p>")
        if alert.matched:
            terms = ", ".join(f"<b>{e(m.alias)}</b> ({e(m.field)})" for m in alert.matched)
            parts.append(f"<p><small>Matched: {terms}</small></p>")
        if alert.other_copies:
            copies = ", ".join(_html_link(c.url, c.source) for c in alert.other_copies)
            parts.append(f"<p><small>Also in: {copies}</small></p>")
        items.append("\n".join(parts))
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n"
        + "\n<hr>\n".join(items)
        + f"\n<hr>\n<p><small>Veille, subscription &quot;{e(subscription_name)}&quot;"
        "</small></p>\n</body></html>\n"
    )


def heading(alert: AlertMessage) -> str:
    """"Conflicts: title", with "Updated: " before the title of an update."""
    title = f"Updated: {alert.title}" if alert.kind == "update" else alert.title
    return f"{', '.join(alert.conflicts)}: {title}" if alert.conflicts else title


def _html_link(url: str, label: str) -> str:
    # only http(s) links become anchors: a javascript: URL from a page must stay inert
    if url.lower().startswith(("http://", "https://")):
        return f'<a href="{html.escape(url, quote=True)}">{html.escape(label)}</a>'
    return html.escape(label)


def _smtp_error(where: str, exc: smtplib.SMTPException) -> DeliveryError:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return DeliveryError(f"{where}: recipients refused: {_refusals(exc.recipients)}",
                             permanent=any(code >= 500 for code in codes))
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(f"{where}: {exc}", permanent=True)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return DeliveryError(f"{where}: connection closed by the server ({exc})")
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) \
            else str(exc.smtp_error)
        what = {
            smtplib.SMTPAuthenticationError: "login refused",
            smtplib.SMTPSenderRefused: "sender refused",
            smtplib.SMTPDataError: "message refused",
            smtplib.SMTPConnectError: "connection refused by the server",
            smtplib.SMTPHeloError: "greeting refused",
        }.get(type(exc), "error")
        # 4xx is "try again later" in SMTP (greylisting, full queue), 5xx is final
        return DeliveryError(f"{where}: {what}: {exc.smtp_code} {text}",
                             permanent=exc.smtp_code >= 500)
    return DeliveryError(f"{where}: {exc}")


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{address} ({code} {message.decode('utf-8', 'replace')})"
        for address, (code, message) in refused.items()
    )


def _close(smtp: smtplib.SMTP, *, polite: bool) -> None:
    # after a failure the connection may be dead: a QUIT would only wait out the timeout again
    if polite:
        try:
            smtp.quit()  # a failed QUIT after an accepted message must not cause a resend
            return
        except (smtplib.SMTPException, OSError) as exc:
            LOGGER.debug("QUIT failed: %s", exc)
    smtp.close()
