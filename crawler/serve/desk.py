"""What the desk's pages show, read from the record: the front page (latest articles per
conflict, sources and their health) and an article's page (conflicts, copies, versions)."""

from __future__ import annotations

import difflib
import json
import logging
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from crawler.clock import stamp_now

LOGGER = logging.getLogger(__name__)

LATEST_PER_CONFLICT = 5
# Unchanged words kept on each side of a change in a version's diff.
DIFF_CONTEXT = 8

FRONT_CONFLICTS = """
select c.id, c.name,
  (select count(*) from article_conflicts ac where ac.conflict_id = c.id) as articles
from conflicts c where c.removed_at is null order by c.name
"""
# The newest articles of each conflict (window over its matches).
FRONT_LATEST = """
select * from (
  select ac.conflict_id, a.id, a.title, s.name as source, ac.alias,
    coalesce(a.published_at, a.first_seen_at) as published,
    substr(coalesce(a.published_at, a.first_seen_at), 1, 10) as day,
    row_number() over (partition by ac.conflict_id
      order by coalesce(a.published_at, a.first_seen_at) desc, a.id desc) as n
  from article_conflicts ac
    join articles a on a.id = ac.article_id
    join sources s on s.id = a.source_id
) where n <= :per_conflict
order by conflict_id, n
"""
FRONT_SOURCES = """
select s.id, s.name, s.kind, s.last_success_at, s.failure_count, s.last_error,
  s.broken_since, s.broken_check, s.broken_message,
  (select r.status from crawl_runs r where r.source_id = s.id
   order by r.started_at desc, r.id desc limit 1) as last_status,
  (select count(*) from article_sources p where p.source_id = s.id) as articles,
  g.at as last_gap_at, g.count as last_gap_count, g.message as last_gap
from sources s left join source_events g on g.id = (
  select e.id from source_events e where e.source_id = s.id and e.kind = 'gap'
  order by e.at desc, e.id desc limit 1)
order by s.broken_since is null, s.failure_count desc, s.name
"""
FRONT_LATEST_DAY = """
select max(substr(coalesce(published_at, first_seen_at), 1, 10)) as day from articles
"""

ARTICLE = """
select a.*, s.name as source_name, s.url as source_url
from articles a join sources s on s.id = a.source_id where a.id = :id
"""
ARTICLE_CONFLICTS = """
select c.id, c.name, ac.alias, ac.field, ac.fields, ac.score
from article_conflicts ac join conflicts c on c.id = ac.conflict_id
where ac.article_id = :id and c.removed_at is null
order by ac.score desc, c.name
"""
ARTICLE_COPIES = """
select a.id, a.title, a.canonical_url, s.name as source,
  coalesce(a.published_at, a.first_seen_at) as published
from articles a join sources s on s.id = a.source_id
where a.story_id = :story and a.id != :id
order by a.first_seen_at, a.id
"""
ARTICLE_LISTED_BY = """
select s.name from article_sources p join sources s on s.id = p.source_id
where p.article_id = :id order by s.name
"""
ARTICLE_MERGES = """
select m.version, m.reason, m.url, m.evidence, m.at, s.name as source
from article_merges m left join sources s on s.id = m.source_id
where m.article_id = :id order by m.at, m.id
"""
# What each reason of `article_merges` means, as the article's page says it.
MERGE_REASONS = {
    "canonical": "its rel=canonical names this article",
    "amp": "an AMP variant of this article",
    "guid": "the feed gave it this article's GUID",
    "title": "the same headline and nearly the same text, from the same source",
    "text": "the very same text",
}
ARTICLE_VERSIONS = """
select version, title, lead, body, fetched_at, superseded_at, words_added, words_removed,
  superseded_by
from article_versions where article_id = :id order by version
"""


async def front_page(db: Any) -> dict[str, Any]:
    """The front page's conflicts (each with its newest articles), sources and latest day."""
    conflicts = [dict(r) for r in (await db.execute(FRONT_CONFLICTS)).rows]
    latest: dict[str, list[dict[str, Any]]] = {}
    for row in (await db.execute(FRONT_LATEST, {"per_conflict": LATEST_PER_CONFLICT})).rows:
        latest.setdefault(row["conflict_id"], []).append(dict(row))
    for conflict in conflicts:
        conflict["latest"] = latest.get(conflict["id"], [])
    sources = [dict(r) for r in (await db.execute(FRONT_SOURCES)).rows]
    day = (await db.execute(FRONT_LATEST_DAY)).first()
    latest = day["day"] if day else None
    # Days are UTC, as the lists' `day` column (and its facet) has them.
    return {"conflicts": conflicts, "sources": sources, "latest_day": latest,
            "latest_is_today": latest == stamp_now()[:10]}


@dataclass(frozen=True)
class Version:
    """An earlier text of an article, and what changed in the next one."""

    version: int
    title: str | None
    fetched_at: str | None
    superseded_at: str | None
    words_added: int | None
    words_removed: int | None
    reextract: bool
    diff: Markup


def _text(row: dict[str, Any]) -> str:
    return "\n\n".join(part for part in (row.get("title"), row.get("lead"), row.get("body"))
                       if part)


def word_diff(before: str, after: str, context: int = DIFF_CONTEXT) -> Markup:
    """The words removed (<del>) and added (<ins>) from `before` to `after`, with a few
    unchanged words around each change and "…" for the rest."""
    old, new = before.split(), after.split()
    parts: list[Markup] = []
    opcodes = difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes()
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            words = old[i1:i2]
            first, last = index == 0, index == len(opcodes) - 1
            if len(words) > 2 * context or (first or last) and len(words) > context:
                head = [] if first else words[:context]
                tail = [] if last else words[-context:]
                parts.append(Markup(escape(" ".join(head))))
                parts.append(Markup("<span class=\"elided\">…</span>"))
                parts.append(Markup(escape(" ".join(tail))))
            else:
                parts.append(Markup(escape(" ".join(words))))
            continue
        if i2 > i1:
            parts.append(Markup("<del>{}</del>").format(" ".join(old[i1:i2])))
        if j2 > j1:
            parts.append(Markup("<ins>{}</ins>").format(" ".join(new[j1:j2])))
    return Markup(" ").join(p for p in parts if p)


async def article_page(db: Any, article_id: int) -> dict[str, Any] | None:
    """Everything the article's page shows, or None when there is no such article."""
    row = (await db.execute(ARTICLE, {"id": article_id})).first()
    if row is None:
        return None
    article = dict(row)
    try:
        authors = json.loads(article.get("authors") or "[]")
    except ValueError:
        authors = []
    body = article.get("body") or ""
    paragraphs = [p.strip() for p in body.split("\n\n") if p.strip()]
    conflicts = []
    for r in (await db.execute(ARTICLE_CONFLICTS, {"id": article_id})).rows:
        conflict = dict(r)
        try:
            conflict["fields"] = json.loads(conflict["fields"] or "[]")
        except ValueError:
            conflict["fields"] = [conflict["field"]]
        conflicts.append(conflict)
    copies = [dict(r) for r in (await db.execute(
        ARTICLE_COPIES, {"story": article.get("story_id"), "id": article_id})).rows]
    listed_by = [r["name"] for r in (await db.execute(ARTICLE_LISTED_BY,
                                                      {"id": article_id})).rows]
    merges = [{**dict(r), "meaning": MERGE_REASONS.get(r["reason"], r["reason"])}
              for r in (await db.execute(ARTICLE_MERGES, {"id": article_id})).rows]
    earlier = [dict(r) for r in (await db.execute(ARTICLE_VERSIONS, {"id": article_id})).rows]
    versions = []
    for index, old in enumerate(earlier):
        new = earlier[index + 1] if index + 1 < len(earlier) else article
        versions.append(Version(
            version=old["version"], title=old["title"], fetched_at=old["fetched_at"],
            superseded_at=old["superseded_at"], words_added=old["words_added"],
            words_removed=old["words_removed"], reextract=old["superseded_by"] == "reextract",
            diff=word_diff(_text(old), _text(new))))
    return {
        "article": article, "authors": [str(a) for a in authors if a],
        "paragraphs": paragraphs, "conflicts": conflicts, "copies": copies,
        "listed_by": listed_by, "versions": list(reversed(versions)), "merges": merges,
    }
