"""The normal form every text is compared in: aliases, exclusions, topic labels, article
texts (crawler/page/matching.py) and story fingerprints (crawler/page/fingerprints.py).

Names are compared the way an editor reads them: case, accents and typography ignored,
only whole words counting.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from dataclasses import dataclass

# Characters that vanish: soft hyphen, zero-width space/joiners, word joiner, BOM.
_INVISIBLE = frozenset("\u00ad\u200b\u200c\u200d\u2060\ufeff")
# Ligatures that casefolding and NFKD leave whole.
_LIGATURES = {"œ": "oe", "æ": "ae"}
# Apostrophes and hyphens/dashes become a space, so "l’Artsakh" reads "l artsakh" and
# "Haut-Karabakh" reads "haut karabakh", exactly like "Haut Karabakh".
_SEPARATORS = re.compile("['\u2019\u2018\u02bc\u02b9\u2032`\u00b4\\-"
                         "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe63]")
WORDS = re.compile(r"\w+")


def normalize_text(text: str) -> str:
    """The normal form that aliases, exclusions, topic labels and article texts all go through.

    HTML entities are decoded, soft hyphens and zero-width characters removed, accents
    stripped, case folded, apostrophes and dashes turned into spaces and every run of white
    space (non-breaking spaces and line breaks included) collapsed into one space. Other
    punctuation is kept, so that a phrase never matches across "Soudan. Du sud".

    Args:
        text: any text, possibly with HTML entities.

    Returns:
        The normalized text, stripped.
    """
    for _ in range(3):  # feeds often escape twice: "&amp;nbsp;"
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    text = unicodedata.normalize("NFKD", text.casefold())
    if not text.isascii():
        # Each distinct character judged once, each one to drop removed in one C-speed
        # pass: a character-by-character generator cost 5 ms on a long article.
        for char in set(text):
            if char in _INVISIBLE or unicodedata.combining(char):
                text = text.replace(char, "")
            elif char in _LIGATURES:
                text = text.replace(char, _LIGATURES[char])
    return " ".join(_SEPARATORS.sub(" ", text).split())


@dataclass(frozen=True)
class NormalText:
    """A text in normal form and its words (runs of word characters), in order."""

    text: str
    words: tuple[str, ...]

    @functools.cached_property
    def vocabulary(self) -> frozenset[str]:
        return frozenset(self.words)


# An article's body is read by `crawler.record.stories` (shingles) and then by the matcher, with
# its title, lead and topic in between: the last four texts are kept, so that the second
# reader of the body costs nothing and no article's text outlives the next article.
@functools.lru_cache(maxsize=4)
def normal_text(text: str) -> NormalText:
    """`normalize_text` of a text, with its words."""
    normal = normalize_text(text)
    return NormalText(normal, tuple(WORDS.findall(normal)))
