"""Source breakage: a source that still answers but stopped yielding articles (its listing's
links moved, its pages lost their text, it went quiet, its feed or robots.txt turned).

Five checks run when a run closes (`record_breakage`, from `crawler.crawl.runs`), on what
the run found and the source's own history. A check that fails opens an incident (one
`source_events` row of kind `broken`, with its evidence), once per source and check; the
same check passing on a later run closes it (one row of kind `recovered`). The source's
`broken_*` columns say what is open now.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from crawler.clock import parse_time, stamp
from crawler.config.model import Source
from crawler.crawl.pipelines import (
    ARTICLE_PAGES,
    FATAL_KIND,
    FATAL_URL,
    MIN_ARTICLE_WORDS,
    NO_TEXT,
    NOT_STORED,
    SHORT_BODIES,
)
from crawler.record import events
from crawler.record.store import Store
from crawler.wording import plural

LOGGER = logging.getLogger(__name__)

# short-bodies: a run that read at least this many article pages, this share of them
# under MIN_ARTICLE_WORDS words.
SHORT_MIN_PAGES = 3
SHORT_SHARE = 0.8
# rate-drop: the articles a source listed for the first time over the last RATE_WINDOW,
# against its days before that (up to RATE_HISTORY of them, at least RATE_MIN_DAYS, with
# RATE_MIN_ARTICLES articles at least): broken under RATE_SHARE of its usual rate and
# under its quietest usual day (the second quietest: one day Veille did not poll is no
# habit), so that a weekend is no breakage.
RATE_WINDOW = timedelta(hours=24)
RATE_HISTORY = timedelta(days=28)
RATE_MIN_DAYS = 7
RATE_MIN_ARTICLES = 35
RATE_SHARE = 0.2
# Runs that read the source's start URL: a recovery is seen on one of them.
READ = ("ok", "partial")


@dataclass(frozen=True)
class RunFindings:
    """What a closing run found, from its stats: its status, its fatal failure (kind,
    URL, message) if any, and the article pages it read and how many had no text."""

    status: str
    fatal_kind: str | None = None
    fatal_url: str | None = None
    fatal_message: str | None = None
    article_pages: int = 0
    short_bodies: int = 0

    @classmethod
    def from_stats(cls, stats: Any, status: str) -> RunFindings:
        return cls(status, stats.get_value(FATAL_KIND), stats.get_value(FATAL_URL),
                   stats.get_value("veille/fatal"), int(stats.get_value(ARTICLE_PAGES, 0)),
                   int(stats.get_value(SHORT_BODIES, 0)))

    @classmethod
    def from_record(cls, store: Store, run_id: int, status: str) -> RunFindings:
        """The same findings read back from the record, for a run whose spider ran
        elsewhere (`veille ingest` closing a `veille worker`'s run): its fatal failure
        is the error row that gave the run its message; the pages it read, the articles
        it saved and the pages it left unstored for lack of text."""
        found = events.run_findings(store.db, run_id, NO_TEXT, NOT_STORED)
        return cls(status, *found)


@dataclass(frozen=True)
class Verdict:
    """A check's outcome on one run: broken (with why, and since when if not the run's
    start), or passed (`broken` False)."""

    broken: bool
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    since: str | None = None


@dataclass(frozen=True)
class Poll:
    """A closing run of a source, as the checks read it."""

    store: Store
    source: Source
    run_id: int
    started_at: str
    findings: RunFindings
    previous: str | None  # the source's last ok or partial run before this one, its start

    @property
    def name(self) -> str:
        return self.source.name or self.source.id


Check = Callable[[Poll], Verdict | None]


def no_links(poll: Poll) -> Verdict | None:
    """A topic page whose first page, read, shows no article link (its `links` selector,
    or the link finder, finds none) after earlier polls that had some."""
    found = poll.findings
    if poll.source.kind != "topic":
        return None
    if found.status == "failed" and found.fatal_kind == "no-links":
        if poll.previous is None:
            return None  # never had links: a configuration to fix, failed already
        matching = f" matching {poll.source.links!r}" if poll.source.links else ""
        url = found.fatal_url or poll.source.url
        return Verdict(True, f"{poll.name}: listing {url} yields no article link{matching} "
                       f"(the links moved? it had some at the poll of {poll.previous})",
                       {"url": url, "selector": poll.source.links,
                        "last_good_poll": poll.previous})
    if found.status in READ:
        return Verdict(False, f"{poll.name}: listing {poll.source.url} yields article "
                       "links again", {"url": poll.source.url})
    return None


def short_bodies(poll: Poll) -> Verdict | None:
    """A run whose article pages (SHORT_MIN_PAGES or more) are nearly all (SHORT_SHARE)
    without text, from a source whose pages had text before."""
    found = poll.findings
    pages, short = found.article_pages, found.short_bodies
    if pages == 0:
        return None
    evidence: dict[str, Any] = {"articles_read": pages, "short": short,
                                "min_words": MIN_ARTICLE_WORDS}
    if short / pages < SHORT_SHARE:
        return Verdict(False, f"{poll.name}: its articles have text again ({pages - short} "
                       f"of {plural(pages, 'page')} read)", evidence)
    if pages < SHORT_MIN_PAGES or not had_text(poll):
        return None
    evidence["urls"] = [url for (url,) in poll.store.db.execute(
        "SELECT url FROM fetch_errors WHERE run_id = ? AND kind = ? ORDER BY id LIMIT 5",
        [poll.run_id, NO_TEXT])]
    return Verdict(True, f"{poll.name}: {short} of the {plural(pages, 'article page')} "
                   f"read have no text (under {MIN_ARTICLE_WORDS} words): its article "
                   "template changed?", evidence)


def had_text(poll: Poll) -> bool:
    """Whether the source stored an article with text before this run."""
    return poll.store.db.execute(
        "SELECT 1 FROM articles WHERE source_id = ? AND word_count >= ? "
        "AND first_seen_at < ? LIMIT 1",
        [poll.source.id, MIN_ARTICLE_WORDS, poll.started_at]).fetchone() is not None


def rate_drop(poll: Poll) -> Verdict | None:
    """A source that listed far fewer new articles over the last RATE_WINDOW than its
    own history says it does (see RATE_SHARE), judged on runs that read it."""
    if poll.findings.status not in READ:
        return None
    now = parse_time(poll.started_at)
    assert now is not None
    window = now - RATE_WINDOW
    db = poll.store.db
    first = parse_time(db.execute(
        "SELECT min(first_listed_at) FROM article_sources WHERE source_id = ?",
        [poll.source.id]).fetchone()[0])
    if first is None:
        return None
    begin = max(first, window - RATE_HISTORY)
    days = int((window - begin) / timedelta(days=1))  # whole days of history
    if days < RATE_MIN_DAYS:
        return None
    begin = window - timedelta(days=days)
    counts = [0] * days
    for (at,) in db.execute(
            "SELECT first_listed_at FROM article_sources WHERE source_id = ? "
            "AND first_listed_at >= ? AND first_listed_at < ?",
            [poll.source.id, stamp(begin), stamp(window)]):
        moment = parse_time(at)
        assert moment is not None
        counts[min(days - 1, int((moment - begin) / timedelta(days=1)))] += 1
    total = sum(counts)
    if total < RATE_MIN_ARTICLES:
        return None
    usual = total / days * (RATE_WINDOW / timedelta(days=1))
    quietest = sorted(counts)[1]
    [recent] = db.execute(
        "SELECT count(*) FROM article_sources WHERE source_id = ? AND first_listed_at >= ? "
        "AND first_listed_at <= ?", [poll.source.id, stamp(window), poll.started_at]
    ).fetchone()
    hours = int(RATE_WINDOW / timedelta(hours=1))
    evidence = {"window_hours": hours, "recent": recent, "usual": round(usual, 1),
                "quietest_day": quietest, "history_days": days, "history_articles": total,
                "threshold": RATE_SHARE}
    if recent >= RATE_SHARE * usual or recent >= quietest:
        return Verdict(False, f"{poll.name}: publishes again ({plural(recent, 'new article')}"
                       f" in {hours} h, usually {usual:.0f})", evidence)
    return Verdict(True, f"{poll.name}: {plural(recent, 'new article')} in the last {hours} h, "
                   f"usually {usual:.0f} ({100 * recent / usual:.0f} %, fewer than on its "
                   f"quietest days): it went quiet, or its listing shows fewer articles?",
                   evidence, since=stamp(window))


def feed_malformed(poll: Poll) -> Verdict | None:
    """A feed that no longer reads as one (the run's fatal `feed-malformed`), after
    earlier polls read it."""
    if poll.source.kind != "feed":
        return None
    found = poll.findings
    return _fatal_turn(poll, found.fatal_kind == "feed-malformed",
                       "feed {url} turned malformed: {problem}", "feed {url} reads again")


def robots_forbidden(poll: Poll) -> Verdict | None:
    """robots.txt that forbids the source's start URL (fetched at earlier polls)."""
    found = poll.findings
    return _fatal_turn(poll, found.fatal_kind == "ignored"
                       and "robots.txt" in (found.fatal_message or ""),
                       "robots.txt now forbids {url}", "robots.txt allows {url} again")


def _fatal_turn(poll: Poll, fatal: bool, broken: str, recovered: str) -> Verdict | None:
    """A check on the run's fatal failure (`fatal`: it is this check's), judged only
    after earlier polls read the source: broken, worded by `broken` ({url}, {problem});
    recovered, worded by `recovered`, when the run read the source again."""
    found = poll.findings
    if found.status == "failed" and fatal:
        if poll.previous is None:
            return None
        url = found.fatal_url or poll.source.url
        text = broken.format(url=url, problem=found.fatal_message)
        return Verdict(True, f"{poll.name}: {text} (it was read at the poll of "
                             f"{poll.previous})",
                       {"url": url, "problem": found.fatal_message,
                        "last_good_poll": poll.previous})
    if found.status in READ:
        return Verdict(False, f"{poll.name}: {recovered.format(url=poll.source.url)}",
                       {"url": poll.source.url})
    return None


CHECKS: dict[str, Check] = {
    "no-links": no_links, "short-bodies": short_bodies, "rate-drop": rate_drop,
    "feed-malformed": feed_malformed, "robots-forbidden": robots_forbidden,
}


def record_breakage(store: Store, run_id: int, source: Source, findings: RunFindings
                    ) -> list[tuple[str, str]]:
    """Run every check on the closing run; open an incident for each that fails (unless
    open already), close the open ones that pass. The events written, as (kind, message)."""
    started_at, = store.db.execute("SELECT started_at FROM crawl_runs WHERE id = ?",
                                   [run_id]).fetchone()
    poll = Poll(store, source, run_id, started_at, findings,
                events.previous_poll(store.db, source.id, run_id))
    open_now = events.open_incidents(store.db, source.id)
    written = []
    for check, judge in CHECKS.items():
        verdict = judge(poll)
        # Open an incident once; close only an open one.
        if verdict is None or verdict.broken == (check in open_now):
            continue
        at = store.now()
        if verdict.broken:
            if events.open_incident(store.db, run_id, source.id, check,
                                    verdict.since or started_at, verdict.message,
                                    verdict.evidence, at) is not None:
                LOGGER.warning("%s: BROKEN (%s): %s", source.id, check, verdict.message)
                written.append((events.BROKEN, verdict.message))
        else:
            since = open_now[check].since
            message = f"{verdict.message} (broken since {since})"
            if events.close_incident(store.db, run_id, source.id, check, message,
                                     verdict.evidence, at) is not None:
                LOGGER.warning("%s: recovered (%s): %s", source.id, check, message)
                written.append((events.RECOVERED, message))
    return written
