"""Secrets out of messages: every URL in a message that is stored (the database is published
by Datasette) or logged loses its user name, password, query and fragment, and the path
after its first segment, where webhook services put their tokens.

    >>> redact("webhook https://hook:Pa%24%25@hooks.example.org/services/T0/B0/XYZ?t=1: 500")
    'webhook https://hooks.example.org/services/…: 500'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote

__all__ = ["redact", "redact_url", "service_url_secrets", "url_secrets"]

# A URL runs to the next white space; punctuation that ends a sentence or closes a bracket
# or a quote is given back to the text. (No word boundary before it: "_http://" is a URL too.)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S*")
_TRAILING = ".,;:!?)}>'\""  # not "]": a "[redacted]" secret stays inside its URL
# A reference without a scheme but with a query or fragment, as some libraries quote it
# ("with url: /hook?token=..."): the query and fragment go.
_REFERENCE = re.compile(r"([^\s?#]*/[^\s?#]*)[?#]\S*")
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+(%25[\w.~-]+)?\]|[\w.-]+)(:\d*)?")
_SEGMENT = re.compile(r"[\w.~+-]+")
# Where an Apprise URL's parts end: its host, user, path segments and query values can each
# be a token (tgram://<bot token>/<chat id>).
_PARTS = re.compile(r"[/:@?&=#,;+\s]+")
_SEGMENTS = re.compile(r"[/@?&=#,;\s]+")  # a host with its port, "user:password"
_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# Shorter values (a `?v=1`) are too common to blank out wherever they occur in a message.
_MIN_SECRET = 4
ELIDED = "…"
SECRET = "[redacted]"


def redact_url(url: str) -> str:
    """`url` with only its scheme, host, port and first path segment (when more follow);
    "…" marks that something was cut.

    An authority that does not read as host[:port] once the user information is cut, or an
    "@" after it (a password with a raw "/", "?" or "#"), leaves only the scheme: no part
    of a password can then pass for a host or a path.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, tail = _split_authority(rest)
    host = authority.rpartition("@")[2]
    if "@" in tail or not _HOST.fullmatch(host):
        return f"{scheme}://{ELIDED}"
    segments = re.split(r"[?#]", tail, maxsplit=1)[0].split("/")  # ["", "services", "T0"]
    path = "/" if tail == "/" else ""
    if len(segments) > 2 and _SEGMENT.fullmatch(segments[1]):
        path = f"/{segments[1]}/"
    kept = f"{scheme}://{host}{path}"
    if tail != path or authority != host:
        kept += ELIDED if kept.endswith("/") else "/" + ELIDED
    return kept


def url_secrets(url: str) -> list[str]:
    """What `url` holds that must not be repeated elsewhere in a message: user name,
    password, query values and fragment, as written and percent-decoded."""
    authority, tail = _split_authority(url.partition("://")[2])
    userinfo, at, _ = authority.rpartition("@")
    tail, _, fragment = tail.partition("#")
    query = tail.partition("?")[2]
    found = userinfo.split(":", 1) if at else []
    found += [value for _, value in parse_qsl(query, keep_blank_values=True)]
    found += [part.partition("=")[2] or part for part in query.split("&")]
    found.append(fragment)
    return _secret_forms(found)


def service_url_secrets(url: str) -> list[str]:
    """Every part of a notification service's URL but its scheme (an Apprise URL keeps
    tokens in its host and path as well as in its user, password and query), as written
    and percent-decoded, and the URL itself: what no message may repeat."""
    url = url.strip()
    rest = url.partition("://")[2] or url
    return _secret_forms([url, rest, *_SEGMENTS.split(rest), *_PARTS.split(rest)])


def _secret_forms(values: Iterable[str]) -> list[str]:
    """`values` as written and percent-decoded, once each, but those too short to blank out."""
    return list(dict.fromkeys(s for v in values for s in (v, unquote(v)) if len(s) >= _MIN_SECRET))


def redact(message: str, secrets: Iterable[str | None] = ()) -> str:
    """`message` fit to store or log: each of `secrets` (and its percent-decoded form)
    replaced wherever it occurs, every URL passed through `redact_url`, queries and
    fragments of scheme-less references removed, e-mail addresses masked."""
    for secret in sorted({s for s in secrets if s and len(s) >= _MIN_SECRET}, key=len,
                         reverse=True):
        message = message.replace(secret, SECRET)
    message = _URL.sub(_redact_match, message)
    message = _REFERENCE.sub(_reference, message)
    return _ADDRESS.sub("[address]", message)


def _split_authority(rest: str) -> tuple[str, str]:
    """What follows "scheme://", cut where the authority ends (the first "/", "?" or "#")."""
    end = next((i for i, c in enumerate(rest) if c in "/?#"), len(rest))
    return rest[:end], rest[end:]


def _redact_match(match: re.Match[str]) -> str:
    text = match.group()
    url = text.rstrip(_TRAILING)
    if url.endswith("://"):
        return text
    return redact_url(url) + text[len(url):]


def _reference(match: re.Match[str]) -> str:
    text, path = match.group(), match.group(1)
    rest = text[len(path):]
    if "://" in path or not rest.rstrip(_TRAILING):  # a redacted URL, or a question mark
        return text
    return f"{path}?{ELIDED}{text[len(text.rstrip(_TRAILING)):]}"
