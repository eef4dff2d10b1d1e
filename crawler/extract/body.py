"""The article's main text: trafilatura on the page, minus boilerplate and a repeated lede."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from crawler.extract.text import comparable

LOGGER = logging.getLogger(__name__)

# cleaning does not always reach: share bars, newsletter boxes, "Lire aussi" boxes,
# captions, breadcrumbs, bylines and kickers. Matched as whole class/id tokens, so
# "shareholders" is safe.
BOILERPLATE_TOKENS = (
    "byline",
    "dateline",
    "kicker",
    "surtitre",
    "share",
    "sharing",
    "partage",
    "social",
    "newsletter",
    "related",
    "lire",
    "aussi",
    "readmore",
    "breadcrumb",
    "caption",
    "legende",
    "subscribe",
    "abonnement",
    "promo",
    "outbrain",
    "taboola",
)


def _token_test(attribute: str, tokens: Iterable[str]) -> str:
    """XPath 1.0 test: ``attribute`` contains one of ``tokens`` as a -/_/space-separated word.

    trafilatura compiles ``prune_xpath`` without the EXSLT regex namespace, hence no re:test.
    """
    words = (
        f"concat(' ', translate(@{attribute}, '_-ABCDEFGHIJKLMNOPQRSTUVWXYZ',"
        f" '  abcdefghijklmnopqrstuvwxyz'), ' ')"
    )
    return " or ".join(f"contains({words}, ' {token} ')" for token in tokens)


PRUNE_XPATH = [
    "//figure",
    "//figcaption",
    f"//*[{_token_test('class', BOILERPLATE_TOKENS)} or {_token_test('id', BOILERPLATE_TOKENS)}]",
]
TRAFILATURA_OPTIONS: dict[str, Any] = {
    "favor_precision": True,
    "include_comments": False,
    "include_tables": False,
    "include_images": False,
    "include_links": False,
    "with_metadata": False,
}
# Date search in free text is where htmldate guesses wrong; metadata and markup only.
TRAFILATURA_DATE_PARAMS = {"original_date": True, "extensive_search": False}

# Paragraphs that are links to other articles ("Lire aussi : ...") or leftover widget
# labels, not article text. Labels must match whole: "Partager un repas..." is prose.
_NOT_BODY_RE = re.compile(
    r"^(?:(?:à\s+)?lire\s+(?:aussi|également|egalement)|(?:à\s+)?voir\s+aussi"
    r"|sur\s+le\s+même\s+sujet|(?:read|see)\s+(?:also|more)\s*(?:[:|›»]|$)|related\s*:)"
    r"|^(?:partager(?:\s+sur\s+\w+)?|copier\s+le\s+lien|share(?:\s+this(?:\s+article)?)?"
    r"|copy\s+link)$",
    re.IGNORECASE,
)
_NOT_BODY_MAX_CHARS = 300


def is_boilerplate_paragraph(paragraph: str) -> bool:
    return len(paragraph) <= _NOT_BODY_MAX_CHARS and bool(_NOT_BODY_RE.match(paragraph))



def drop_repeated_header(paragraphs: list[str], headers: Iterable[str | None]) -> list[str]:
    """Drop leading paragraphs that repeat the title or the lead (the "repeated lede").

    trafilatura keeps the headline and standfirst when they sit inside the content
    container. A truncated meta description ("Le ministre a…") is a prefix of the
    first paragraph but not a repetition of it, so only near-identical texts count.
    """
    keys = [key for text in headers if text and (key := comparable(text))]
    start = 0
    while start < len(paragraphs) and any(
        same_text(comparable(paragraphs[start]), key) for key in keys
    ):
        LOGGER.debug("dropping repeated title/lead from body: %.40r", paragraphs[start])
        start += 1
    return paragraphs[start:]


def same_text(paragraph: str, header: str) -> bool:
    return paragraph == header or near_prefix(paragraph, header)


def near_prefix(first: str, lead: str) -> bool:
    shorter, longer = sorted((first, lead), key=len)
    return longer.startswith(shorter) and len(shorter) >= 0.9 * len(longer)
