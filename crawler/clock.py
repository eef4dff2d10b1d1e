"""Time in Veille: the only place a moment becomes text, and text a moment.

The record keeps every time as UTC ISO 8601 text to the second with a Z
(``2026-11-23T19:10:00Z``, a "stamp"): it sorts as text, compares in SQL and reads the same
in Datasette, the JSON output, the WARC files and the feeds. Code holds aware datetimes and
converts at the edges with `stamp` and `parse_time`. (Dates found on news pages, in every
format sites write, are read by `crawler.page.extract.dates`, and feed and sitemap dates by
feedparser and dateutil; an HTTP Retry-After date by `email.utils`.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime


def utc_now() -> datetime:
    """Now, as an aware UTC datetime: the default clock of everything that keeps time."""
    return datetime.now(UTC)


def stamp(moment: datetime | None) -> str | None:
    """`moment` as the record writes times: UTC, ISO 8601, to the second, with a Z.
    A naive datetime is taken as local time (as `datetime.astimezone` does)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def stamp_now() -> str:
    return stamp(utc_now()) or ""


def parse_time(text: str | None) -> datetime | None:
    """An ISO 8601 time (a stamp, or any offset) as an aware UTC datetime; a time without
    an offset is UTC; None for no text. Raises ValueError when `text` is no such time."""
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_time_or_none(text: str | None) -> datetime | None:
    """`parse_time`, with None for text that is no time (values read from elsewhere)."""
    try:
        return parse_time(text)
    except ValueError:
        return None


def stamp_before(text: str, delta: timedelta) -> str:
    """The stamp `delta` before the stamp `text`: a window's start in SQL comparisons."""
    moment = parse_time(text)
    assert moment is not None, "stamp_before needs a time"
    return stamp(moment - delta) or ""


def readable_utc(text: str | None) -> str | None:
    """A stored time as a reader sees it in a message: ``2026-11-23 19:10 UTC`` (text that
    is no time is shown as it is)."""
    moment = parse_time_or_none(text)
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else text


def http_date(moment: datetime) -> str:
    """An HTTP header's date (Last-Modified: RFC 9110, which says GMT)."""
    return format_datetime(moment, usegmt=True)


def mail_date(moment: datetime | None = None) -> str:
    """An e-mail's Date header (RFC 5322) for `moment` (default: now)."""
    return format_datetime(moment or utc_now())


def local_stamp(moment: datetime | None) -> str | None:
    """`moment` in ISO 8601 to the second with the offset it has (the site's local time,
    kept beside the UTC stamp); None for None."""
    return moment.replace(microsecond=0).isoformat() if moment else None


def exact_text(moment: datetime) -> str:
    """`moment` as text that reads back to the same datetime (microseconds, offset or none):
    for values passed between processes (`crawler.cluster.wire`), not for the record."""
    return moment.isoformat()


def from_exact_text(text: str) -> datetime:
    """The datetime `exact_text` wrote."""
    return datetime.fromisoformat(text)
