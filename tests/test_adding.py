"""`veille add`, `veille try` and `veille sources import/export`, against a small site
served on 127.0.0.1 (tests/fixtures/sites/adding) and OPML files shaped like the exports
of Miniflux, NetNewsWire and Feedly (tests/fixtures/opml)."""

from __future__ import annotations

import gzip
import json
import socket
import tomllib
from pathlib import Path

import pytest
from conftest import FIXTURES, veille

from crawler.config.editing import append_sources, derive_id
from crawler.config.model import load_config
from crawler.config.opml import plan_import, read_opml, write_opml
from crawler.demo import SiteServer
from crawler.errors import BadInputError, ConfigError
from crawler.page.extract import extract_article
from crawler.page.fetch import require_http_url

OPML = FIXTURES / "opml"
# Comments, odd spacing and no newline at the end: all of it must survive an append.
CONFIG = """\
# The desk's configuration.   Two spaces after the stop, kept.
[crawl]
user_agent = "Veille-test/0.1"   # who we say we are
timeout = 10

# --- Sources -------------------------------------------------------------
[[source]]
id   = "existing"
kind = "feed"
url  = "http://127.0.0.1:9/feed.xml"  # already there
# the last line, without a newline"""


@pytest.fixture(scope="module")
def site():
    with SiteServer(FIXTURES / "sites" / "adding") as server:
        yield server


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "veille.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def appended(config: Path) -> str:
    """What was added to CONFIG, checking that every byte of it is still there first."""
    text = config.read_text(encoding="utf-8")
    assert text.startswith(CONFIG), text
    return text[len(CONFIG):]


def test_add_a_feed_appends_a_source_and_keeps_the_file_as_it_was(site, config):
    result = veille("--config", config, "add", site.url("/rss.xml"), "--topic", "World")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f'{site.url("/rss.xml")}: an RSS 2.0 feed "The Harbour Herald: latest"' in out
    assert "2 articles (times in UTC):" in out
    assert "2026-11-20 08:15  Ceasefire talks resume in Geneva after a week of shelling" in out
    assert f"Appended to {config}:" in out
    block = appended(config)
    assert block == (
        '\n\n[[source]]\nid = "127-0-0-1-rss"\nname = "The Harbour Herald: latest"\n'
        f'kind = "feed"\nurl = "{site.url("/rss.xml")}"\ntopic = "World"\n')
    source = load_config(config).source("127-0-0-1-rss")
    assert (source.kind, source.topic) == ("feed", "World")
    # Adding the same URL again is refused, the file untouched.
    before = config.read_bytes()
    again = veille("--config", config, "add", site.url("/rss.xml"))
    assert again.returncode == 2
    assert "already configured, as source '127-0-0-1-rss'" in again.stderr
    assert config.read_bytes() == before


def test_add_a_sitemap_index_dry_run_shows_its_articles_and_writes_nothing(site, config):
    before = config.stat()
    result = veille("--config", config, "add", site.url("/sitemap.xml"), "--dry-run",
                    "--json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert (found["kind"], found["format"]) == ("sitemap", "sitemap index")
    assert found["sitemaps"] == [site.url("/sitemap-news.xml")]
    assert [a["title"] for a in found["articles"]] == [
        "Ceasefire talks resume in Geneva after a week of shelling",
        "Harbour pilots strike over night shifts",
    ]
    assert found["articles"][0]["time"] == "2026-11-20T08:15:00+00:00"
    assert found["source"] == {"id": "127-0-0-1-sitemap", "name": "127-0-0-1-sitemap",
                               "kind": "sitemap", "url": site.url("/sitemap.xml")}
    assert found["written"] is False
    assert tomllib.loads(CONFIG + found["toml"])["source"][1]["kind"] == "sitemap"
    assert config.read_text(encoding="utf-8") == CONFIG
    assert config.stat().st_mtime_ns == before.st_mtime_ns
    assert sorted(p.name for p in config.parent.iterdir()) == ["veille.toml"]


def test_add_a_listing_page_as_a_topic_source(site, config):
    result = veille("--config", config, "add", site.url("/world/"), "--id", "herald-world",
                    "--name", "Harbour Herald, World")
    assert result.returncode == 0, result.stderr
    assert "HTML page with article links (a topic page)" in result.stdout
    assert "3 articles" in result.stdout
    assert "2026-11-19 09:00  A new ferry line to the islands opens in spring" in result.stdout
    assert tomllib.loads(appended(config))["source"] == [{
        "id": "herald-world", "name": "Harbour Herald, World", "kind": "topic",
        "url": site.url("/world/"),
    }]


def test_add_a_page_that_advertises_a_feed_adds_the_feed(site, config):
    result = veille("--config", config, "add", site.url("/"))
    assert result.returncode == 0, result.stderr
    assert f"advertises 1 feed ({site.url('/rss.xml')}): adding it" in result.stdout
    assert tomllib.loads(appended(config))["source"][0]["url"] == site.url("/rss.xml")


def test_add_refuses_a_result_that_would_not_load_and_leaves_the_file(site, config):
    result = veille("--config", config, "add", site.url("/rss.xml"), "--id", "Not A Slug")
    assert result.returncode == 2
    assert "not added:" in result.stderr and "lowercase slug" in result.stderr
    assert str(config) in result.stderr and ".tmp" not in result.stderr
    assert config.read_text(encoding="utf-8") == CONFIG
    assert sorted(p.name for p in config.parent.iterdir()) == ["veille.toml"]


@pytest.mark.parametrize("command", ["add", "try", "discover"])
def test_a_url_without_a_scheme_is_refused_with_exit_status_2(command, tmp_path):
    result = veille("--config", tmp_path / "none.toml", command, "www.lorientlejour.com")
    assert result.returncode == 2
    assert result.stderr.strip() == ("Error: www.lorientlejour.com has no scheme: did you "
                                     "mean https://www.lorientlejour.com?")


def test_a_host_that_does_not_answer_is_one_line_and_exit_status_1(config):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/feed.xml"
    result = veille("--config", config, "add", url)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {url}: could not fetch")
    assert config.read_text(encoding="utf-8") == CONFIG


def test_try_an_article_shows_each_field_and_where_it_was_read(site, tmp_path):
    url = site.url("/news/2026/11/20/ceasefire-talks-resume-in-geneva.html")
    result = veille("--config", tmp_path / "none.toml", "try", url, "--json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    fields = {name: (f["value"], f["from"]) for name, f in found["fields"].items()}
    assert fields["title"] == ("Ceasefire talks resume in Geneva after a week of shelling",
                               "json-ld")
    assert fields["canonical"] == (url, "link")
    assert fields["published"] == ("2026-11-20T08:15:00+00:00", "json-ld")
    assert fields["updated"] == ("2026-11-20T10:02:00+00:00", "json-ld")
    assert fields["authors"] == (["Jane Doe"], "json-ld")  # JSON-LD wins over <meta>
    assert fields["section"] == ("World", "json-ld")
    assert fields["topic"] == ("Diplomacy", "kicker")
    assert fields["language"] == ("en", "html lang")
    assert fields["lead"][1] == "opengraph"
    assert fields["body"][0].startswith("Negotiators from both sides met again in Geneva")
    assert fields["body"][1].startswith("trafilatura")
    assert found["word_count"] > 100 and found["warnings"] == []
    assert not any(tmp_path.iterdir())  # stores nothing

    table = veille("--config", tmp_path / "none.toml", "try", url)
    assert table.returncode == 0, table.stderr
    assert "  authors    Jane Doe  [json-ld]" in table.stdout
    assert "  topic      Diplomacy  [kicker]" in table.stdout


def test_try_a_listing_page_shows_the_links_a_crawl_would_follow(site, tmp_path):
    result = veille("--config", tmp_path / "none.toml", "try", site.url("/world/"))
    assert result.returncode == 0, result.stderr
    assert "a crawl would follow 3 links" in result.stdout
    assert site.url("/news/2026/11/19/harbour-pilots-strike-over-night-shifts.html") \
        in result.stdout


# -- OPML ----------------------------------------------------------------------------


def test_feed_readers_opml_exports_are_read_with_their_folders_as_topics():
    miniflux = read_opml((OPML / "miniflux.opml").read_bytes(), "miniflux.opml")
    assert [(o.url, o.title, o.category) for o in miniflux] == [
        ("https://www.lorientlejour.com/rss/liban.xml", "L'Orient-Le Jour - Liban", "Liban"),
        ("https://www.lemonde.fr/international/rss_full.xml", "Le Monde - International",
         "Monde"),
        ("https://feeds.bbci.co.uk/news/world/rss.xml", "BBC News - World", "Monde"),
    ]
    netnewswire = read_opml((OPML / "netnewswire.opml").read_bytes(), "nnw.opml")
    assert [(o.title, o.category) for o in netnewswire] == [
        ("Jeune Afrique", "Monde / Afrique"), ("BBC News - World", "Monde"),
        ("Daring Fireball", None),
    ]
    feedly = read_opml((OPML / "feedly.opml").read_bytes(), "feedly.opml")
    assert [(o.title, o.category) for o in feedly] == [
        ("OC Media", "Caucase"), ("CivilNet", "Caucase"),
        ("Le Monde - International", "Monde"),
    ]
    # An outline with only a page's URL (and no text, else listparser takes it for a
    # folder) is read as a page, and not imported.
    page = read_opml(b'<opml version="2.0"><body><outline htmlUrl="https://a.org/"/>'
                     b'</body></opml>', "pages.opml")
    assert [(o.url, o.feed) for o in page] == [("https://a.org/", False)]
    entries, skipped = plan_import(page, _empty_config())
    assert entries == [] and skipped[0].reason.startswith("a page without a feed URL")
    with pytest.raises(BadInputError, match="not an OPML subscription list"):
        read_opml(b"<html><body>hello</body></html>", "page.html")


def test_import_adds_feeds_with_topics_and_skips_those_configured(config):
    result = veille("--config", config, "sources", "import", OPML / "miniflux.opml")
    assert result.returncode == 0, result.stderr
    assert "3 sources added" in result.stdout
    assert "added lorientlejour-rss-liban: https://www.lorientlejour.com/rss/liban.xml  " \
           "(topic: Liban)" in result.stdout
    block = appended(config)
    assert block.startswith("\n\n# Imported from miniflux.opml by `veille sources import`\n")
    sources = {s.id: s for s in load_config(config).sources}
    assert sources["lemonde-international-rss-full"].topic == "Monde"
    assert sources["feeds-bbci-news-world-rss"].name == "BBC News - World"
    assert {s.kind for s in sources.values()} == {"feed"}

    # NetNewsWire's list shares the BBC feed: skipped, said so; the others added.
    second = veille("--config", config, "sources", "import", OPML / "netnewswire.opml")
    assert second.returncode == 0, second.stderr
    assert ("skipped https://feeds.bbci.co.uk/news/world/rss.xml: already configured as "
            "'feeds-bbci-news-world-rss'") in second.stdout
    assert "2 sources added" in second.stdout and "1 skipped" in second.stdout
    topics = {s.url: s.topic for s in load_config(config).sources}
    assert topics["https://www.jeuneafrique.com/feed/"] == "Monde / Afrique"
    assert topics["https://daringfireball.net/feeds/main"] is None


def test_import_dry_run_writes_nothing(config):
    result = veille("--config", config, "sources", "import", OPML / "feedly.opml",
                    "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would add oc-media-feed: https://oc-media.org/feed/  (topic: Caucase)" \
        in result.stdout
    assert "3 sources would be added" in result.stdout
    assert config.read_text(encoding="utf-8") == CONFIG


def test_export_then_import_round_trips(config, tmp_path):
    assert veille("--config", config, "sources", "import",
                  OPML / "netnewswire.opml").returncode == 0
    exported = tmp_path / "out.opml"
    result = veille("--config", config, "sources", "export", "-o", exported)
    assert result.returncode == 0, result.stderr
    assert "4 feeds exported" in result.stderr
    fresh = tmp_path / "fresh.toml"
    fresh.write_text('[crawl]\nuser_agent = "T"\n', encoding="utf-8")
    back = veille("--config", fresh, "sources", "import", exported)
    assert back.returncode == 0, back.stderr
    def shape(path):  # ids are derived again from the URLs: "existing" gets another
        return sorted((s.name, s.kind, s.url, s.topic) for s in load_config(path).sources)

    assert shape(fresh) == shape(config)
    # And the export is the OPML feed readers read: the same outlines as read directly.
    assert [(o.url, o.category) for o in read_opml(exported.read_bytes(), "out")] == \
        [(s.url, s.topic) for s in load_config(config).sources]


# -- the pieces, in process ------------------------------------------------------------


def _empty_config():
    from crawler.config.model import parse_config

    return parse_config({}, Path("veille.toml"))


def test_ids_come_from_host_and_path_and_are_unique():
    assert derive_id("https://www.lorientlejour.com/rss/dernieres-infos.xml") == \
        "lorientlejour-rss-dernieres-infos"
    assert derive_id("https://feeds.bbci.co.uk/news/world/rss.xml") == \
        "feeds-bbci-news-world-rss"
    assert derive_id("https://www.lorientlejour.com/") == "lorientlejour"
    assert derive_id("https://example.org/sitemap-news.xml.gz") == "example-sitemap-news"
    assert derive_id("https://www.lorientlejour.com/", ["lorientlejour", "lorientlejour-2"]) \
        == "lorientlejour-3"
    assert derive_id("https://élysée.fr/actualités/") == "elysee-actualites"
    assert len(derive_id("https://x.org/" + "a-long-segment/" * 20)) <= 48


def test_append_keeps_crlf_files_and_refuses_inline_source_arrays(tmp_path):
    crlf = tmp_path / "crlf.toml"
    crlf.write_bytes(b'# windows\r\n[crawl]\r\nuser_agent = "T"\r\n')
    append_sources(crlf, [{"id": "a", "kind": "feed", "url": "https://a.org/feed"}])
    data = crlf.read_bytes()
    assert data.startswith(b'# windows\r\n[crawl]\r\nuser_agent = "T"\r\n\r\n[[source]]\r\n')
    assert b"\n" not in data.replace(b"\r\n", b"")
    inline = tmp_path / "inline.toml"
    inline.write_text('source = [{id = "a", kind = "feed", url = "https://a.org/f"}]\n')
    with pytest.raises(ConfigError, match="inline array"):
        append_sources(inline, [{"id": "b", "kind": "feed", "url": "https://b.org/f"}])


def test_write_opml_nests_folders_as_topics_say():
    config_text = (
        '[[source]]\nid = "a"\nname = "A & co"\nkind = "feed"\nurl = "https://a.org/f?x=1&y=2"\n'
        'topic = "Monde / Afrique"\n'
    )
    config = tomllib.loads(config_text)
    from crawler.config.model import parse_config

    sources = parse_config(config, Path("x.toml")).sources
    text = write_opml(sources)
    assert '<outline text="Monde" title="Monde">' in text
    assert 'xmlUrl="https://a.org/f?x=1&amp;y=2"' in text
    outlines = read_opml(text.encode(), "x")
    assert [(o.url, o.title, o.category) for o in outlines] == [
        ("https://a.org/f?x=1&y=2", "A & co", "Monde / Afrique")]
    entries, skipped = plan_import(outlines, parse_config(config, Path("x.toml")))
    assert entries == [] and skipped[0].reason == "already configured as 'a'"


def test_urls_without_a_scheme_get_a_suggestion():
    assert require_http_url("https://example.org/x") == "https://example.org/x"
    for given, suggested in [("www.example.org", "https://www.example.org"),
                             ("example.org:8080/rss", "https://example.org:8080/rss"),
                             ("//example.org/rss", "https://example.org/rss")]:
        with pytest.raises(BadInputError, match=f"did you mean {suggested}\\?"):
            require_http_url(given)
    with pytest.raises(BadInputError, match="only http:// and https://"):
        require_http_url("ftp://example.org/feed")


def test_extraction_says_where_each_field_was_read_and_still_compares_equal():
    page = FIXTURES / "sites" / "adding" / "news" / "2026" / "11" / "20" / \
        "ceasefire-talks-resume-in-geneva.html"
    html = page.read_text(encoding="utf-8").replace("{{ORIGIN}}", "https://herald.example")
    url = "https://herald.example/news/2026/11/20/ceasefire-talks-resume-in-geneva.html"
    article = extract_article(html, url)
    assert article.origins["title"] == "json-ld"
    assert article.origins["published"] == "json-ld"
    assert article.origins["canonical_url"] == "link"
    assert article.origins["body"].startswith("trafilatura")
    other = extract_article(html, url, selectors={"title": "h1"})
    assert other.origins["title"] == "selector"
    assert other == article  # the same values: where they were read is not compared


def test_a_gzipped_sitemap_is_read_as_the_crawl_reads_it(site):
    from crawler.page.fetch import fetch
    from crawler.page.probe import read_document

    xml = (FIXTURES / "sites" / "adding" / "sitemap-news.xml").read_bytes()
    site.overrides["/sitemap-news.xml.gz"] = (
        200, {"Content-Type": "application/gzip"},
        gzip.compress(xml.replace(b"{{ORIGIN}}", b"https://herald.example")))
    fetched = fetch(site.url("/sitemap-news.xml.gz"), "Veille-test/0.1", timeout=10)
    document = read_document(fetched.body, fetched.final_url, fetched.content_type)
    assert (document.kind, document.format) == ("sitemap", "news sitemap")
    assert [h.url for h in document.hints] == [
        "https://herald.example/news/2026/11/20/ceasefire-talks-resume-in-geneva.html",
        "https://herald.example/news/2026/11/19/harbour-pilots-strike-over-night-shifts.html",
    ]
    # A gzip bomb stops at the size cap.
    site.overrides["/bomb.xml.gz"] = (200, {}, gzip.compress(b"<" * 5_000_000))
    assert fetch(site.url("/bomb.xml.gz"), "T", max_bytes=100_000).truncated
