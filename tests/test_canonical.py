"""A page's rel=canonical is believed only for the same story (issue 15, item 5): a page
of the site that names a stored article as its canonical must not replace that article's
title and text, nor queue an `update` alert."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import FIXTURES, crawl, rows, serve_feed, write_config

ARTICLE = "/news/2026/11/20/ceasefire-talks-resume-in-geneva.html"
DESK = """
[[conflict]]
id = "geneva"
name = "Geneva talks"
aliases = ["Geneva"]

[[subscription]]
id = "desk"
name = "Desk"
conflicts = ["geneva"]
updates = true

[subscription.feed]
path = "feeds/desk.xml"
"""
MINI_FEED = DESK + """
[[source]]
id = "mini"
kind = "feed"
url = "{site}/feed.xml"
"""
OTHER_FEED = DESK + """
[[source]]
id = "other"
kind = "feed"
url = "{site}/other.xml"
"""
HIJACK = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Readers' letters: the price of bread | The Mini Courier</title>
<link rel="canonical" href="{origin}/news/2026/11/20/ceasefire-talks-resume-in-geneva.html"></head><body><article>
<h1>Readers' letters: the price of bread</h1>
<p>A reader from the harbour district writes that the bakery on her street has raised the
price of a loaf three times since the summer, and asks whether the council intends to help
the small shops that still bake every morning.</p>
<p>Another reader answers last week's letter about the tram timetable: the evening service,
he says, was cut without notice, and workers on the late shift now walk home along the
ring road in the dark.</p>
<p>A third letter thanks the volunteers who repaired the roof of the youth club before the
first storms of the autumn.</p>
</article></body></html>"""


def stored(db: Path) -> dict[str, dict]:
    return {r["canonical_url"]: r for r in rows(
        db, "SELECT id, canonical_url, title, version FROM articles")}


def test_a_canonical_naming_another_story_is_not_believed(mini_site, tmp_path):
    o = mini_site.origin
    db = tmp_path / "veille.db"
    config = write_config(tmp_path / "veille.toml", o, MINI_FEED)
    assert crawl(config, db).returncode == 0
    before = stored(db)[mini_site.url(ARTICLE)]
    page = "/opinion/2026/11/21/readers-letters-the-price-of-bread.html"
    mini_site.overrides[page] = (200, {"Content-Type": "text/html; charset=utf-8"},
                                 HIJACK.replace("{origin}", o).encode())
    serve_feed(mini_site, "/other.xml", [o + page])
    config = write_config(tmp_path / "other.toml", o, OTHER_FEED)
    result = crawl(config, db)
    assert result.returncode == 0, result.stderr
    after = stored(db)
    assert after[mini_site.url(ARTICLE)] == before  # same title, still version 1
    letters = after[mini_site.url(page)]
    assert letters["title"] == "Readers' letters: the price of bread"
    [warning] = rows(db, "SELECT url, level, message FROM fetch_errors "
                         "WHERE kind = 'canonical-refused'")
    assert warning["level"] == "warning" and warning["url"] == mini_site.url(page)
    assert warning["message"] == (
        f"rel=canonical names {mini_site.url(ARTICLE)} (article #{before['id']}), another "
        f"story: stored as article #{letters['id']} under its own URL")
    assert rows(db, "SELECT * FROM alerts WHERE kind = 'update'") == []
    assert rows(db, "SELECT * FROM article_versions") == []


def test_a_canonical_naming_the_same_story_is_believed(mini_site, tmp_path):
    """A copy of the article under another address (an AMP-like page), its text edited
    by one sentence, naming the article as its canonical: one article, a new version."""
    o = mini_site.origin
    db = tmp_path / "veille.db"
    config = write_config(tmp_path / "veille.toml", o, MINI_FEED)
    assert crawl(config, db).returncode == 0
    original = (FIXTURES / "sites" / "mini" / ARTICLE.lstrip("/")).read_text(encoding="utf-8")
    copy = original.replace("{{ORIGIN}}", o).replace(
        "<p>The next round is expected on Monday",
        "<p>Observers from three neighbouring countries attended as guests.</p>"
        "<p>The next round is expected on Monday")
    mini_site.overrides["/m" + ARTICLE] = (200, {"Content-Type": "text/html; charset=utf-8"},
                                           copy.encode())
    serve_feed(mini_site, "/other.xml", [o + "/m" + ARTICLE])
    config = write_config(tmp_path / "other.toml", o, OTHER_FEED)
    assert crawl(config, db).returncode == 0
    after = stored(db)
    assert mini_site.url("/m" + ARTICLE) not in after
    assert after[mini_site.url(ARTICLE)]["version"] == 2
    assert rows(db, "SELECT * FROM fetch_errors WHERE kind = 'canonical-refused'") == []
