"""Pages with defects are stored with one-line warnings, never a traceback: 130 real pages
(the Readability.js test pages in ../shared/corpus/readability) crawled by `veille crawl`,
and a few hand-made ones on the mini site."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from conftest import crawl, rows, veille, write_config
from scrapy.utils.test import get_crawler

from bench.corpus import CORPUS
from crawler.crawl.items import ArticleItem, NormalizedArticle
from crawler.crawl.normalize import content_hash, normalize_article
from crawler.crawl.pipelines import MIN_ARTICLE_WORDS, NO_TEXT, StorePipeline, text_words
from crawler.demo import SiteServer
from crawler.page.charset import decode_html
from crawler.page.extract import extract_article
from crawler.page.fingerprints import article_fingerprint
from crawler.page.listing import ListingHint
from crawler.record.identity import normal_title
from crawler.record.store import Store

PAGES = sorted(p.parent.name for p in CORPUS.glob("*/source.html")) if CORPUS.is_dir() else []
SUMMARY = re.compile(r"^corpus\s+(\S+)\s+(\d+) new\s+(\d+) updated\s+(\d+) unchanged\s+"
                     r"(\d+) errors(?:, (\d+) without article text)?(?:, (\d+) warnings?)?",
                     re.MULTILINE)


def rss(origin: str, paths: list[str]) -> bytes:
    """A feed linking to each path, with no title: what is stored comes from the pages."""
    items = "".join(f"<item><link>{escape(origin + path)}</link><guid isPermaLink=\"false\">"
                    f"{escape(path)}</guid><description>{escape(path)}</description></item>"
                    for path in paths)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Pages</title><link>{origin}/</link><description>Pages</description>"
            f"{items}</channel></rss>").encode()


@pytest.fixture
def real_pages(tmp_path: Path):
    """The corpus pages served as /<name>/ on 127.0.0.1, with /feed.xml listing them all."""
    if not PAGES:
        pytest.skip(f"the real-page corpus is not there: {CORPUS} (a checkout of "
                    "../shared/corpus beside the repository)")
    (tmp_path / "site").mkdir()
    with SiteServer(tmp_path / "site") as site:
        for name in PAGES:
            # No charset: each page's own declaration (or its bytes) says it, as on the web.
            site.overrides[f"/{name}/"] = (200, {"Content-Type": "text/html"},
                                           (CORPUS / name / "source.html").read_bytes())
        site.overrides["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"},
                                       rss(site.origin, [f"/{name}/" for name in PAGES]))
        yield site


def test_a_crawl_of_the_real_pages_stores_every_page_with_text_and_prints_no_traceback(
    real_pages: SiteServer, tmp_path: Path
):
    origin = real_pages.origin
    config = tmp_path / "veille.toml"
    # A generous timeout: extraction of a 1.6 MB page holds the reactor for a while on
    # a loaded 2-core machine, and a timeout is not what this test is about.
    config.write_text(
        '[crawl]\nuser_agent = "Veille-test/0.1"\ndownload_delay = 0\nautothrottle = false\n'
        "retries = 0\ntimeout = 120\n\n"
        f'[[source]]\nid = "corpus"\nkind = "feed"\nurl = "{origin}/feed.xml"\n',
        encoding="utf-8")
    db = tmp_path / "veille.db"
    result = crawl(config, db)

    # Warnings are not failures; hostile markup is a line in fetch_errors, not a traceback.
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-5000:]
    assert all(real_pages.hits[f"/{name}/"] == 1 for name in PAGES)
    [run] = rows(db, "SELECT * FROM crawl_runs")
    assert run["status"] == "ok" and run["errors"] == 0
    # A clean run: the feed's validators are saved although pages had defects.
    assert rows(db, "SELECT url FROM http_validators") == [{"url": f"{origin}/feed.xml"}]

    warnings = rows(db, "SELECT * FROM fetch_errors WHERE level = 'warning'")
    assert rows(db, "SELECT * FROM fetch_errors WHERE level != 'warning'") == []
    assert all(w["run_id"] == run["id"] and "\n" not in w["message"] for w in warnings)
    not_stored = {w["url"] for w in warnings
                  if w["kind"] == NO_TEXT and w["message"].endswith("not stored")}

    # Every page with a title or a body is stored: its URL reaches an article.
    page_urls = {f"{origin}/{name}/" for name in PAGES}
    reached = {r["url"]: r["article_id"] for r in rows(db, "SELECT * FROM article_urls")}
    assert set(reached) - page_urls == set(), "an off-site URL was adopted"
    assert page_urls - set(reached) == not_stored
    assert len(not_stored) <= 3, not_stored  # pages with neither title nor text are rare
    articles = {r["id"]: r for r in rows(db, "SELECT * FROM articles")}
    assert run["new"] == len(articles)
    # Test pages that share a text (Readability's lorem ipsum pages) are one article: a
    # second page is unchanged, or a version when its headline differs (issue 19).
    assert run["new"] + run["updated"] + run["unchanged"] == len(page_urls) - len(not_stored)
    merges = rows(db, "SELECT reason, count(*) AS n FROM article_merges GROUP BY reason")
    assert {m["reason"] for m in merges} <= {"text", "title"}
    assert sum(m["n"] for m in merges) == len(page_urls) - len(not_stored) - run["new"]

    # Their links and canonicals name the hosts they were saved from: none of those is
    # adopted, and pages are merged only when their texts are the same (or, same source,
    # their headlines are, with near-identical texts).
    assert {a["canonical_url"] for a in articles.values()} <= page_urls
    pages_of: dict[int, list[str]] = {}
    for url, article_id in reached.items():
        pages_of.setdefault(article_id, []).append(url)
    by_headline = rows(db, "SELECT article_id, url FROM article_merges WHERE reason = 'title'")
    for article_id, urls in pages_of.items():
        if len(urls) > 1 and article_id not in {m["article_id"] for m in by_headline}:
            assert len({page_hash(url.removeprefix(origin)) for url in urls}) == 1, urls

    def extracted(url: str):
        path = CORPUS / url.removeprefix(origin).strip("/") / "source.html"
        return extract_article(decode_html(path.read_bytes(), "text/html")[0], url)

    # A page merged by headline has a headline the article had (pages merged by their
    # identical text make versions with theirs), and a text that contains the first
    # page's or is contained in it.
    for merge in by_headline:
        page = extracted(merge["url"])
        first = extracted(articles[merge["article_id"]]["canonical_url"])
        titles = {normal_title(r["title"]) for r in rows(
            db, "SELECT title FROM articles WHERE id = ? UNION "
                "SELECT title FROM article_versions WHERE article_id = ?",
            [merge["article_id"], merge["article_id"]])}
        assert normal_title(page.title) in titles, merge
        ours = article_fingerprint(page.lead, page.body)
        theirs = article_fingerprint(first.lead, first.body)
        assert ours.containment(theirs) >= 0.8, merge

    # A page under MIN_ARTICLE_WORDS words is stored with a "no-text" warning.
    short = {i for i, a in articles.items()
             if text_words(a["body"] or "", a["word_count"]) < MIN_ARTICLE_WORDS}
    flagged = {reached[w["url"]] for w in warnings
               if w["kind"] == NO_TEXT and w["url"] not in not_stored}
    assert flagged == short and len(short) >= 5
    assert all(re.fullmatch(r"no article text \(\d+ words\)", w["message"])
               for w in warnings if w["kind"] == NO_TEXT and w["url"] not in not_stored)

    # The summary line counts them, apart from the other warnings.
    no_text = sum(w["kind"] == NO_TEXT for w in warnings)
    others = len(warnings) - no_text
    [line] = SUMMARY.findall(result.stdout)
    assert line[0] == "ok" and int(line[1]) == len(articles)
    assert int(line[5] or 0) == no_text and int(line[6] or 0) == others, result.stdout

    # So does `veille sources`, over the last 24 hours.
    listing = veille("--config", config, "--db", db, "sources", "--json")
    [source] = json.loads(listing.stdout)
    assert (source["no_text_24h"], source["warnings_24h"]) == (no_text, others)


def page_hash(path: str) -> str:
    """The content hash of a corpus page's extracted text, computed here."""
    html, _ = decode_html((CORPUS / path.strip("/") / "source.html").read_bytes(), "text/html")
    return content_hash(extract_article(html, "http://127.0.0.1" + path).body)


FEED = """
[[source]]
id = "mini-feed"
kind = "feed"
url = "{site}/feed.xml"
"""
FULL = "/news/2026/11/20/ceasefire-talks-resume-in-geneva.html"
SHORT = "/news/2026/11/22/a-video-with-a-caption.html"
EMPTY = "/news/2026/11/22/a-page-with-nothing.html"
BROKEN = "/news/2026/11/22/a-page-with-broken-json-ld.html"
PARAGRAPH = ("Ceasefire observers said on Sunday that both sides had pulled back heavy weapons "
             "from the line, a first since the spring. The mission counted forty guns moved "
             "overnight and asked for access to the depots. Talks resume on Monday in Geneva, "
             "where mediators hope to agree on the river crossings and on the prisoners.")


def test_a_page_without_article_text_is_stored_with_a_warning_and_counted(mini_site, tmp_path):
    html = {"Content-Type": "text/html; charset=utf-8"}
    mini_site.overrides[SHORT] = (200, html, (
        b"<html><head><title>Video: the river crossing at dawn</title></head><body><article>"
        b"<h1>Video: the river crossing at dawn</h1><p>Watch the first convoy cross the "
        b"repaired bridge.</p></article></body></html>"))
    mini_site.overrides[EMPTY] = (200, html, b"<html><head></head><body></body></html>")
    mini_site.overrides[BROKEN] = (200, html, (
        "<html><head><title>Observers report pullback</title>"
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Observers",,'
        "</script></head><body><article><h1>Observers report pullback</h1>"
        f"<p>{PARAGRAPH}</p><p>{PARAGRAPH}</p></article></body></html>").encode())
    mini_site.overrides["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"},
                                        rss(mini_site.origin, [FULL, SHORT, EMPTY, BROKEN]))
    config = write_config(tmp_path / "veille.toml", mini_site.origin, FEED)
    db = tmp_path / "veille.db"
    result = crawl(config, db)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    stored = {r["canonical_url"] for r in rows(db, "SELECT canonical_url FROM articles")}
    assert stored == {mini_site.url(FULL), mini_site.url(SHORT), mini_site.url(BROKEN)}
    [run] = rows(db, "SELECT * FROM crawl_runs")
    assert (run["status"], run["new"], run["errors"]) == ("ok", 3, 0)
    no_text = {r["url"]: r["message"] for r in rows(
        db, "SELECT url, message FROM fetch_errors WHERE kind = ? AND run_id = ?",
        [NO_TEXT, run["id"]])}
    assert set(no_text) == {mini_site.url(SHORT), mini_site.url(EMPTY)}
    assert re.fullmatch(r"no article text \(\d words\)", no_text[mini_site.url(SHORT)])
    assert no_text[mini_site.url(EMPTY)] == "no title or article text on the page: not stored"
    others = run["warnings"] - len(no_text)
    assert re.search(r"mini-feed\s+ok\s+3 new\s+0 updated\s+0 unchanged\s+0 errors, "
                     r"2 without article text" + (f", {others} warning" if others else "")
                     + r"  \(\d+ requests\)", result.stdout), result.stdout
    assert rows(db, "SELECT url FROM http_validators") == [{"url": mini_site.url("/feed.xml")}]

    listing = veille("--config", config, "--db", db, "sources")
    header, _rule, line = listing.stdout.splitlines()
    assert "no text 24h" in header and "warnings 24h" in header
    assert re.search(rf"\s0\s+2\s+{others}\s", line), listing.stdout
    [source] = json.loads(veille("--config", config, "--db", db, "sources", "--json").stdout)
    assert (source["no_text_24h"], source["warnings_24h"]) == (2, others)


def test_what_the_extraction_reports_is_recorded_as_warnings_with_the_article(tmp_path):
    """Each line of ExtractedArticle.warnings is a fetch_errors warning of the run, beside
    the stored article; a run with only warnings is still clean."""
    from crawler.config.model import Source

    db = tmp_path / "veille.db"
    with Store.open(db) as store:
        store.sync_sources([Source(id="s1", name="S", kind="feed",
                                   url="http://127.0.0.1/feed.xml")])
        run_id = store.start_run("s1", 1)
    crawler = get_crawler(settings_dict={"VEILLE_DB": str(db)})
    crawler.stats.set_value("veille/run_id", run_id)
    url = "http://127.0.0.1/news/2026/11/22/observers.html"
    page = (f"<html><head><title>Observers report pullback</title></head><body><article>"
            f"<h1>Observers report pullback</h1><p>{PARAGRAPH}</p></article></body></html>")
    extracted = dataclasses.replace(extract_article(page, url), warnings=(
        "broken JSON-LD: Expecting ',' delimiter at line 3",
        "published time in the future (2027-01-01T00:00:00Z): first-seen time used",
        "no article text",  # the pipeline's own rule decides that one: not twice
    ))
    fetched = ArticleItem("s1", ListingHint(url, "feed"), url, (), extracted)
    item = NormalizedArticle(normalize_article(fetched, ("127.0.0.1",)), fetched)
    pipeline = StorePipeline.from_crawler(crawler)
    pipeline.open_spider()
    try:
        assert pipeline.process_item(item) is item
    finally:
        pipeline.close_spider()
    assert len(rows(db, "SELECT id FROM articles")) == 1
    assert rows(db, "SELECT run_id, source_id, url, level, kind, message FROM fetch_errors "
                    "ORDER BY id") == [
        {"run_id": run_id, "source_id": "s1", "url": url, "level": "warning",
         "kind": "extract", "message": message} for message in extracted.warnings[:2]]
    assert crawler.stats.get_value("veille/warnings") == 2
    assert not crawler.stats.get_value("veille/errors")


@pytest.mark.parametrize("body, words", [
    ("", 0),
    ("Trois mots seulement.", 3),
    ("海外留学生看两会：出国前后关注点大不同", 18),  # each character of Chinese counts
    ("トレンドマイクロ、公衆無線LANを安全に", 17),  # kana and kanji, and "LAN" as one word
])
def test_words_for_the_no_text_rule(body, words):
    assert text_words(body, len(body.split())) == words
