"""Decide which tracked conflicts an article is about, from its title, lead, body and topic label.

Matching is lexical, the way an editor reads a page: names are compared in a normal form that
ignores case, accents and typography, and only whole words count ("Mali" is not in "Somalie").
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from crawler.config.model import Conflict
from crawler.page.normal_form import WORDS, normal_text, normalize_text

LOGGER = logging.getLogger(__name__)

#: Fields searched for aliases, best first; "topic" is compared whole, not searched.
FIELDS = ("title", "topic", "lead", "body")
_FIELD_SCORES = {"title": 1.0, "topic": 1.0, "lead": 0.8}
_BODY_SCORE, _BODY_STEP, _BODY_MAX = 0.4, 0.1, 0.7

_WORD_CHAR = re.compile(r"\w")


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


@dataclass(frozen=True)
class _Phrase:
    """A normalized alias or exclusion, and every conflict that lists it."""

    text: str
    words: frozenset[str]  # every word of it is a whole word of any text it occurs in
    # (conflict index, whether it is an exclusion, the phrase as configured)
    uses: tuple[tuple[int, bool, str], ...]


def _occurrences(text: str, phrase: str) -> list[int]:
    """Where `phrase` occurs in `text` as whole words (overlapping occurrences too)."""
    found = []
    start = text.find(phrase)
    while start >= 0:
        end = start + len(phrase)
        if (start == 0 or not _WORD_CHAR.match(text, start - 1)) \
                and not _WORD_CHAR.match(text, end):
            found.append(start)
        start = text.find(phrase, start + 1)
    return found


class Matcher:
    """Find the tracked conflicts an article is about.

    Compile once, then call `match` on as many articles as needed. Every conflict's aliases
    and exclusions are looked for together, in one pass over each text: its words are read
    once, and only the phrases whose every word is among them are looked for further.

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
        self._ids = [c.id for c in conflicts]
        uses: dict[str, list[tuple[int, bool, str]]] = {}
        self._topics: dict[str, list[tuple[int, str]]] = {}
        for index, conflict in enumerate(conflicts):
            for excluded, phrases in ((False, conflict.aliases), (True, conflict.exclude)):
                seen = set()
                for phrase in phrases:
                    normal = normalize_text(phrase)
                    if not normal:
                        LOGGER.warning("ignoring the empty alias or exclusion %r", phrase)
                    elif normal not in seen:  # the first spelling of a phrase is reported
                        seen.add(normal)
                        uses.setdefault(normal, []).append((index, excluded, phrase))
                if not excluded:
                    has_alias = bool(seen)
            topics = {normal: t for t in conflict.topics if (normal := normalize_text(t))}
            for normal, topic in topics.items():
                self._topics.setdefault(normal, []).append((index, topic))
            if not has_alias and not topics:
                LOGGER.warning("conflict %r has no alias and no topic label: it never matches",
                               conflict.id)
        self._phrases = [_Phrase(normal, frozenset(WORDS.findall(normal)), tuple(found))
                         for normal, found in uses.items()]
        # Names this configuration: matches computed elsewhere (by a `veille worker`) are
        # used only if they were computed under the same conflicts.
        self.digest = hashlib.sha256(repr(conflicts).encode()).hexdigest()[:16]

    def find(self, text: str) -> dict[int, list[str]]:
        """The aliases (as configured) each conflict has in a text, in order of appearance,
        by conflict index; conflicts with none are left out.

        Per conflict, the text is read the way a regular expression of its aliases (longest
        first, whole words) reads it, left to right, one occurrence after another, and so
        are its exclusions. An alias occurrence is dropped when it overlaps an excluded
        phrase without containing it whole: exclusion "Soudan du Sud" cancels the "Soudan"
        inside it, but exclusion "Republic of the Congo" does not cancel alias "Democratic
        Republic of the Congo". Occurrences elsewhere in the same text still count.
        """
        normal = normal_text(text)
        vocabulary = normal.vocabulary
        hits = [(start, -len(phrase.text), phrase)
                for phrase in self._phrases if phrase.words <= vocabulary
                for start in _occurrences(normal.text, phrase.text)]
        if not hits:
            return {}
        hits.sort(key=lambda hit: hit[:2])  # by position, the longest phrase first
        reached: dict[tuple[int, bool], int] = {}  # where each conflict's reading has got to
        spans: dict[tuple[int, bool], list[tuple[int, int, str]]] = {}
        for start, minus_length, phrase in hits:
            for index, excluded, name in phrase.uses:
                if start >= reached.get((index, excluded), 0):
                    reached[index, excluded] = start - minus_length
                    spans.setdefault((index, excluded), []).append(
                        (start, start - minus_length, name))
        found: dict[int, list[str]] = {}
        for (index, excluded), occurrences in spans.items():
            if excluded:
                continue
            cancelled = spans.get((index, True), [])
            names = [name for start, end, name in occurrences
                     if not any(start < x_end and x_start < end
                                and not (start <= x_start and x_end <= end)
                                for x_start, x_end, _ in cancelled)]
            if names:
                found[index] = names
        return found

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
        by_field = {"title": self.find(title or ""), "lead": self.find(lead or ""),
                    "body": self.find(body or ""),
                    "topic": {index: [label] for index, label in self._topics.get(
                        normal_text(topic or "").text, ())}}
        matches = []
        for index in sorted({i for found in by_field.values() for i in found}):
            found = {name: by_field[name][index] for name in FIELDS if index in by_field[name]}
            best = next(iter(found))
            if best == "body":
                score = min(_BODY_MAX, _BODY_SCORE + _BODY_STEP * (len(found["body"]) - 1))
            else:
                score = _FIELD_SCORES[best]
            matches.append(Match(conflict_id=self._ids[index], alias=found[best][0],
                                 field=best, score=round(score, 2), fields=tuple(found)))
        return matches
