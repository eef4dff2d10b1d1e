"""`veille history URL`: versions of an article that changed on the site, and its story."""

from __future__ import annotations

import json

from conftest import rows, veille, write_config

from crawler.cli.history import readable_diff

TOPIC = """
[[source]]
id = "mini-topic"
kind = "topic"
url = "{site}/news/conflicts/"
"""
CHANGED = "/news/2026/11/20/ceasefire-talks-resume-in-geneva.html"


def test_history_prints_each_version_and_what_changed(mini_site, tmp_path):
    config = write_config(tmp_path / "veille.toml", mini_site.origin, TOPIC)
    db = tmp_path / "veille.db"
    assert veille("--config", config, "--db", db, "crawl", "--no-progress").returncode == 0
    mini_site.edition = 2
    assert veille("--config", config, "--db", db, "crawl", "--no-progress").returncode == 0
    # Any URL the article was seen under works, tracking parameters and all.
    result = veille("--db", db, "history", mini_site.url(CHANGED) + "?xtor=AL-1")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    [article] = rows(db, "SELECT version, story_id FROM articles WHERE canonical_url = ?",
                     [mini_site.url(CHANGED)])
    assert f"2 versions, story #{article['story_id']}" in out
    assert "version 1 -> 2" in out
    [change] = rows(db, "SELECT words_added, words_removed FROM article_versions")
    assert f"+{change['words_added']} / -{change['words_removed']} words" in out
    assert any(line.startswith("+ ") for line in out.splitlines())

    as_json = json.loads(veille("--db", db, "history", mini_site.url(CHANGED), "--json").stdout)
    assert as_json["article"]["version"] == 2
    assert [v["version"] for v in as_json["versions"]] == [1]
    unchanged = veille("--db", db, "history",
                       mini_site.url("/news/2026/11/19/drone-strikes-hit-power-station.html"))
    assert "no earlier version" in unchanged.stdout
    missing = veille("--db", db, "history", mini_site.url("/news/nowhere.html"))
    assert missing.returncode == 1 and "no stored article was seen under this URL" in (
        missing.stderr)


def test_readable_diff_shows_changed_paragraphs_only():
    old = "Title\n\nSame first paragraph.\n\nOld second paragraph."
    new = "Title\n\nSame first paragraph.\n\nNew second paragraph.\n\nAn added one."
    assert readable_diff(old, new) == [
        "- Old second paragraph.", "+ New second paragraph.", "+ An added one."]
