"""Decode fetched HTML bytes to text, surviving wrong or missing charset declarations."""

from __future__ import annotations

import logging

import charset_normalizer
from w3lib.encoding import (
    html_body_declared_encoding,
    html_to_unicode,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
    to_unicode,
)

LOGGER = logging.getLogger(__name__)

UTF8 = "utf-8"
# The usual mislabel on Western news sites: bytes written by a Windows CMS in cp1252
# (a superset of latin-1 for printable text) but served as utf-8 or with no charset.
WESTERN_FALLBACK = "cp1252"
# charset_normalizer's "mess" ratio under which we trust its guess over the fallback.
MAX_DETECTION_CHAOS = 0.1
# Codec names (as resolved by w3lib/codecs) of single-byte encodings: any byte
# sequence decodes "successfully" with them, so a wrong label silently yields mojibake.
_SINGLE_BYTE_PREFIXES = ("iso8859-", "cp125", "koi8-", "mac-")
# Latin-script single-byte codecs: on a page that is mostly ASCII markup, a detector
# cannot tell them apart (French cp1252 comes out as "cp1250"), so cp1252 stands for all.
_WESTERN_ENCODINGS = frozenset(
    {
        "cp1252",
        "iso8859-1",
        "iso8859-15",
        "cp1250",
        "iso8859-2",
        "cp1254",
        "iso8859-9",
        "cp1257",
        "iso8859-13",
        "iso8859-4",
        "iso8859-3",
        "iso8859-16",
        "mac-roman",
        "mac-latin2",
    }
)


def decode_html(
    body: bytes, content_type: str | None = None, *, forced: str | None = None
) -> tuple[str, str]:
    """Decode an HTML response body, trusting the bytes over a doubtful declaration.

    Precedence:

    1. A byte order mark wins (and is stripped).
    2. ``forced`` (a per-source configuration override) wins next, if Python knows it.
    3. The declared encoding (HTTP ``Content-Type`` header, else ``<meta>``/XML
       declaration) is used, with two corrections for the mislabels seen in practice:

       * declared single-byte (latin-1, iso-8859-*, cp1252...) but the bytes are valid
         UTF-8 containing multi-byte sequences: UTF-8. Real Latin text is practically
         never valid UTF-8 by accident, so this cannot turn good text into mojibake.
       * declared UTF-8, or nothing declared, but the bytes are not valid UTF-8:
         cp1252, unless charset_normalizer confidently names an encoding outside the
         Western single-byte family (e.g. cp1251, Shift_JIS).

    Args:
        body: Raw response body.
        content_type: Value of the HTTP ``Content-Type`` header, if any.
        forced: Encoding label that overrides any declaration (not a BOM).

    Returns:
        ``(text, encoding)`` where ``encoding`` is the Python codec name used.
        Undecodable bytes, if any remain, become U+FFFD rather than raising.
    """
    bom_encoding, _ = read_bom(body)
    if bom_encoding is not None:
        encoding, text = html_to_unicode(content_type, body)
        return text, encoding

    encoding = _forced_encoding(forced) or _choose_encoding(body, content_type)
    return to_unicode(body, encoding), encoding


def _forced_encoding(forced: str | None) -> str | None:
    """Resolve the configured override, ignoring (with a warning) an unknown label."""
    if not forced:
        return None
    encoding = resolve_encoding(forced)
    if encoding is None:
        LOGGER.warning("unknown forced encoding %r ignored", forced)
    return encoding


def _choose_encoding(body: bytes, content_type: str | None) -> str:
    """Pick the encoding from the declarations, corrected by what the bytes look like."""
    declared = http_content_type_encoding(content_type) or html_body_declared_encoding(body)
    if declared in {"utf-16", "utf-32"}:
        # No BOM: same reading as w3lib.html_to_unicode.
        return declared + "-be"
    if declared is not None and declared != UTF8:
        if _is_single_byte(declared) and _is_multibyte_utf8(body):
            LOGGER.debug("declared %s but body is valid UTF-8: using utf-8", declared)
            return UTF8
        return declared
    if _is_valid_utf8(body):
        return UTF8
    fallback = _detect_non_western(body) or WESTERN_FALLBACK
    LOGGER.debug("declared %s but body is not valid UTF-8: using %s", declared, fallback)
    return fallback


def _is_single_byte(encoding: str) -> bool:
    return encoding.startswith(_SINGLE_BYTE_PREFIXES)


def _is_valid_utf8(body: bytes) -> bool:
    try:
        body.decode(UTF8)
    except UnicodeDecodeError:
        return False
    return True


def _is_multibyte_utf8(body: bytes) -> bool:
    """True when the body is valid UTF-8 and not plain ASCII."""
    return not body.isascii() and _is_valid_utf8(body)


def _detect_non_western(body: bytes) -> str | None:
    """Return charset_normalizer's guess only when it is confident and not Western.

    A Western single-byte guess (cp1250, iso8859-15...) is not worth following: on a
    page that is mostly ASCII markup those are indistinguishable, and cp1252 covers them.
    """
    best = charset_normalizer.from_bytes(body).best()
    if best is None or best.chaos > MAX_DETECTION_CHAOS:
        return None
    candidates = {resolve_encoding(name) for name in best.could_be_from_charset}
    if candidates & _WESTERN_ENCODINGS:
        return None
    return resolve_encoding(best.encoding)
