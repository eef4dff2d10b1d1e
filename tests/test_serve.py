"""`veille serve`: Datasette on a database filled by crawls of the demo site.

Pages are read with Datasette's in-process client (no port), except for the one test that
runs the `veille serve` command itself on port 0.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner
from conftest import PROJECT, rows, serving, veille
from demo_record import demo_record
from receivers import SmtpSink, WebhookReceiver

from crawler.cli import cli
from crawler.demo import render_demo_config
from crawler.record.schema import open_database
from crawler.serve import DATABASE_NAME, SETTINGS, build_datasette, load_metadata

NEW_ARTICLE = "/levant/2026/11/23/karabakh-familles-deplacees-visite-cimetiere-stepanakert.html"
UPDATED_ARTICLE = "/levant/2026/11/23/armenie-traite-paix-azerbaidjan-feu-vert-commission.html"
HIDDEN = {"_sqlite_migrations", "article_fingerprints", "story_bands", "http_validators",
          "robots_cache", "article_pages", "pending_listings", "fetch_claims"}
QUERIES = {"search", "latest_by_conflict", "conflict_feed", "stories_with_sources",
           "alerts_pending_failed", "source_health", "crawl_runs_last_day", "articles_changed"}


def get(ds, path: str, method: str = "get", **kwargs):
    """One request through Datasette's in-process client."""
    async def request():
        return await getattr(ds.client, method)(path, **kwargs)
    return asyncio.run(request())


def query(ds, name: str, **params: str) -> list[dict]:
    """The rows of a canned query, as JSON objects."""
    args = "&".join(f"{k}={v}" for k, v in params.items())
    response = get(ds, f"/veille/{name}.json?_shape=array&_size=max&{args}")
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo site crawled twice (the second time a few hours later, with one new and one
    updated article and a feed gone), then its alerts sent: the database to browse."""
    return demo_record(tmp_path_factory)


@pytest.fixture
def ds(crawled: Path):
    return build_datasette(crawled)


# -- what a reader sees ---------------------------------------------------------------------


def test_every_visible_table_and_column_is_described(crawled, ds):
    meta = load_metadata()
    tables = meta["databases"][DATABASE_NAME]["tables"]
    page = get(ds, "/veille.json").json()
    visible = [t for t in page["tables"] if not t["hidden"]]
    assert {t["name"] for t in page["tables"] if t["hidden"]} >= HIDDEN
    assert [v["name"] for v in page["views"]] == ["articles_with_conflicts"]
    for table in visible + page["views"]:
        name = table["name"]
        described = tables.get(name, {})
        assert described.get("title") and described.get("description"), name
        columns = get(ds, f"/veille/{name}.json?_size=1").json()["columns"]
        missing = [c for c in columns if not described.get("columns", {}).get(c)]
        assert not missing, f"{name}: no description for {missing}"
    # The descriptions reach the page.
    html = get(ds, "/veille/articles").text
    assert "When the site says it was published (UTC)" in html
    assert meta["databases"][DATABASE_NAME]["source"]


def test_hidden_tables_are_hidden(ds):
    page = get(ds, "/veille.json").json()
    hidden = {t["name"] for t in page["tables"] if t["hidden"]}
    assert HIDDEN <= hidden
    assert {"articles_fts", "articles_fts_data", "articles_fts_idx"} <= hidden
    assert not hidden & {"articles", "sources", "alerts", "stories", "conflicts"}
    index = get(ds, "/").text
    assert "story_bands" not in index and "http_validators" not in index


def test_articles_newest_first_with_facets(crawled, ds):
    page = get(ds, "/veille/articles_with_conflicts.json?_size=max").json()
    published = [r[1] for r in page["rows"] if r[1]]
    assert published == sorted(published, reverse=True)
    facets = page["facet_results"]
    assert set(facets) == {"sources", "topics", "conflicts", "language", "day"}
    assert facets["conflicts"]["type"] == "array" and facets["sources"]["type"] == "array"
    # An article counts for every source that lists it, whichever fetched it.
    per_source = {f["value"]: f["count"] for f in facets["sources"]["results"]}
    assert per_source == {r["name"]: r["n"] for r in rows(crawled, (
        "SELECT s.name, count(*) AS n FROM article_sources p "
        "JOIN sources s ON s.id = p.source_id GROUP BY s.name"))}
    fetched = {r["name"]: r["n"] for r in rows(crawled, (
        "SELECT s.name, count(*) AS n FROM articles a "
        "JOIN sources s ON s.id = a.source_id GROUP BY s.name"))}
    assert per_source["Le Courrier du Levant, Google News sitemap"] > \
        fetched.get("Le Courrier du Levant, Google News sitemap", 0)
    per_conflict = {f["value"]: f["count"] for f in facets["conflicts"]["results"]}
    expected = {r["name"]: r["n"] for r in rows(crawled, (
        "SELECT c.name, count(*) AS n FROM article_conflicts ac "
        "JOIN conflicts c ON c.id = ac.conflict_id GROUP BY c.name"))}
    assert per_conflict == expected
    assert {f["value"] for f in facets["language"]["results"]} == {"fr", "en"}
    assert "2026-11-23" in {f["value"] for f in facets["day"]["results"]}
    # Clicking a facet filters: the articles on the Karabakh conflict.
    karabakh = get(ds, "/veille/articles_with_conflicts.json?_shape=array&_size=max"
                       "&conflicts__arraycontains=Haut-Karabakh+(Arm%C3%A9nie-Azerba%C3%AFdjan)")
    assert len(karabakh.json()) == per_conflict["Haut-Karabakh (Arménie-Azerbaïdjan)"]
    html = get(ds, "/veille/articles_with_conflicts").text
    assert 'class="facet-info facet-veille-articles_with_conflicts-conflicts' in html
    articles = get(ds, "/veille/articles.json").json()
    assert set(articles["facet_results"]) == {"source_id", "topic", "language", "published_at"}
    assert articles["rows"][0][articles["columns"].index("canonical_url")].endswith(NEW_ARTICLE)


def test_search_finds_an_article_by_a_word_of_its_body(ds):
    # "Kalaban" is only in the body of the Mali article; "deplaces" (no accents) finds
    # "déplacés" in the new Karabakh article.
    for table in ("articles", "articles_with_conflicts"):
        found = get(ds, f"/veille/{table}.json?_search=Kalaban&_shape=array").json()
        assert [r["title"] for r in found] == [
            "Mali fuel shortages ease as escorted convoys reach Bamako"], table
        accents = get(ds, f"/veille/{table}.json?_search=deplaces&_shape=array").json()
        assert any(r["canonical_url"].endswith(NEW_ARTICLE) for r in accents), table
    html = get(ds, "/veille/articles_with_conflicts?_search=Kalaban").text
    assert 'name="_search"' in html and "1 row where search matches" in html


# -- canned queries -------------------------------------------------------------------------


def test_canned_queries_are_all_listed(ds):
    page = get(ds, "/veille.json").json()
    assert {q["name"] for q in page["queries"]} == QUERIES
    html = get(ds, "/veille").text
    for name in QUERIES:
        assert f'href="/veille/{name}"' in html, name


def test_the_database_page_starts_with_the_desk(ds):
    """/veille: the list of articles and the queries first, the tables, then the SQL box,
    folded; canned query pages show no SQL."""
    html = get(ds, "/veille").text
    desk = html.index('href="/veille/articles_with_conflicts"')
    assert desk < html.index('id="queries"') < html.index('id="tables"') \
        < html.index('<details class="own-sql">')
    page = get(ds, "/veille/source_health").text
    assert "from sources s" not in page and "Source health" in page


def test_front_page_leads_to_todays_articles_on_a_conflict(crawled, tmp_path):
    """The front page's "Today" link of a conflict lists that conflict's articles of the
    day (here one article of the demo record moved to today, in a copy)."""
    copy = tmp_path / "today.db"
    with sqlite3.connect(crawled) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    with sqlite3.connect(copy) as db:
        db.execute("UPDATE articles SET published_at = ? || 'T06:30:00Z' WHERE canonical_url "
                   "LIKE ?", [today, f"%{NEW_ARTICLE}"])
    html = get(build_datasette(copy), "/").text
    box = html.split('id="conflict-karabakh"', 1)[1].split("</article>", 1)[0]
    link = re.search(r'class="latest-day" href="([^"]+)">Today</a>', box)
    assert link, box
    found = get(build_datasette(copy), link.group(1).replace("&amp;", "&").replace(
        "/veille/articles_with_conflicts", "/veille/articles_with_conflicts.json") +
        "&_shape=array").json()
    assert [r["canonical_url"].endswith(NEW_ARTICLE) for r in found] == [True]


def test_behind_a_proxy_with_base_url(crawled):
    ds = build_datasette(crawled, settings={"base_url": "/news/"})
    html = get(ds, "/veille").text  # the client adds the prefix to the path itself
    assert 'href="/news/veille/latest_by_conflict"' in html
    # The database description's link is relative, so it follows the prefix.
    assert 'href="veille/articles_with_conflicts"' in html
    feed = get(ds, "/veille/conflict_feed?conflict=karabakh").text
    assert "/news/veille/conflict_feed.atom?conflict=karabakh" in feed
    # The desk's pages and stylesheet follow the prefix too.
    front = get(ds, "/").text
    assert 'action="/news/veille/articles_with_conflicts"' in front
    assert 'href="/news/veille/articles/' in front and "/news/veille-static/desk.css" in front
    assert get(ds, "/veille-static/desk.css").status_code == 200


def test_latest_articles_per_conflict(crawled, ds):
    found = query(ds, "latest_by_conflict", conflict="karabakh")
    matches = rows(crawled, "SELECT count(*) AS n FROM article_conflicts "
                            "WHERE conflict_id = 'karabakh'")[0]["n"]
    assert len(found) == matches > 5
    assert {r["conflict"] for r in found} == {"Haut-Karabakh (Arménie-Azerbaïdjan)"}
    assert found[0]["url"].endswith(NEW_ARTICLE)  # the newest, from the second crawl
    assert [r["published_at"] for r in found] == sorted((r["published_at"] for r in found),
                                                        reverse=True)
    assert all(r["matched"] and r["matched_in"] for r in found)
    every = query(ds, "latest_by_conflict")  # no conflict given: all of them
    assert {r["conflict"] for r in every} >= {"Soudan", "Guerre en Ukraine"}
    assert query(ds, "latest_by_conflict", conflict="atlantis") == []


def test_stories_with_the_sources_that_carried_them(crawled, ds):
    stories = query(ds, "stories_with_sources", min_sources="2")
    assert stories and all(s["sources"] >= 2 for s in stories)
    assert len(stories) == rows(crawled, "SELECT count(*) AS n FROM stories "
                                         "WHERE sources >= 2")[0]["n"]
    # The same Reuters dispatch in the Monitor and the Gazette.
    tanker = next(s for s in stories if "Novorossiysk" in s["title"])
    assert len(tanker["urls"].split()) == 2
    assert "The Black Sea & Caucasus Monitor" in tanker["carried_by"]
    assert "La Gazette du Caucase (RSS)" in tanker["carried_by"]
    everything = query(ds, "stories_with_sources")
    assert len(everything) == rows(crawled, "SELECT count(*) AS n FROM stories")[0]["n"]


def test_alerts_pending_and_failed(crawled, ds):
    found = query(ds, "alerts_pending_failed")
    expected = rows(crawled, "SELECT id, status FROM alerts "
                             "WHERE status IN ('pending', 'sending', 'failed')")
    assert sorted(r["id"] for r in found) == sorted(r["id"] for r in expected)
    statuses = [r["status"] for r in found]
    assert set(statuses) == {"failed", "pending"}
    assert statuses == sorted(statuses)  # failed first
    failed = [r for r in found if r["status"] == "failed"]
    assert {r["subscription"] for r in failed} == {"Desk Afrique"}
    assert all("VEILLE_DEMO_WEBHOOK_SECRET" in r["last_error"] for r in failed)
    pending = [r for r in found if r["status"] == "pending"]
    assert {r["subscription"] for r in pending} == {"Ukraine, hourly digest"}
    assert all(r["title"] and r["url"] for r in found)


def test_source_health(ds):
    found = query(ds, "source_health")
    assert len(found) == 8
    broken = found[0]  # failing sources come first
    assert broken["id"] == "gazette-rss" and broken["failure_count"] == 1
    assert broken["last_status"] == "failed" and "404" in broken["last_error"]
    assert broken["last_success_at"] and broken["next_run_at"]
    for source in found[1:]:
        assert source["failure_count"] == 0 and source["last_status"] == "ok", source
        assert source["last_success_at"] and source["next_run_at"] and not source["last_error"]
    # Each article fetched once, and counted for every source that lists it.
    assert sum(s["fetched"] for s in found) == 37
    assert all(s["articles"] >= s["fetched"] for s in found)
    assert sum(s["articles"] for s in found) > 37


def test_crawl_runs_of_the_last_day(crawled, ds):
    found = query(ds, "crawl_runs_last_day")
    assert len(found) == 16  # 8 sources, crawled twice
    assert [r["started_at"] for r in found] == sorted((r["started_at"] for r in found),
                                                      reverse=True)
    assert {r["status"] for r in found} == {"ok", "failed"}
    assert sum(r["new"] for r in found) == 37
    assert all(r["seconds"] is not None and r["seconds"] >= 0 for r in found)
    [first] = rows(crawled, "SELECT started_at FROM crawl_runs WHERE id = 1")
    with sqlite3.connect(crawled) as db:  # a run from two days ago is not in it
        db.execute("UPDATE crawl_runs SET started_at = '2020-01-01T00:00:00Z' WHERE id = 1")
    try:
        assert len(query(ds, "crawl_runs_last_day")) == 15
    finally:
        with sqlite3.connect(crawled) as db:
            db.execute("UPDATE crawl_runs SET started_at = ? WHERE id = 1", [first["started_at"]])


def test_articles_changed_since_first_seen(ds):
    [change] = query(ds, "articles_changed")
    assert change["url"].endswith(UPDATED_ARTICLE)
    assert change["change"] == "1 → 2" and change["versions"] == 2
    assert change["words_added"] > 0 and change["changed_at"] >= change["first_seen_at"]


def test_atom_feed_of_a_conflict(crawled, ds):
    response = get(ds, "/veille/conflict_feed.atom?conflict=karabakh")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    matches = rows(crawled, "SELECT count(*) AS n FROM article_conflicts "
                            "WHERE conflict_id = 'karabakh'")[0]["n"]
    assert len(feed.entries) == matches
    assert feed.feed.title == "Veille: Haut-Karabakh (Arménie-Azerbaïdjan)"
    newest = feed.entries[0]
    assert newest.link.endswith(NEW_ARTICLE)
    assert newest.id.startswith("urn:veille:article:")
    assert "Stepanakert" in newest.summary or "Stepanakert" in newest.content[0].value
    # The query page links to the feed.
    assert "conflict_feed.atom?conflict=karabakh" in get(
        ds, "/veille/conflict_feed?conflict=karabakh").text
    # A conflict with no article still gives a valid feed, with one entry saying so.
    unknown = feedparser.parse(get(ds, "/veille/conflict_feed.atom?conflict=haiti").content)
    assert not unknown.bozo and len(unknown.entries) == 1
    assert unknown.entries[0].title == "Not a tracked conflict: haiti"


def test_exports_csv_and_json(ds):
    sudan = get(ds, "/veille/latest_by_conflict.csv?conflict=sudan")
    assert sudan.status_code == 200 and sudan.text.startswith("published_at,title,source,")
    # "Stream all rows": the whole table, past the page size.
    full = get(ds, "/veille/articles.csv?_stream=on&_size=5")
    assert full.status_code == 200
    assert len(list(csv.DictReader(io.StringIO(full.text)))) == 37
    page = get(ds, "/veille/articles_with_conflicts.json?_shape=array&language=en")
    assert page.status_code == 200 and {r["language"] for r in page.json()} == {"en"}


# -- nothing on the page can write ----------------------------------------------------------


def test_a_write_through_the_web_is_refused(crawled, ds):
    before = rows(crawled, "SELECT count(*) AS n FROM conflicts")[0]["n"]
    insert = get(ds, "/veille.json?sql=insert+into+conflicts+(id,+name,+added_at)"
                     "+values+('x',+'x',+'x')")
    assert insert.status_code == 400 and "must be a SELECT" in insert.text
    # A statement that gets past Datasette's check still meets a read-only connection.
    sneaky = get(ds, "/veille.json?sql=with+x+as+(select+1)+delete+from+conflicts")
    assert sneaky.status_code == 400 and "readonly" in sneaky.text
    for path in ("/veille/latest_by_conflict", "/veille/conflicts/-/insert", "/veille"):
        posted = get(ds, path, method="post", data={"conflict": "x", "sql": "delete"})
        assert posted.status_code == 405, path
    assert get(ds, "/veille.db").status_code == 403  # no download of a file being written

    async def write_api():
        await ds.get_database(DATABASE_NAME).execute_write("DELETE FROM conflicts")

    with pytest.raises(Exception, match="read-only"):
        asyncio.run(write_api())
    assert rows(crawled, "SELECT count(*) AS n FROM conflicts")[0]["n"] == before


# -- works while crawling -------------------------------------------------------------------


def test_pages_load_while_a_crawl_writes(demo_site, demo_config, tmp_path):
    """A crawl runs while Datasette serves the same file and even holds a read transaction
    open: pages keep loading, the crawl finishes without error, and a page loaded after it
    shows what it stored (no restart: normal mode, not immutable)."""
    db = tmp_path / "veille.db"
    open_database(db).close()
    held, release = threading.Event(), threading.Event()  # the site holds one article page
    reading, done = threading.Event(), threading.Event()  # Datasette holds a read open

    def hold(path: str) -> None:
        if path.startswith("/gazette/article/") and not held.is_set():
            held.set()
            release.wait(30)

    def long_read(conn: sqlite3.Connection) -> int:
        # A slow query on one of Datasette's connections: a read transaction kept open
        # until the crawl has finished.
        conn.execute("BEGIN")
        seen = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        reading.set()
        done.wait(60)
        conn.execute("COMMIT")
        return seen

    async def during_the_crawl() -> tuple[int, int, int, int]:
        reader = asyncio.ensure_future(ds.get_database(DATABASE_NAME).execute_fn(long_read))
        assert await asyncio.to_thread(reading.wait, 30)
        for path in ("/veille/articles", "/veille/articles_with_conflicts",
                     "/veille/source_health", "/veille/conflict_feed.atom?conflict=ukraine"):
            page = await ds.client.get(path)
            assert page.status_code == 200, path
        mid = (await ds.client.get("/veille/articles.json")).json()["filtered_table_rows_count"]
        release.set()
        code = await asyncio.to_thread(crawl.wait, 60)  # while the read is still open
        done.set()
        seen = await reader
        after = (await ds.client.get("/veille/articles.json")).json()
        return code, seen, mid, after["filtered_table_rows_count"]

    demo_site.before_response = hold
    ds = build_datasette(db)
    crawl = subprocess.Popen(
        [sys.executable, "-m", "crawler", "--config", str(demo_config), "--db", str(db),
         "crawl", "--no-progress", "--source", "gazette-rss", "--source", "monitor-atom"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT,
    )
    try:
        assert held.wait(30), "the crawl never asked for a Gazette article"
        code, seen, mid, after = asyncio.run(during_the_crawl())
    finally:
        release.set()
        done.set()
        if crawl.poll() is None:
            crawl.kill()
        out, err = crawl.communicate(timeout=30)
    assert code == 0, out + err
    assert "2 sources, 0 failed" in out
    assert seen <= mid < after == rows(db, "SELECT count(*) AS n FROM articles")[0]["n"]


# -- nothing secret -------------------------------------------------------------------------

HOOK_SECRET = "whsec-7d1e0c9b44a2"
HOOK_TOKEN = "T0K3N-b8f2e61a"
SMTP_USER = "desk.login@newsroom.example"
SMTP_PASSWORD = "pw-3c8a90f1e2"
RECIPIENTS = ("chief.editor@newsroom.example", "night.desk@newsroom.example")
SENDER = "veille-alerts@newsroom.example"


def secret_config(path: Path, origin: str, hook: WebhookReceiver, sink: SmtpSink) -> Path:
    """The demo config plus a webhook and an e-mail subscription with real secrets."""
    render_demo_config(origin, path)
    conflicts = '["karabakh", "ukraine", "sudan", "sahel"]'
    path.write_text(path.read_text(encoding="utf-8") + f"""
[[subscription]]
id = "desk-hook"
name = "Desk by webhook"
conflicts = {conflicts}
[subscription.webhook]
url = "{hook.url}"
secret_env = "VEILLE_TEST_HOOK_SECRET"

[[subscription]]
id = "desk-mail"
name = "Desk by e-mail"
conflicts = {conflicts}
[subscription.email]
host = "127.0.0.1"
port = {sink.port}
security = "none"
allow_plaintext_login = true
username = "{SMTP_USER}"
password_env = "VEILLE_TEST_SMTP_PASSWORD"
sender = "{SENDER}"
to = {json.dumps(list(RECIPIENTS))}
""", encoding="utf-8")
    return path


def leaks(db: Path, ds, secrets: list[str]) -> list[str]:
    """Where any of `secrets` appears: every column of every table and view in the file,
    then every table's and view's JSON as Datasette serves it."""
    found = []
    with sqlite3.connect(db) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
        for name in names:
            for row in conn.execute(f'SELECT * FROM "{name}"'):
                for value in row:
                    text = value.decode("utf-8", "replace") if isinstance(value, bytes) \
                        else str(value)
                    found += [f"{name}: {s}" for s in secrets if s in text]
    for name in names:
        page = get(ds, f"/veille/{name}.json?_shape=array&_size=max")
        found += [f"/veille/{name}.json: {s}" for s in secrets if s in page.text]
    return found


@pytest.mark.parametrize("failing", [False, True], ids=["delivered", "refused"])
def test_no_secret_reaches_the_served_database(demo_site, tmp_path, failing):
    """Webhook secret, token in the webhook URL, SMTP login and password, recipients: none of
    them is stored, whether the alerts were delivered or refused by the receivers."""
    db = tmp_path / "veille.db"
    env = {"VEILLE_TEST_HOOK_SECRET": HOOK_SECRET, "VEILLE_TEST_SMTP_PASSWORD": SMTP_PASSWORD}
    with WebhookReceiver(secret=HOOK_SECRET, path=f"/hooks/{HOOK_TOKEN}") as hook, \
            SmtpSink(require_auth=(SMTP_USER, SMTP_PASSWORD)) as sink:
        config = secret_config(tmp_path / "veille.toml", demo_site.origin, hook, sink)
        if failing:
            hook.fail_with(500, "upstream error")
            for address in RECIPIENTS:
                sink.refuse(address)
        crawl = veille("--config", config, "--db", db, "crawl", "--no-progress",
                       "--source", "monitor-atom", env=env)
        assert crawl.returncode == 0, crawl.stdout + crawl.stderr
        veille("--config", config, "--db", db, "alerts", "send", env=env)
        assert hook.requests and all(r.signature_valid for r in hook.requests)
        if failing:
            assert not sink.messages
        else:
            assert sink.wait_for(1)[0].login == SMTP_USER
        secrets = [HOOK_SECRET, HOOK_TOKEN, hook.url, SMTP_USER, SMTP_PASSWORD, SENDER,
                   *RECIPIENTS]
        statuses = {r["status"] for r in rows(
            db, "SELECT status FROM alerts WHERE subscription_id IN ('desk-hook', 'desk-mail')")}
        assert statuses == ({"pending", "failed"} if failing else {"sent"})
    # Refused deliveries store their error redacted: no URL path, no address.
    assert leaks(db, build_datasette(db), secrets) == []


# -- the command ----------------------------------------------------------------------------


def test_veille_serve_command(crawled):
    """`veille serve -h 127.0.0.1 -p 0` (`datasette serve`'s short options) listens where
    asked, says where, serves GET, refuses POST, and stops cleanly on SIGTERM."""
    with serving("--db", crawled, "serve", "-h", "127.0.0.1", "-p", "0",
                 "--setting", "default_page_size", "5") as (proc, url):
        assert url.startswith("http://127.0.0.1:") and url.endswith("/veille"), url
        with urllib.request.urlopen(url + "/articles.json?_shape=array") as response:
            assert len(json.load(response)) == 5  # --setting default_page_size 5
        with urllib.request.urlopen(url) as response:
            assert "Veille news record" in response.read().decode("utf-8")
        request = urllib.request.Request(url + "/latest_by_conflict", data=b"conflict=x")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request)
        assert refused.value.code == 405
        proc.terminate()
        rest, _ = proc.communicate(timeout=30)
        # uvicorn shuts down, then re-raises the signal it caught (as a service manager expects)
        assert proc.returncode in (0, -signal.SIGTERM) and "Application shutdown complete" in rest


def test_serve_help_is_help_only():
    result = veille("serve", "--help")
    assert result.returncode == 0 and "-h, --host" in result.stdout
    assert "-p, --port" in result.stdout
    bare = veille("serve", "-h")  # a host is expected, not help
    assert bare.returncode == 2 and "requires an argument" in bare.stderr


def test_readme_documents_the_settings():
    section = (PROJECT / "docs" / "datasette.md").read_text(encoding="utf-8")
    for setting in SETTINGS:
        assert f"| `{setting.name}` |" in section, setting.name
    for name in QUERIES:
        assert f"/veille/{name}" in section, name


def test_serve_refuses_a_missing_database_and_a_bad_setting(tmp_path, crawled):
    runner = CliRunner()
    missing = runner.invoke(cli, ["--db", str(tmp_path / "none.db"), "serve"])
    assert missing.exit_code == 2 and "no such database" in missing.output
    assert not (tmp_path / "none.db").exists()
    bad = runner.invoke(cli, ["--db", str(crawled), "serve", "--setting", "nope", "1"])
    assert bad.exit_code == 2 and "not a Datasette 0.65 setting" in bad.output
    typed = runner.invoke(cli, ["--db", str(crawled), "serve", "--setting",
                                "default_page_size", "many"])
    assert typed.exit_code == 2 and "not a whole number" in typed.output
