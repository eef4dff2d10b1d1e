"""Tests for crawler.matching: the labelled cases in tests/fixtures/matching/ and unit tests."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from crawler.config import Conflict
from crawler.matching import Match, Matcher, normalize_text

FIXTURES = Path(__file__).parent / "fixtures" / "matching"
PROJECT = Path(__file__).parent.parent
# Every rule the issue asks the labelled set to cover.
REQUIRED_RULES = {
    "case", "accents", "apostrophe", "dash", "nbsp", "linebreak", "spaces", "entity",
    "softhyphen", "zerowidth", "elision", "boundary", "exclude", "topic", "field", "multi",
    "lexical", "negative",
}
# Reached on the labelled set: 93/94 each, below 1.0 only because of the two `known_miss`
# cases (one false positive, one false negative).
MIN_PRECISION = 0.98
MIN_RECALL = 0.98


def read_conflicts(path: Path) -> list[Conflict]:
    """The [[conflict]] tables of a TOML file, as Conflict values."""
    with open(path, "rb") as fh:
        tables = tomllib.load(fh).get("conflict", [])
    return [
        Conflict(id=t["id"], name=t["name"], aliases=tuple(t["aliases"]),
                 exclude=tuple(t.get("exclude", ())), topics=tuple(t.get("topics", ())))
        for t in tables
    ]


def read_cases() -> list[dict[str, Any]]:
    with open(FIXTURES / "cases.toml", "rb") as fh:
        return list(tomllib.load(fh)["case"])


CONFLICTS = read_conflicts(FIXTURES / "conflicts.toml")
MATCHER = Matcher(CONFLICTS)
CASES = read_cases()


def run(case: dict[str, Any]) -> list[Match]:
    return MATCHER.match(title=case.get("title"), lead=case.get("lead"),
                         body=case.get("body"), topic=case.get("topic"))


def case_param(case: dict[str, Any]) -> Any:
    marks = [pytest.mark.xfail(reason=case.get("why", ""), strict=True)] if case.get(
        "known_miss") else []
    return pytest.param(case, id=case["id"], marks=marks)


@pytest.mark.parametrize("case", [case_param(c) for c in CASES])
def test_case(case: dict[str, Any]) -> None:
    matches = run(case)
    assert [m.conflict_id for m in matches] == case["expected"]
    if "field" in case:
        assert matches[0].field == case["field"]


def test_precision_and_recall() -> None:
    true_pos = false_pos = false_neg = 0
    for case in CASES:
        found = {m.conflict_id for m in run(case)}
        expected = set(case["expected"])
        true_pos += len(found & expected)
        false_pos += len(found - expected)
        false_neg += len(expected - found)
    precision = true_pos / (true_pos + false_pos)
    recall = true_pos / (true_pos + false_neg)
    assert precision >= MIN_PRECISION, (precision, false_pos)
    assert recall >= MIN_RECALL, (recall, false_neg)
    # Only the cases marked known_miss may be wrong.
    assert false_pos + false_neg == sum(1 for c in CASES if c.get("known_miss"))


def test_labelled_set_coverage() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) >= 80
    assert len(set(ids)) == len(ids), "duplicate case id"
    assert {c["lang"] for c in CASES} == {"fr", "en"}
    assert REQUIRED_RULES <= {c["rule"] for c in CASES}
    assert sum(1 for c in CASES if not c["expected"]) >= 20, "too few negatives"
    known = {c.id for c in CONFLICTS}
    for case in CASES:
        assert set(case["expected"]) <= known, case["id"]
        assert not (case.get("known_miss") and "why" not in case), case["id"]


@pytest.mark.parametrize(("raw", "normal"), [
    ("Haut-Karabakh", "haut karabakh"),
    ("HAUT\u2011KARABAKH", "haut karabakh"),
    ("haut  \n karabakh", "haut karabakh"),
    ("Haut – Karabakh", "haut karabakh"),
    ("l’Artsakh", "l artsakh"),
    ("d&#8217;Artsakh", "d artsakh"),
    ("Ma\u02bcrib", "ma rib"),
    ("Tigré", "tigre"),
    ("E\u0301thiopie", "ethiopie"),
    ("Soudan&nbsp;:", "soudan :"),
    ("Soudan\u202f!", "soudan !"),
    ("&amp;Eacute;thiopie", "ethiopie"),
    ("Kara\u00adbakh", "karabakh"),
    ("Myan\u200bmar", "myanmar"),
    ("\ufeffSyrie", "syrie"),
    ("Cœur", "coeur"),
    ("Straße", "strasse"),
    ("  Soudan. Du sud  ", "soudan. du sud"),
    ("", ""),
])
def test_normalize_text(raw: str, normal: str) -> None:
    assert normalize_text(raw) == normal


def test_normalize_text_is_idempotent() -> None:
    for case in CASES:
        for key in ("title", "lead", "body", "topic"):
            once = normalize_text(case.get(key) or "")
            assert normalize_text(once) == once


def test_match_records_alias_as_configured_and_fields_best_first() -> None:
    [match] = MATCHER.match(title="Le retour des déplacés", lead="Au haut karabakh, rien.",
                            body="Karabakh.", topic="Nagorny Karabakh")
    assert match == Match(conflict_id="karabakh", alias="Nagorny Karabakh", field="topic",
                          score=1.0, fields=("topic", "lead", "body"))
    [match] = MATCHER.match(title=None, lead="Au haut karabakh, rien.", body=None, topic=None)
    assert (match.alias, match.field, match.score) == ("Haut-Karabakh", "lead", 0.8)


@pytest.mark.parametrize(("mentions", "score"), [(1, 0.4), (2, 0.5), (3, 0.6), (4, 0.7), (9, 0.7)])
def test_body_score_rises_with_mentions(mentions: int, score: float) -> None:
    body = " ".join(["Les combats continuent au Soudan."] * mentions)
    [match] = MATCHER.match(title="Une semaine de plus", lead=None, body=body, topic=None)
    assert (match.field, match.score) == ("body", score)


def test_excluded_mentions_do_not_count_towards_the_body_score() -> None:
    body = "Le Soudan du Sud et le Soudan du Sud encore. Puis le Soudan."
    [sudan, south] = MATCHER.match(title="", lead=None, body=body, topic=None)
    assert (sudan.conflict_id, sudan.score) == ("sudan", 0.4)
    assert (south.conflict_id, south.score) == ("south-sudan", 0.5)


def test_conflict_without_alias_matches_by_topic_only() -> None:
    matcher = Matcher([Conflict(id="x", name="X", aliases=(), topics=("Région X",))])
    assert matcher.match(title="Région X", lead=None, body=None, topic=None) == []
    [match] = matcher.match(title="", lead=None, body=None, topic="région x")
    assert (match.alias, match.field) == ("Région X", "topic")


def test_shipped_conflicts_compile_and_are_well_formed() -> None:
    for path in (PROJECT / "data" / "veille.toml", PROJECT / "data" / "demo" / "veille.toml"):
        conflicts = read_conflicts(path)
        assert conflicts, path
        ids = [c.id for c in conflicts]
        assert len(set(ids)) == len(ids), path
        for conflict in conflicts:
            assert conflict.aliases, conflict.id
            for alias in conflict.aliases:
                assert normalize_text(alias), (conflict.id, alias)
        Matcher(conflicts)
    assert len(read_conflicts(PROJECT / "data" / "veille.toml")) >= 12


# The demo's own topic labels name the conflict an article belongs to; the gazette has
# none that do, so its pieces are matched by their text.
DEMO_GAZETTE = {
    "gazette-4405": [], "gazette-4407": [], "gazette-4411": ["ukraine"],
    "gazette-4414": ["sudan"], "gazette-4415": ["sudan"], "gazette-4418": ["karabakh"],
}


def test_demo_conflicts_match_the_demo_articles() -> None:
    conflicts = read_conflicts(PROJECT / "data" / "demo" / "veille.toml")
    by_label = {topic: c.id for c in conflicts for topic in c.topics}
    matcher = Matcher(conflicts)
    with open(PROJECT / "data" / "demo" / "articles.toml", "rb") as fh:
        demo = tomllib.load(fh)
    for article in demo["article"]:
        body = article.get("body") or demo["wire"][article["wire"]]["body"]
        if "cut_after" in article:
            body = "\n\n".join(body.split("\n\n")[: article["cut_after"]])
        found = [m.conflict_id for m in matcher.match(
            title=article["title"], lead=article.get("lead"), body=body, topic=article["topic"])]
        label = by_label.get(article["topic"])
        expected = DEMO_GAZETTE[article["id"]] if article["outlet"] == "gazette" else [label]
        assert found == expected, article["id"]
