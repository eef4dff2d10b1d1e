"""Alerts end to end: `veille crawl --send` on the demo site, to a real webhook receiver
and an Atom file; a re-crawl raises nothing; edition 2 raises only the new story's alert."""

from __future__ import annotations

import feedparser
from conftest import rows, veille
from receivers import WEBHOOK_SECRET

from crawler.demo import render_demo_config

pytest_plugins = ["receivers"]

ENV = {"VEILLE_DEMO_WEBHOOK_SECRET": WEBHOOK_SECRET}
NEW_STORY = "/levant/2026/11/23/karabakh-familles-deplacees-visite-cimetiere-stepanakert.html"


def test_crawl_send_alerts_each_desk_once_per_story(demo_site, webhook_receiver, tmp_path):
    origin = webhook_receiver.url.rsplit("/", 1)[0]
    config = render_demo_config(demo_site.origin, tmp_path / "veille.toml", origin)
    db = tmp_path / "veille.db"

    first = veille("--config", config, "--db", db, "crawl", "--no-progress", "--send", env=ENV)
    assert first.returncode == 0, first.stderr
    # One alert per story: the demo's wire copies (the same dispatch on two sites) are one.
    expected = rows(db, "SELECT DISTINCT a.story_id FROM article_conflicts ac JOIN articles a "
                        "ON a.id = ac.article_id WHERE ac.conflict_id IN ('sudan', 'sahel')")
    articles = rows(db, "SELECT DISTINCT article_id FROM article_conflicts "
                        "WHERE conflict_id IN ('sudan', 'sahel')")
    assert (len(expected), len(articles)) == (11, 13)
    received = webhook_receiver.wait_for(len(expected))
    assert all(r.signature_valid for r in received)
    assert all(r.path == "/desk-afrique" for r in received)
    assert len(webhook_receiver.unique_ids()) == len(expected)
    urls = {r.json["alert"]["url"] for r in received}
    assert urls <= {r["canonical_url"] for r in rows(
        db, "SELECT canonical_url FROM articles WHERE id IN (SELECT article_id FROM "
            "article_conflicts WHERE conflict_id IN ('sudan', 'sahel'))")}
    # A wire story's alert names the other site that carried it.
    copied = [r.json["alert"] for r in received if r.json["alert"]["other_copies"]]
    assert copied and all(c["other_copies"][0]["title"] for c in copied)
    feed = feedparser.parse((tmp_path / "feeds" / "desk-caucase.xml").read_bytes())
    karabakh = rows(db, "SELECT count(DISTINCT a.story_id) AS n FROM article_conflicts ac "
                        "JOIN articles a ON a.id = ac.article_id WHERE conflict_id = 'karabakh'")
    assert not feed.bozo and len(feed.entries) == karabakh[0]["n"] == 10
    status = {r["subscription_id"]: r for r in rows(
        db, "SELECT subscription_id, group_concat(DISTINCT status) AS statuses, count(*) AS n "
            "FROM alerts GROUP BY subscription_id")}
    assert status["desk-afrique"]["statuses"] == "sent"
    assert status["desk-caucase"]["statuses"] == "sent"
    # The hourly digest is not due yet: its alerts wait, they are not lost.
    assert status["ukraine-digest"]["statuses"] == "pending"
    assert "alerts queued" in first.stdout and "13 sent" not in first.stderr

    again = veille("--config", config, "--db", db, "crawl", "--no-progress", "--send", env=ENV)
    assert again.returncode == 0, again.stderr
    assert "0 alerts queued" in again.stdout
    assert len(webhook_receiver.requests) == len(expected)

    demo_site.edition = 2
    later = veille("--config", config, "--db", db, "crawl", "--no-progress", "--send", env=ENV)
    assert later.returncode == 0, later.stderr
    assert "1 alert queued" in later.stdout
    [new] = rows(db, "SELECT al.subscription_id, a.canonical_url FROM alerts al JOIN articles a "
                     "ON a.id = al.article_id WHERE al.id = (SELECT max(id) FROM alerts)")
    assert new == {"subscription_id": "desk-caucase",
                   "canonical_url": demo_site.url(NEW_STORY)}
    feed = feedparser.parse((tmp_path / "feeds" / "desk-caucase.xml").read_bytes())
    assert len(feed.entries) == 11 and feed.entries[0].link == demo_site.url(NEW_STORY)
    # The updated article (same URL, new text) raised nothing.
    assert len(webhook_receiver.requests) == len(expected)

    conflicts = veille("--config", config, "--db", db, "conflicts")
    assert conflicts.returncode == 0
    assert any(line.startswith("karabakh") and " 12 " in line
               for line in conflicts.stdout.splitlines()), conflicts.stdout


def test_rematch_after_a_config_change_raises_no_alert(demo_site, tmp_path):
    config = render_demo_config(demo_site.origin, tmp_path / "veille.toml")
    db = tmp_path / "veille.db"
    assert veille("--config", config, "--db", db, "crawl", "--no-progress").returncode == 0
    before = rows(db, "SELECT count(*) AS n FROM alerts")[0]["n"]
    text = config.read_text(encoding="utf-8")
    config.write_text(text + '\n[[conflict]]\nid = "georgie"\nname = "Géorgie"\n'
                      'aliases = ["Géorgie", "Tbilissi"]\n\n[[subscription]]\nid = "late"\n'
                      'conflicts = ["georgie"]\n[subscription.feed]\n', encoding="utf-8")
    result = veille("--config", config, "--db", db, "rematch")
    assert result.returncode == 0, result.stderr
    assert "no alert sent" in result.stdout
    georgia = rows(db, "SELECT a.canonical_url FROM article_conflicts ac JOIN articles a "
                       "ON a.id = ac.article_id WHERE ac.conflict_id = 'georgie'")
    assert any("georgie-prix-du-pain" in r["canonical_url"] for r in georgia)
    assert rows(db, "SELECT count(*) AS n FROM alerts")[0]["n"] == before
    # And a crawl with the new subscription does not alert it for those old articles.
    assert veille("--config", config, "--db", db, "crawl", "--no-progress").returncode == 0
    assert rows(db, "SELECT count(*) AS n FROM alerts WHERE subscription_id = 'late'") == [
        {"n": 0}]


def test_crawl_send_exits_1_when_an_alert_is_given_up(demo_site, webhook_receiver, tmp_path):
    """`veille crawl --send` exits as `veille alerts send` does: 1 when a delivery was
    refused for good (a 400 from the webhook), so cron reports it."""
    origin = webhook_receiver.url.rsplit("/", 1)[0]
    config = render_demo_config(demo_site.origin, tmp_path / "veille.toml", origin)
    webhook_receiver.fail_with(400, "unknown channel")
    result = veille("--config", config, "--db", tmp_path / "veille.db", "crawl",
                    "--no-progress", "--send", env=ENV)
    assert result.returncode == 1, result.stderr
    assert "failed" in result.stdout and "Traceback" not in result.stderr
    assert rows(tmp_path / "veille.db", "SELECT count(*) AS n FROM alerts "
                                        "WHERE status = 'failed'")[0]["n"] > 0
