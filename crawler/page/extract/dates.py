"""Dates as pages write them: ISO 8601, RFC 822, and visible French or English dates."""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, tzinfo
from urllib.parse import urlsplit

from dateutil import parser as date_parser

LOGGER = logging.getLogger(__name__)

PUBLISHED_META = (
    "datepublished",
    "article:published_time",
    "article.published",
    "date",
    "pubdate",
    "publishdate",
    "publish-date",
    "publish_date",
    "dc.date",
    "dc.date.issued",
    "dcterms.issued",
    "dcterms.created",
    "sailthru.date",
    "parsely-pub-date",
)
UPDATED_META = (
    "datemodified",
    "article:modified_time",
    "article.updated",
    "last-modified",
    "dc.date.modified",
    "dcterms.modified",
)

# dateutil only knows UTC/GMT by name; these abbreviations show up in RFC 822 dates.
_TZ_ABBREVIATIONS = {
    "UT": 0,
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "EST": -5 * 3600,
    "EDT": -4 * 3600,
    "CST": -6 * 3600,
    "CDT": -5 * 3600,
    "MST": -7 * 3600,
    "MDT": -6 * 3600,
    "PST": -8 * 3600,
    "PDT": -7 * 3600,
    "BST": 3600,
    "CET": 3600,
    "CEST": 2 * 3600,
    "EET": 2 * 3600,
    "EEST": 3 * 3600,
}
# A year no news page uses: tells "no year in the text" apart from a parsed one.
_NO_DATE = datetime(1, 1, 1)

class _DateParserInfo(date_parser.parserinfo):
    """dateutil vocabulary extended with French month and day names (for visible dates)."""

    JUMP = [*date_parser.parserinfo.JUMP, "le", "à", "publié", "mis", "jour", "posted", "updated"]
    WEEKDAYS = [
        ("Mon", "Monday", "lundi"),
        ("Tue", "Tuesday", "mardi"),
        ("Wed", "Wednesday", "mercredi"),
        ("Thu", "Thursday", "jeudi"),
        ("Fri", "Friday", "vendredi"),
        ("Sat", "Saturday", "samedi"),
        ("Sun", "Sunday", "dimanche"),
    ]
    MONTHS = [
        ("Jan", "January", "janvier", "janv"),
        ("Feb", "February", "février", "fevrier", "févr", "fevr"),
        ("Mar", "March", "mars"),
        ("Apr", "April", "avril", "avr"),
        ("May", "mai"),
        ("Jun", "June", "juin"),
        ("Jul", "July", "juillet", "juil"),
        ("Aug", "August", "août", "aout"),
        ("Sep", "Sept", "September", "septembre"),
        ("Oct", "October", "octobre"),
        ("Nov", "November", "novembre"),
        ("Dec", "December", "décembre", "decembre", "déc"),
    ]


_PARSER_INFO = _DateParserInfo()


def parse_date(value: str | None, tz: tzinfo, *, visible: bool = False) -> datetime | None:
    """Parse an ISO 8601 / RFC 822 date (or, if ``visible``, a date as printed on the page).

    Naive results get ``tz``. Visible dates are parsed fuzzily and day-first
    ("12/03/2025" is 12 March, as on most non-US sites); a value without a year is
    rejected rather than completed with the current one.
    """
    if not value or not value.strip():
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", date_parser.UnknownTimezoneWarning)
        try:
            parsed = date_parser.parse(
                value.strip(),
                parserinfo=_PARSER_INFO,
                default=_NO_DATE,
                tzinfos=_TZ_ABBREVIATIONS,
                fuzzy=visible,
                dayfirst=visible,
            )
        except (ValueError, OverflowError, TypeError):
            LOGGER.debug("unparsable date %r", value)
            return None
    if parsed.year == _NO_DATE.year:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)


# -- choosing the published time -----------------------------------------------------

# /2026/11/19/ or /2026-11-19- in an article URL: a date without a time.
_URL_DATE_RE = re.compile(
    r"/((?:19|20)\d{2})[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?=[/._-]|$)"
)
# How far ahead of the clock a published time may be (clock skew, a CMS's rounding).
FUTURE_TOLERANCE = timedelta(hours=1)


def url_date(url: str | None, tz: tzinfo) -> datetime | None:
    """The day an article URL gives (``/2026/11/19/``), at midnight in ``tz``."""
    match = _URL_DATE_RE.search(urlsplit(url).path) if url else None
    if not match:
        return None
    year, month, day = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, tzinfo=tz)
    except ValueError:  # 2026/02/31
        return None


def has_time_of_day(when: datetime) -> bool:
    """Whether a parsed date gives the time of day. Midnight on the dot does not:
    it is what a bare "2019-08-06" parses to, and what CMSs write when they only know
    the day ("2019-08-06T00:00:00Z")."""
    return (when.hour, when.minute, when.second, when.microsecond) != (0, 0, 0, 0)


def most_precise(
    candidates: Iterable[tuple[str, Callable[[], datetime | None]]],
    origins: dict[str, str] | None = None, field: str = "published",
) -> datetime | None:
    """The first date found, unless it is a bare date and a later source gives the time
    of day on that same day: JSON-LD "2019-08-06" and a meta tag's
    "2019-08-06T17:56:27Z" give the latter. Sources are read in order, lazily, and no
    further than needed; a later source's different day never overrides an earlier one.
    Which sources gave the date is noted in `origins` under `field`, when given.
    """
    chosen: datetime | None = None
    chosen_source = ""
    for source, getter in candidates:
        when = getter()
        if when is None:
            continue
        if chosen is None:
            chosen, chosen_source = when, source
        elif has_time_of_day(when) and _same_day(chosen, when):
            LOGGER.debug("published: time of day from %s, day from %s", source, chosen_source)
            if origins is not None:
                origins[field] = f"{chosen_source} (day), {source} (time of day)"
            return when
        if has_time_of_day(chosen):
            break
    if chosen is not None:
        LOGGER.debug("published from %s", chosen_source)
        if origins is not None:
            origins[field] = chosen_source
    return chosen


def in_the_future(when: datetime, now: datetime) -> bool:
    """More than `FUTURE_TOLERANCE` after ``now``: no site can have published then."""
    return when - now > FUTURE_TOLERANCE


def _same_day(bare: datetime, timed: datetime) -> bool:
    """Same calendar day, in the bare date's zone (the site's) or the timed value's own."""
    return timed.astimezone(bare.tzinfo).date() == bare.date() or timed.date() == bare.date()
