"""Author names as an editor writes them, from bylines, meta tags and JSON-LD.

Bylines carry more than names: "Roger Gonzalez @rgonzalezcbs Nov 19, 2019 at 6:46 pm",
"Jeff Foust Monday, November 18", "Jane Doe · 5 min read". Handles, dates, times, day
and month names next to a date, reading times and "Updated"/"Published" notes are cut
out before the byline is split into names.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from crawler.page.extract.text import clean_text

LOGGER = logging.getLogger(__name__)

_AUTHOR_PREFIX_RE = re.compile(
    r"^(?:(?:written|reported|text|story|words)\s+by|propos\s+recueillis\s+par|by|par)\s*:?\s+",
    re.IGNORECASE,
)
_AUTHOR_SPLIT_RE = re.compile(
    r"\s*(?:,|;|&|\||·|•|\band\b|\bet\b|\(\s*(?:avec|with)\b)\s*", re.IGNORECASE
)
# "Bradley M. Kuhn (http://ebb.org/bkuhn/)": a link is no part of a name.
_PAREN_URL_RE = re.compile(r"\s*\((?:[a-z]+://|www\.)[^)]*\)", re.IGNORECASE)
# <meta name=...> holding the byline, most common first ("byl": The New York Times).
AUTHOR_META = ("author", "byl", "dc.creator", "dcterms.creator", "article:author",
               "parsely-author", "sailthru.author")
_URL_RE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|www\.)|^/", re.IGNORECASE)

_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|janvier|janv|f[ée]vrier"
    r"|f[ée]vr|mars|avril|avr|mai|juin|juillet|juil|ao[uû]t|septembre|octobre|novembre"
    r"|d[ée]cembre|d[ée]c)\.?"
)
_WEEKDAYS = (
    r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday"
    r"|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)"
)
_SHORT_WEEKDAYS = r"(?:mon|tues?|wed|thu(?:rs?)?|fri|sat|sun)"
_ZONES = r"(?:ET|EST|EDT|CT|CST|CDT|PT|PST|PDT|GMT|UTC|BST|CET|CEST|HNE|HAE)"
# Where the names stop: a date, a time, a weekday, a reading time, an update note.
_NOT_A_NAME = (
    rf"{_MONTHS}\s+\d{{1,2}}(?!\d)(?:,?\s+\d{{4}})?",  # Nov 19, 2019
    rf"\d{{1,2}}(?:er)?\s+{_MONTHS}(?!\w)(?:\s+\d{{4}})?",  # 12 mars 2025
    rf"{_MONTHS}\s+\d{{4}}",  # March 2015
    r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}",  # 12/03/2025
    rf"(?:at\s+|à\s+)?(?:\d{{1,2}}[:h]\d{{2}}(?:\s*[ap]\.?m\.?)?|\d{{1,2}}\s*[ap]\.?m\.?)"
    rf"(?:\s+{_ZONES})?(?!\w)",  # at 6:46 pm PST, à 16h30
    rf"{_WEEKDAYS}(?!\w)",
    rf"{_SHORT_WEEKDAYS}\.?(?=,|\s+\d)",  # Tue, 12 March
    r"\d+\s*(?:min(?:ute)?s?|mn)\.?\s+(?:read|de\s+lecture)|(?:temps\s+de\s+)?lecture\s*:",
    r"reading\s+time|(?:last\s+)?updated|published|posted",
    # 2 hours ago, il y a 3 h, před 2 hodinami, vor 5 Minuten
    r"(?:il\s+y\s+a|před|vor|hace|há)?\s*\d+\s*(?:h|hrs?|hours?|min|mins|minutes?|days?|heures?"
    r"|jours?|hodin\w*|minut\w*|stunden?|tagen?|horas?|minutos?|d[ií]as?)(?!\w)(?:\s+ago)?",
    r"mis\s+[àa]\s+jour|publi[ée]e?\s+le|modifi[ée]e?\s+le",
)
_NOT_A_NAME_RE = re.compile(r"(?<!\w)(?:" + "|".join(_NOT_A_NAME) + ")", re.IGNORECASE)
# A job title or a page's label, not a name: dropped (with what follows it in the same
# byline, an affiliation) once a name has been found, so "Our Foreign Staff" alone stays.
_JOB_RE = re.compile(
    r"\b(?:editor|reporter|correspondent|writer|columnist|journalist|contributor|staff"
    r"|producer|technologist|director|analyst|photographer|envoy[ée]e?\s+sp[ée]ciale?"
    r"|correspondante?|journaliste|r[ée]dact(?:eur|rice)|chroniqueu(?:r|se))s?\b",
    re.IGNORECASE,
)
_LABEL_RE = re.compile(
    r"^(?:about\s+the\s+author|view\s+my\s+complete\s+profile|more\s+from\b.*|follow(?:\s+author)?"
    r"|contact|e-?mail|see\s+all\b.*|all\s+posts\b.*|username|author|auteur|share|by|par)$",
    re.IGNORECASE,
)
# A byline fragment longer than this, or with a sentence's punctuation, is no name.
_MAX_NAME_WORDS = 6
_SENTENCE_MARK_RE = re.compile(r"[:?!$€£\"“”«»]")
_HANDLE_RE = re.compile(r"(?<![\w.])@\w+|\S+@\S+\.\w+")
_ONLY_DATE_WORDS_RE = re.compile(rf"^(?:{_MONTHS}|{_WEEKDAYS}|at|à|le|on)$", re.IGNORECASE)
# "Martin Luther King, Jr.": a suffix the split on commas must not make a name.
_NAME_SUFFIX_RE = re.compile(r"^(?:jr|sr|ii|iii|iv)\.?$", re.IGNORECASE)


def normalize_authors(raw: Iterable[str], *, split: bool = True) -> tuple[str, ...]:
    """Clean author strings: strip "By"/"Par", drop handles, dates and reading times,
    split lists, drop URLs, dedupe in order."""
    bylines = [_byline_names(text, split) for value in raw if (text := clean_text(value))]
    found = any(names for names, _ in bylines)
    authors: dict[str, str] = {}
    for names, jobs in bylines:
        for name in names if found else names + jobs:
            authors.setdefault(name.casefold(), name)
    return _without_extended(list(authors.values()))


def _byline_names(text: str, split: bool) -> tuple[list[str], list[str]]:
    """The names in one byline, and the job titles met once no name came first."""
    names: list[str] = []
    jobs: list[str] = []
    text = names_part(_AUTHOR_PREFIX_RE.sub("", _PAREN_URL_RE.sub("", text)))
    for fragment in _AUTHOR_SPLIT_RE.split(text) if split else [text]:
        # "Lucas Nolan22 Dec 2016": what is glued to a name goes with the date
        name = _balanced(re.sub(r"\d+$", "", fragment).strip(" .:-–—"))
        if names and _NAME_SUFFIX_RE.match(name):
            names[-1] = f"{names[-1]}, {name}"
        elif split and _JOB_RE.search(name):  # a selector's match is one author, as is
            if names:
                break  # "Jane Doe, Senior Staff Technologist, ACLU Speech, Privacy"
            jobs.append(name)
        elif is_name(name) and not _LABEL_RE.match(name):
            names.append(name)
    return names, jobs


def _balanced(name: str) -> str:
    """A name without a parenthesis left open or closed by the split."""
    if name.count("(") > name.count(")"):
        name = name[: name.rindex("(")]
    elif name.count(")") > name.count("("):
        name = name.replace(")", "")
    return name.strip(" .:-–—")


def _without_extended(names: list[str]) -> tuple[str, ...]:
    """Drop a name that is another one plus more words: a byline's container and its
    parts ("Ben Silverman Games Editor", "Ben Silverman") give the name twice."""
    folded = [name.casefold() for name in names]
    return tuple(
        name
        for name, key in zip(names, folded, strict=True)
        if not any(key != other and key.startswith(other + " ") for other in folded)
    )


def names_part(byline: str) -> str:
    """A byline up to where the names stop (a date, a time, "Updated"...), handles out.

    A byline that starts with a date ("April 28, 2019 at 6:01 am Updated …") is read
    past it: what follows may still be a name.
    """
    text = " ".join(_HANDLE_RE.sub(" ", byline).split())
    while (match := _NOT_A_NAME_RE.search(text)) is not None:
        if match.start() > 0:
            return text[: match.start()].strip(" ,;|·•-–—")
        text = _AUTHOR_PREFIX_RE.sub("", text[match.end() :].strip(" ,;|·•-–—"))
    return text


def is_name(text: str) -> bool:
    """Whether a fragment can be a name: letters but no digits, no URL, no lone day or
    month, and neither a sentence's punctuation nor a headline's length (bylines often
    sit beside teasers: "Matt Bai The real problem behind fake news")."""
    return (
        bool(text)
        and any(char.isalpha() for char in text)
        and not any(char.isdigit() for char in text)
        and not _URL_RE.search(text)
        and not _ONLY_DATE_WORDS_RE.match(text)
        and not _SENTENCE_MARK_RE.search(text)
        and len(text.split()) <= _MAX_NAME_WORDS
    )
