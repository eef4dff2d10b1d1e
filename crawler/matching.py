"""Decide which tracked conflicts an article is about, from its title, lead, body and topic label.

Matching is lexical, the way an editor reads a page: names are compared in a normal form that
ignores case, accents and typography, and only whole words count ("Mali" is not in "Somalie").
"""

from __future__ import annotations

import functools
import hashlib
import html
import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from crawler.config import Conflict

LOGGER = logging.getLogger(__name__)

#: Fields searched for aliases, best first; "topic" is compared whole, not searched.
FIELDS = ("title", "topic", "lead", "body")
_FIELD_SCORES = {"title": 1.0, "topic": 1.0, "lead": 0.8}
_BODY_SCORE, _BODY_STEP, _BODY_MAX = 0.4, 0.1, 0.7

# Characters that vanish: soft hyphen, zero-width space/joiners, word joiner, BOM.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
# Apostrophes and hyphens/dashes become a space, so "l’Artsakh" reads "l artsakh" and
# "Haut-Karabakh" reads "haut karabakh", exactly like "Haut Karabakh".
_SEPARATORS = str.maketrans(
    {c: " " for c in "'\u2019\u2018\u02bc\u02b9\u2032`\u00b4"
                     "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe63"}
    | {"œ": "oe", "æ": "ae"}
)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Match:
    """One conflict found in an article.

    Attributes:
        conflict_id: the conflict's id in the configuration.
        alias: the alias as written in the configuration (the topic label for field "topic").
        field: the best field where the conflict was found: "title", "topic", "lead" or "body".
        score: 1.0 for the title or the topic label, 0.8 for the lead, 0.4 to 0.7 for the body
            depending on how many times it names the conflict.
        fields: every field where the conflict was found, best first.
    """

    conflict_id: str
    alias: str
    field: str
    score: float
    fields: tuple[str, ...]


# An article's body is normalized by the matcher and again by `crawler.stories` (shingles):
# the last few texts are kept so that the second time costs nothing.
@functools.lru_cache(maxsize=16)
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
    text = unicodedata.normalize("NFKD", text.translate(_INVISIBLE).casefold())
    text = "".join(c for c in text if not unicodedata.combining(c)).translate(_SEPARATORS)
    return _SPACES.sub(" ", text).strip()


def _phrases_regex(phrases: Iterable[str]) -> tuple[re.Pattern[str] | None, dict[str, str]]:
    """A whole-word alternation of the normalized phrases, longest first, and their originals."""
    originals: dict[str, str] = {}
    for phrase in phrases:
        normal = normalize_text(phrase)
        if not normal:
            LOGGER.warning("ignoring the empty alias or exclusion %r", phrase)
            continue
        originals.setdefault(normal, phrase)
    if not originals:
        return None, originals
    alternation = "|".join(re.escape(p) for p in sorted(originals, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternation})(?!\w)"), originals


class _CompiledConflict:
    """A conflict's aliases, exclusions and topic labels, compiled once."""

    def __init__(self, conflict: Conflict) -> None:
        self.id = conflict.id
        self.aliases, self.alias_names = _phrases_regex(conflict.aliases)
        self.exclude, _ = _phrases_regex(conflict.exclude)
        self.topics = {normal: t for t in conflict.topics if (normal := normalize_text(t))}
        if self.aliases is None and not self.topics:
            LOGGER.warning("conflict %r has no alias and no topic label: it never matches", self.id)

    def find(self, text: str) -> list[str]:
        """The aliases (as configured) found in a normalized text, in order of appearance.

        An occurrence is dropped when it overlaps an excluded phrase without containing it
        whole: exclusion "Soudan du Sud" cancels the "Soudan" inside it, but exclusion
        "Republic of the Congo" does not cancel alias "Democratic Republic of the Congo".
        Occurrences elsewhere in the same text still count.
        """
        if self.aliases is None:
            return []
        excluded = [m.span() for m in self.exclude.finditer(text)] if self.exclude else []
        found = []
        for m in self.aliases.finditer(text):
            start, end = m.span()
            if any(start < x_end and x_start < end and not (start <= x_start and x_end <= end)
                   for x_start, x_end in excluded):
                continue
            found.append(self.alias_names[m.group()])
        return found


class Matcher:
    """Find the tracked conflicts an article is about.

    Compile once, then call `match` on as many articles as needed.

    Example:
        >>> matcher = Matcher([Conflict("sudan", "Soudan", ("Soudan", "Sudan"),
        ...                             exclude=("Soudan du Sud",))])
        >>> [m.conflict_id for m in matcher.match(title="Famine au Soudan", lead=None,
        ...                                      body=None, topic=None)]
        ['sudan']
    """

    def __init__(self, conflicts: Iterable[Conflict]) -> None:
        """Compile every conflict's aliases, exclusions and topic labels.

        Args:
            conflicts: the tracked conflicts, in the order matches are to be reported.
        """
        conflicts = tuple(conflicts)
        self._conflicts = [_CompiledConflict(c) for c in conflicts]
        # Names this configuration: matches computed elsewhere (by a `veille worker`) are
        # used only if they were computed under the same conflicts.
        self.digest = hashlib.sha256(repr(conflicts).encode()).hexdigest()[:16]

    def match(
        self, *, title: str | None, lead: str | None, body: str | None, topic: str | None
    ) -> list[Match]:
        """The conflicts an article is about, one `Match` each, in configuration order.

        Args:
            title: the headline.
            lead: the standfirst (chapeau).
            body: the article text.
            topic: the site's topic label for the article ("Nagorny Karabakh"); it matches a
                conflict when it equals one of the conflict's `topics` in normal form.

        Returns:
            A list of matches, empty when the article names no tracked conflict.
        """
        texts = {name: normalize_text(value or "")
                 for name, value in (("title", title), ("lead", lead), ("body", body))}
        topic_normal = normalize_text(topic or "")
        matches = []
        for conflict in self._conflicts:
            found: dict[str, list[str]] = {}
            for name in FIELDS:
                if name == "topic":
                    if topic_normal in conflict.topics:
                        found[name] = [conflict.topics[topic_normal]]
                elif texts[name]:
                    aliases = conflict.find(texts[name])
                    if aliases:
                        found[name] = aliases
            if not found:
                continue
            best = next(iter(found))
            if best == "body":
                score = min(_BODY_MAX, _BODY_SCORE + _BODY_STEP * (len(found["body"]) - 1))
            else:
                score = _FIELD_SCORES[best]
            matches.append(Match(conflict_id=conflict.id, alias=found[best][0], field=best,
                                 score=round(score, 2), fields=tuple(found)))
        return matches
