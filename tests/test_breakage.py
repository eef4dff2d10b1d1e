"""Source breakage: a site that still answers but stopped yielding articles. Each check
opens one `broken` event (and the source is BROKEN in `veille sources`), once per
incident, and one `recovered` event when a later run passes it.

The sites are test_gaps' NewsSite (invented dispatches served on 127.0.0.1), whose
listing template a test changes between crawls.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

import pytest
from conftest import crawl, rows, veille, write_config
from test_gaps import NewsSite, title

from crawler.clock import stamp
from crawler.config.model import Source
from crawler.crawl.breakage import RunFindings, record_breakage
from crawler.demo import SiteServer
from crawler.record.schema import open_database
from crawler.record.store import Store
from crawler.serve import build_datasette

ALLOW = b"User-agent: *\nAllow: /\n"


class RedesignedSite(NewsSite):
    """A NewsSite whose listing can move its links into new markup (`redesigned`)."""

    redesigned = False

    def listing(self, entries: list[tuple[int, datetime]], next_path: str | None) -> bytes:
        if not self.redesigned:
            return super().listing(entries, next_path)
        items = "".join(f'<li class="story"><a href="{self.path(n)}">{escape(title(n))}</a>'
                        "</li>" for n, _ in entries)
        return (f"<html><head><title>Latest</title></head><body><ul class=\"stream\">{items}"
                "</ul></body></html>").encode()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[SiteServer]:
    root = tmp_path / "site"
    root.mkdir()
    with SiteServer(root) as server:
        server.overrides["/robots.txt"] = (200, {"Content-Type": "text/plain"}, ALLOW)
        yield server


def topic_config(tmp_path: Path, site: SiteServer, links: str = "article.card a") -> Path:
    return write_config(tmp_path / "veille.toml", site.origin,
                        '[[source]]\nid = "front"\nname = "Front Latest"\nkind = "topic"\n'
                        f'url = "{{site}}/latest/"\nlinks = "{links}"\n')


def feed_config(tmp_path: Path, site: SiteServer) -> Path:
    return write_config(tmp_path / "veille.toml", site.origin,
                        '[[source]]\nid = "wire"\nname = "Front Feed"\nkind = "feed"\n'
                        'url = "{site}/feed.xml"\n')


def run(cfg: Path, db: Path, status: int = 0, *args: str) -> dict:
    """`veille crawl` (exit `status`), then its run's row with the command's output."""
    result = crawl(cfg, db, *args)
    assert result.returncode == status, result.stdout + result.stderr
    return {**rows(db, "SELECT * FROM crawl_runs ORDER BY id DESC LIMIT 1")[0],
            "stdout": result.stdout}


def incidents(db: Path) -> list[dict]:
    found = rows(db, "SELECT * FROM source_events WHERE kind IN ('broken', 'recovered') "
                     "ORDER BY id")
    return [{**row, "evidence": json.loads(row["evidence"])} for row in found]


def sources_json(cfg: Path, db: Path) -> dict:
    result = veille("--config", cfg, "--db", db, "sources", "--json")
    assert result.returncode == 0, result.stderr
    return {row["id"]: row for row in json.loads(result.stdout)}


# -- the fixture: a listing whose links move into new markup ------------------------


def test_a_listing_whose_links_move_is_broken_once_then_recovered(site, tmp_path):
    news = RedesignedSite(site)
    cfg, db = topic_config(tmp_path, site), tmp_path / "veille.db"
    news.publish(5)
    first = run(cfg, db)
    assert first["status"] == "ok" and first["new"] == 5
    again = run(cfg, db)  # an unchanged listing (304): nothing to say
    assert again["status"] == "ok" and incidents(db) == []

    news.redesigned = True  # the links move into <li class="story">: the selector misses them
    news.publish(2)
    second = run(cfg, db, status=1)  # a listing without links on page 1 fails, as before
    assert second["status"] == "failed"
    [broken] = incidents(db)
    listing = site.url("/latest/")
    assert (broken["kind"], broken["source_id"], broken["run_id"]) == (
        "broken", "front", second["id"])
    assert broken["since"] == second["started_at"] and broken["until"] is None
    assert broken["message"] == (
        f"Front Latest: listing {listing} yields no article link matching 'article.card a' "
        f"(the links moved? it had some at the poll of {again['started_at']})")
    assert broken["evidence"] == {"check": "no-links", "url": listing,
                                  "selector": "article.card a",
                                  "last_good_poll": again["started_at"]}
    assert f"front  BROKEN: {broken['message']}" in second["stdout"]
    state = sources_json(cfg, db)["front"]
    assert (state["broken"], state["broken_check"], state["broken_since"]) == (
        True, "no-links", second["started_at"])
    assert state["broken_why"] == broken["message"]
    table = veille("--config", cfg, "--db", db, "sources").stdout
    assert "BROKEN" in table and "(no-links): Front Latest: listing" in table

    third = run(cfg, db, status=1)  # still broken: no second event, nothing printed again
    assert len(incidents(db)) == 1 and "BROKEN" not in third["stdout"]

    # The configuration follows the site: the listing yields links again.
    fixed = run(topic_config(tmp_path, site, links="li.story a"), db)
    assert fixed["status"] == "ok" and fixed["new"] == 2
    broken, recovered = incidents(db)
    assert (recovered["kind"], recovered["run_id"]) == ("recovered", fixed["id"])
    assert (recovered["since"], recovered["until"]) == (broken["since"], recovered["at"])
    assert recovered["evidence"] == {"check": "no-links", "broken_event_id": broken["id"],
                                     "url": listing}
    assert recovered["message"] == (f"Front Latest: listing {listing} yields article links "
                                    f"again (broken since {broken['since']})")
    assert f"front  recovered: {recovered['message']}" in fixed["stdout"]
    state = sources_json(cfg, db)["front"]
    assert state["broken"] is False and state["broken_why"] is None
    run(topic_config(tmp_path, site, links="li.story a"), db)
    assert len(incidents(db)) == 2  # a recovery only closes an open incident


def test_a_listing_that_never_had_links_is_a_failure_not_a_breakage(site, tmp_path):
    news = RedesignedSite(site)
    news.redesigned = True
    cfg, db = topic_config(tmp_path, site), tmp_path / "veille.db"
    news.publish(3)
    assert run(cfg, db, status=1)["status"] == "failed"
    assert run(cfg, db, status=1)["status"] == "failed"
    assert incidents(db) == []
    assert sources_json(cfg, db)["front"]["broken"] is False


# -- pages without text ---------------------------------------------------------------------


def test_a_run_whose_articles_have_no_text_is_broken_until_they_have_text(site, tmp_path):
    news = RedesignedSite(site)
    cfg, db = topic_config(tmp_path, site), tmp_path / "veille.db"
    news.publish(4)
    run(cfg, db)
    teasers = news.publish(5)
    for n in teasers:  # the article template changed: the text is no longer in the page
        site.overrides[news.path(n)] = (200, {"Content-Type": "text/html"}, (
            f"<html><head><title>{escape(title(n))}</title></head><body><h1>"
            f"{escape(title(n))}</h1><p>Read it in our app.</p></body></html>").encode())
    second = run(cfg, db, 0, "--quiet")  # stored, with warnings: the run is ok (exit 0)
    assert second["status"] == "ok" and second["new"] == 5
    [broken] = incidents(db)
    assert second["stdout"] == f"front  BROKEN: {broken['message']}\n"  # cron mails it
    assert broken["kind"] == "broken" and broken["evidence"]["check"] == "short-bodies"
    assert (broken["evidence"]["articles_read"], broken["evidence"]["short"]) == (5, 5)
    assert len(broken["evidence"]["urls"]) == 5
    assert broken["message"] == ("Front Latest: 5 of the 5 article pages read have no text "
                                 "(under 40 words): its article template changed?")
    assert sources_json(cfg, db)["front"]["broken_check"] == "short-bodies"

    news.publish(3)  # pages with text again
    third = run(cfg, db)
    broken, recovered = incidents(db)
    assert recovered["kind"] == "recovered" and recovered["run_id"] == third["id"]
    assert recovered["evidence"]["broken_event_id"] == broken["id"]
    assert recovered["message"].startswith("Front Latest: its articles have text again (3 of "
                                           "3 pages read)")


def test_a_first_crawl_of_short_pages_is_no_breakage(site, tmp_path):
    news = RedesignedSite(site)
    cfg, db = topic_config(tmp_path, site), tmp_path / "veille.db"
    for n in news.publish(4):
        site.overrides[news.path(n)] = (200, {"Content-Type": "text/html"},
                                        f"<html><body><h1>{title(n)}</h1></body></html>".encode())
    run(cfg, db)
    assert incidents(db) == []


# -- a feed that turns malformed, robots.txt that starts forbidding -------------------------


def test_a_feed_that_turns_malformed_is_broken_then_recovered(site, tmp_path):
    news = NewsSite(site)
    cfg, db = feed_config(tmp_path, site), tmp_path / "veille.db"
    news.publish(3)
    first = run(cfg, db)
    good = site.overrides["/feed.xml"]
    site.overrides["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"},
                                   b"<html><body>Maintenance</body></html>")
    second = run(cfg, db, status=1)
    [broken] = incidents(db)
    assert broken["evidence"]["check"] == "feed-malformed"
    assert broken["message"].startswith(
        f"Front Feed: feed {site.url('/feed.xml')} turned malformed: not a readable feed")
    assert broken["message"].endswith(f"(it was read at the poll of {first['started_at']})")
    assert broken["run_id"] == second["id"] and "\n" not in broken["message"]
    run(cfg, db, status=1)
    assert len(incidents(db)) == 1
    site.overrides["/feed.xml"] = good
    third = run(cfg, db)
    assert [e["kind"] for e in incidents(db)] == ["broken", "recovered"]
    assert incidents(db)[1]["message"] == (
        f"Front Feed: feed {site.url('/feed.xml')} reads again (broken since "
        f"{second['started_at']})")
    assert third["status"] == "ok"


def test_robots_txt_that_starts_forbidding_the_listing_is_a_breakage(site, tmp_path):
    news = RedesignedSite(site)
    cfg, db = topic_config(tmp_path, site), tmp_path / "veille.db"
    news.publish(3)
    first = run(cfg, db)
    site.overrides["/robots.txt"] = (200, {"Content-Type": "text/plain"},
                                     b"User-agent: *\nDisallow: /latest/\n")
    forget_robots(db)  # as a day later, when the kept robots.txt is read again
    second = run(cfg, db, status=1)
    [broken] = incidents(db)
    assert broken["evidence"]["check"] == "robots-forbidden"
    assert broken["message"] == (f"Front Latest: robots.txt now forbids {site.url('/latest/')} "
                                 f"(it was read at the poll of {first['started_at']})")
    assert broken["run_id"] == second["id"]
    site.overrides["/robots.txt"] = (200, {"Content-Type": "text/plain"}, ALLOW)
    forget_robots(db)
    run(cfg, db)
    assert [(e["kind"], e["evidence"]["check"]) for e in incidents(db)] == [
        ("broken", "robots-forbidden"), ("recovered", "robots-forbidden")]


def forget_robots(db: Path) -> None:
    store = Store(open_database(db))
    with store:
        store.db.execute("DELETE FROM robots_cache")
        store.db.conn.commit()


# -- a source that goes quiet against its own history --------------------------------------


NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def seeded(tmp_path: Path, per_day: list[int], recent: int) -> tuple[Store, Source]:
    """A record whose source `quiet` listed per_day[k] articles on the k-th day before the
    last 24 hours (oldest first), then `recent` articles in those 24 hours."""
    source = Source(id="quiet", name="Quiet Site", kind="feed", url="https://q.example/f")
    store = Store(open_database(tmp_path / "veille.db"), clock=lambda: NOW)
    db = store.db
    db["sources"].insert({"id": "quiet", "name": "Quiet Site", "kind": "feed",
                          "url": source.url})
    window = NOW - timedelta(hours=24)
    times = [window - timedelta(days=len(per_day) - day) + timedelta(minutes=k)
             for day, count in enumerate(per_day) for k in range(count)]
    times += [NOW - timedelta(hours=1, minutes=k) for k in range(recent)]
    with db.conn:
        for k, when in enumerate(times):
            db.execute("INSERT INTO articles (id, canonical_url, source_id, content_hash, "
                       "first_seen_at) VALUES (?, ?, 'quiet', ?, ?)",
                       [k + 1, f"https://q.example/{k}", str(k), stamp(when)])
            db.execute("INSERT INTO article_sources (article_id, source_id, first_listed_at, "
                       "last_listed_at) VALUES (?, 'quiet', ?, ?)",
                       [k + 1, stamp(when), stamp(when)])
    return store, source


def close_run(store: Store, source: Source, status: str = "ok") -> list[tuple[str, str]]:
    run_id = store.start_run(source.id, 1)
    store.finish_run(run_id, status, {}, None)
    return record_breakage(store, run_id, source, RunFindings(status))


def test_a_source_publishing_far_below_its_usual_rate_is_broken(tmp_path):
    store, source = seeded(tmp_path, [30] * 14, recent=2)
    with store:
        [(kind, message)] = close_run(store, source)
        assert kind == "broken"
        assert message == ("Quiet Site: 2 new articles in the last 24 h, usually 30 (7 %, "
                           "fewer than on its quietest days): it went quiet, or its listing "
                           "shows fewer articles?")
        [event] = store.db.execute("SELECT since, evidence FROM source_events").fetchall()
        assert event[0] == stamp(NOW - timedelta(hours=24))
        assert json.loads(event[1]) == {
            "check": "rate-drop", "window_hours": 24, "recent": 2, "usual": 30.0,
            "quietest_day": 30, "history_days": 14, "history_articles": 420, "threshold": 0.2}
        assert close_run(store, source) == []  # still quiet: the incident stays open
        assert close_run(store, source, "failed") == []  # a failed poll decides nothing
        for k in range(10):  # it publishes again
            store.db.execute("INSERT INTO articles (id, canonical_url, source_id, "
                             "content_hash, first_seen_at) VALUES (?, ?, 'quiet', ?, ?)",
                             [1000 + k, f"https://q.example/new/{k}", f"n{k}", stamp(NOW)])
            store.db.execute("INSERT INTO article_sources (article_id, source_id, "
                             "first_listed_at, last_listed_at) VALUES (?, 'quiet', ?, ?)",
                             [1000 + k, stamp(NOW), stamp(NOW)])
        store.db.conn.commit()
        [(kind, message)] = close_run(store, source)
        assert kind == "recovered" and message.startswith(
            "Quiet Site: publishes again (12 new articles in 24 h, usually 30) (broken since ")


@pytest.mark.parametrize(("per_day", "recent"), [
    ([30] * 14, 25),  # a normal day
    ([30, 30, 30, 30, 30, 3, 3] * 2, 3),  # a weekend: its quietest days are as quiet
    ([30] * 5, 0),  # five days of history: too few to know its habits
    ([2] * 14, 0),  # a source of two articles a day: too few to judge a quiet day
])
def test_a_quiet_normal_source_is_no_breakage(tmp_path, per_day, recent):
    store, source = seeded(tmp_path, per_day, recent)
    with store:
        assert close_run(store, source) == []
        assert store.db.execute("SELECT count(*) FROM source_events").fetchone()[0] == 0


def test_several_open_incidents_make_the_source_state(tmp_path):
    from crawler.record import events

    store, source = seeded(tmp_path, [], recent=0)
    with store:
        run_id = store.start_run("quiet", 1)
        db, at = store.db, stamp(NOW)
        first = events.open_incident(db, run_id, "quiet", "short-bodies", "2026-12-01T10:00:00Z",
                                     "Quiet Site: pages without text", {"short": 5}, at)
        assert events.open_incident(db, run_id, "quiet", "short-bodies", at, "again", {},
                                    at) is None  # one incident per source and check
        events.open_incident(db, run_id, "quiet", "rate-drop", "2026-12-01T12:00:00Z",
                             "Quiet Site: quiet", {}, at)
        state = db["sources"].get("quiet")
        assert (state["broken_since"], state["broken_check"], state["broken_message"]) == (
            "2026-12-01T10:00:00Z", "short-bodies, rate-drop",
            "Quiet Site: pages without text; Quiet Site: quiet")
        assert events.close_incident(db, run_id, "quiet", "no-links", "x", {}, at) is None
        closed = events.close_incident(db, run_id, "quiet", "short-bodies", "back", {}, at)
        [row] = db.execute("SELECT since, until, evidence FROM source_events WHERE id = ?",
                           [closed]).fetchall()
        assert (row[0], row[1], json.loads(row[2])) == (
            "2026-12-01T10:00:00Z", at, {"check": "short-bodies", "broken_event_id": first})
        assert db["sources"].get("quiet")["broken_check"] == "rate-drop"
        events.close_incident(db, run_id, "quiet", "rate-drop", "back", {}, at)
        state = db["sources"].get("quiet")
        assert (state["broken_since"], state["broken_check"], state["broken_message"]) == (
            None, None, None)


# -- Datasette ----------------------------------------------------------------------------


def test_datasette_shows_a_broken_source_and_why(tmp_path):
    store, source = seeded(tmp_path, [30] * 14, recent=0)
    with store:
        [(kind, message)] = close_run(store, source)
    ds = build_datasette(tmp_path / "veille.db")

    async def get(path: str):
        return await ds.client.get(path)

    events = asyncio.run(get("/veille/source_events.json?_shape=array")).json()
    assert [(e["kind"], e["message"]) for e in events] == [("broken", message)]
    assert "broken" in asyncio.run(get("/veille/source_events")).text  # the kind's description
    [health] = asyncio.run(get("/veille/source_health.json?_shape=array")).json()
    assert (health["health"], health["broken_check"], health["broken_why"]) == (
        "BROKEN", "rate-drop", message)
    front = asyncio.run(get("/")).text
    assert "BROKEN" in front and escape("Quiet Site: 0 new articles", quote=True) in front
