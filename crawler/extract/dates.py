"""Dates as pages write them: ISO 8601, RFC 822, and visible French or English dates."""

from __future__ import annotations

import logging
import warnings
from datetime import datetime, tzinfo

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
