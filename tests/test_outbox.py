"""The outbox: matches and alerts written with the article, once per subscription and story."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from conftest import Clock
from test_storage import BODY, article, other_body

from crawler.config.model import Conflict, FeedChannel, Source, Subscription
from crawler.record.outbox import Outbox, sync_alerting
from crawler.record.store import Store

KARABAKH = Conflict("karabakh", "Nagorny Karabakh", ("Haut-Karabakh", "Artsakh"),
                    ("cheval du Karabakh",), ("Nagorny Karabakh",))
SOUDAN = Conflict("soudan", "Soudan", ("Soudan", "Sudan"), ("Soudan du Sud", "South Sudan"))
CONFLICTS = (KARABAKH, SOUDAN)


def subscription(sub_id: str, conflicts=("karabakh",), **options) -> Subscription:
    return Subscription(id=sub_id, name=sub_id, conflicts=conflicts,
                        channel=FeedChannel(path=Path("/dev/null")),
                        **options)


SUBS = (
    subscription("caucase"),
    subscription("afrique", ("soudan",)),
    subscription("tout-fr", ("karabakh", "soudan"), languages=("fr",)),
    subscription("s2-only", ("karabakh",), sources=("s2",)),
)
KARABAKH_TEXT = "Les réfugiés du Haut-Karabakh attendent toujours. " + BODY


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(tmp_path, clock):
    store = Store.open(tmp_path / "veille.db", clock, outbox=Outbox(CONFLICTS, SUBS))
    store.sync_sources([
        Source(id="s1", name="Source one", kind="topic", url="https://news.example/topic/"),
        Source(id="s2", name="Source two", kind="feed", url="https://other.example/rss"),
    ])
    sync_alerting(store.db, CONFLICTS, SUBS, store.now())
    clock.advance(1)
    yield store
    store.close()


def alerts(store):
    return list(store.db.query(
        "SELECT subscription_id, article_id, kind, status, conflicts FROM alerts ORDER BY id"))


def test_a_new_matching_article_queues_one_alert_per_subscription_that_follows_it(store):
    result = store.save_article(article(body=KARABAKH_TEXT, title="Stepanakert, un an après"))
    assert result.outcome == "new" and result.alerts == 1
    assert alerts(store) == [{"subscription_id": "caucase", "article_id": result.article_id,
                              "kind": "new", "status": "pending", "conflicts": '["karabakh"]'}]
    [why] = store.db.query("SELECT * FROM article_conflicts")
    assert (why["conflict_id"], why["alias"], why["field"]) == ("karabakh", "Haut-Karabakh", "body")


def test_language_and_source_filters(store):
    french = store.save_article(article(body=KARABAKH_TEXT, language="fr"))
    from_s2 = store.save_article(article(url="https://other.example/b.html", source_id="s2",
                                         body="Artsakh: " + other_body("truce")))
    got = {(a["subscription_id"], a["article_id"]) for a in alerts(store)}
    assert got == {("caucase", french.article_id), ("tout-fr", french.article_id),
                   ("caucase", from_s2.article_id), ("s2-only", from_s2.article_id)}


def test_no_alert_for_a_recrawl_an_update_another_url_or_a_non_match(store, clock):
    first = store.save_article(article(body=KARABAKH_TEXT))
    assert len(alerts(store)) == 1
    clock.advance(10)
    assert store.save_article(article(body=KARABAKH_TEXT)).outcome == "unchanged"
    same_text = article(url="https://mirror.example/copy.html", body=KARABAKH_TEXT,
                        source_id="s2")
    assert store.save_article(same_text).duplicate_of_other_url
    updated = store.save_article(article(body=KARABAKH_TEXT + " Soudan aussi."))
    assert updated.outcome == "updated" and updated.alerts == 0
    # The update's matches are refreshed (Soudan now named), still without a new alert.
    matched = {r["conflict_id"] for r in store.db.query(
        "SELECT conflict_id FROM article_conflicts WHERE article_id = ?", [first.article_id])}
    assert matched == {"karabakh", "soudan"}
    unrelated = store.save_article(article(url="https://news.example/weather.html",
                                           body=other_body("weather")))
    assert unrelated.outcome == "new" and unrelated.alerts == 0
    assert len(alerts(store)) == 1


def test_a_trap_is_not_an_alert(store):
    horse = store.save_article(article(
        body="Le cheval du Karabakh est une race ancienne. " + BODY, title="Un haras à Bakou"))
    south = store.save_article(article(
        url="https://news.example/juba.html", title="Juba: la saison des pluies",
        body="Au Soudan du Sud, les routes sont coupées. " + other_body("rain")))
    assert horse.alerts == south.alerts == 0 and alerts(store) == []


def test_a_subscription_added_later_gets_no_alert_for_articles_stored_before(store, clock, tmp_path):
    old = store.save_article(article(body=KARABAKH_TEXT))
    late = subscription("late")
    clock.advance(5)
    sync_alerting(store.db, CONFLICTS, (*SUBS, late), store.now())
    store.outbox = Outbox(CONFLICTS, (*SUBS, late))
    report = store.outbox.rematch(store.db, store.now())
    assert report.articles == 1 and report.flagged == 1
    assert [a for a in alerts(store) if a["subscription_id"] == "late"] == []
    clock.advance(5)
    new = store.save_article(article(url="https://news.example/new.html",
                                     body="Artsakh, encore. " + other_body("exil")))
    got = {(a["subscription_id"], a["article_id"]) for a in alerts(store)}
    assert ("late", new.article_id) in got and ("late", old.article_id) not in got


def test_a_subscription_removed_from_the_config_has_its_pending_alerts_cancelled(store, clock):
    store.save_article(article(body=KARABAKH_TEXT))
    clock.advance(1)
    sync_alerting(store.db, CONFLICTS, SUBS[1:], store.now())
    [row] = alerts(store)
    assert row["status"] == "cancelled"
    assert store.db["subscriptions"].get("caucase")["removed_at"] is not None


def test_alerts_are_not_raised_for_a_backlog_older_than_max_age(store):
    store.outbox = Outbox(CONFLICTS, SUBS, max_age_seconds=24 * 3600)
    old = store.save_article(article(body=KARABAKH_TEXT, published_at="2026-11-18T08:00:00Z"))
    recent = store.save_article(article(url="https://news.example/recent.html",
                                        body="Artsakh. " + other_body("route"),
                                        published_at="2026-11-20T06:00:00Z"))
    assert (old.alerts, recent.alerts) == (0, 1)
    # The old one is still matched: a reader sees it under the conflict.
    assert store.db["article_conflicts"].count == 2


def test_the_article_and_its_alerts_are_one_transaction(store, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("killed between the article and its alert")

    monkeypatch.setattr(store.outbox, "_active", crash)
    with pytest.raises(RuntimeError):
        store.save_article(article(body=KARABAKH_TEXT))
    assert store.db["articles"].count == 0
    assert store.db["article_urls"].count == 0 and store.db["article_conflicts"].count == 0
    assert alerts(store) == []


def test_one_alert_per_subscription_per_story_is_enforced_by_the_database(store):
    result = store.save_article(article(body=KARABAKH_TEXT))
    outbox = store.outbox
    with store.db.atomic():
        again = outbox.saved(store.db, result.article_id, "new",
                              replace(article(body=KARABAKH_TEXT)), store.now())
    assert again == [] and len(alerts(store)) == 1


def test_subscriptions_that_ask_for_updates_hear_of_substantial_changes_only(tmp_path, clock):
    subs = (subscription("plain"), subscription("follow", updates=True))
    store = Store.open(tmp_path / "u.db", clock, outbox=Outbox(CONFLICTS, subs,
                                                               update_threshold=0.2))
    store.sync_sources([Source(id="s1", name="Source one", kind="topic",
                               url="https://news.example/topic/")])
    sync_alerting(store.db, CONFLICTS, subs, store.now())
    clock.advance(1)
    first = store.save_article(article(body=KARABAKH_TEXT))
    assert first.alerts == 2  # one "new" alert each
    clock.advance(10)
    small = store.save_article(article(body=KARABAKH_TEXT + " Une phrase de plus."))
    assert small.outcome == "updated" and small.alerts == 0
    clock.advance(10)
    rewritten = KARABAKH_TEXT + " " + other_body("suite")  # about half the text is new
    big = store.save_article(article(body=rewritten))
    assert big.outcome == "updated" and big.alerts == 1
    kinds = [(r["subscription_id"], r["kind"]) for r in alerts(store)]
    assert kinds == [("plain", "new"), ("follow", "new"), ("follow", "update")]
    # The same version seen again raises nothing more.
    clock.advance(10)
    assert store.save_article(article(body=rewritten)).alerts == 0
    store.close()


def test_a_copy_of_a_stored_story_from_another_source_raises_no_second_alert(store):
    first = store.save_article(article(body=KARABAKH_TEXT, title="Stepanakert"))
    copy = store.save_article(article(
        url="https://other.example/wire.html", source_id="s2", title="Another headline",
        body="Par notre correspondant. " + KARABAKH_TEXT + " Lire aussi : nos dossiers."))
    assert copy.outcome == "new" and copy.joined_story
    assert copy.story_id == first.story_id
    # "caucase" already had this story: nothing more. "s2-only" follows only source s2,
    # so the copy from s2 is the first it hears of the story: one alert, its only one.
    assert [(r["subscription_id"], r["article_id"]) for r in alerts(store)] == [
        ("caucase", first.article_id), ("s2-only", copy.article_id)]
    [story] = store.db.query("SELECT articles, sources FROM stories WHERE id = ?",
                             [first.story_id])
    assert story == {"articles": 2, "sources": 2}
