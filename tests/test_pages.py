"""Raw pages kept in WARC files (crawler/record/pages.py), `[crawl] keep_pages`, and
`veille reextract`: crawls of the mini site on 127.0.0.1 through the `veille` command."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import PROJECT, crawl, rows, veille, write_config
from warcio.archiveiterator import ArchiveIterator

from crawler.config.model import load_config
from crawler.errors import ConfigError, PageError, PageGone
from crawler.page.charset import decode_html
from crawler.page.extract import extract_article
from crawler.record.pages import DAY_FILE, PageArchive, PageRef
from crawler.record.schema import connect

TOPIC = """
[[source]]
id = "mini-topic"
kind = "topic"
url = "{site}/news/conflicts/"
topic = "Conflicts"
"""
# A conflict the Geneva story matches, and a desk that also wants update alerts: a
# re-extraction that went through the outbox would queue one.
ALERTING = """
[[conflict]]
id = "geneva"
name = "Geneva talks"
aliases = ["Geneva", "ceasefire"]

[[subscription]]
id = "desk"
conflicts = ["geneva"]
updates = true
[subscription.feed]
"""
ARTICLE = "/news/2026/11/20/ceasefire-talks-resume-in-geneva.html"


def pointers(db: Path) -> dict[tuple[str, int], PageRef]:
    """(canonical URL, version) -> the page pointer stored for that version."""
    return {
        (r["canonical_url"], r["version"]): PageRef(r["file"], r["byte_offset"], r["record_id"])
        for r in rows(db, "SELECT a.canonical_url, p.version, p.file, p.byte_offset, "
                          "p.record_id FROM article_pages p JOIN articles a ON a.id = p.article_id")
    }


def served(site, path: str) -> tuple[int, dict[str, str], bytes]:
    """What the fixture server sends for `path`: status, headers (lower-case names), body."""
    status, headers, body = site.resolve(path)
    return status, {k.lower(): v for k, v in headers.items()}, body


def test_a_crawl_keeps_each_article_page_as_the_server_sent_it(mini_site, tmp_path):
    config = write_config(tmp_path / "veille.toml", mini_site.origin, TOPIC)
    db = tmp_path / "veille.db"
    result = crawl(config, db)
    assert result.returncode == 0, result.stderr
    articles = rows(db, "SELECT id, canonical_url, version FROM articles")
    kept = pointers(db)
    assert len(articles) == 6
    # Every version points to a record; the pointer is a day file name, never a path.
    assert set(kept) == {(a["canonical_url"], 1) for a in articles}
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert {ref.file for ref in kept.values()} <= {
        f"{today}.warc.gz", f"{(datetime.now(UTC) - timedelta(days=1)):%Y-%m-%d}.warc.gz"}
    assert all(DAY_FILE.match(ref.file) for ref in kept.values())
    archive = PageArchive(tmp_path / "pages")  # beside the database, not inside it
    for (url, _), ref in kept.items():
        page = archive.read(ref)
        status, headers, body = served(mini_site, url.removeprefix(mini_site.origin))
        assert page.url == url and page.status == status == 200
        assert page.body == body  # byte for byte what the server sent
        for name in ("content-type", "etag", "last-modified"):
            assert page.header(name) == headers[name], name
        assert page.fetched_at.endswith("Z")
    # The day file is a valid WARC file: a warcinfo record, then one response per page.
    with open(tmp_path / "pages" / next(iter(kept.values())).file, "rb") as fh:
        types = [record.rec_type for record in ArchiveIterator(fh)]
    assert types[0] == "warcinfo" and types.count("response") == 6


def test_a_changed_page_is_a_new_record_and_the_earlier_version_keeps_its_own(
        mini_site, tmp_path):
    config = write_config(tmp_path / "veille.toml", mini_site.origin, TOPIC)
    db = tmp_path / "veille.db"
    assert crawl(config, db).returncode == 0
    first = pointers(db)
    edition_1 = served(mini_site, ARTICLE)[2]
    mini_site.edition = 2  # the Geneva story is updated, one article is new
    result = crawl(config, db)
    assert result.returncode == 0, result.stderr
    assert "1 updated" in result.stdout
    second = pointers(db)
    url = mini_site.url(ARTICLE)
    assert second[(url, 1)] == first[(url, 1)]  # the earlier version keeps its pointer
    assert second[(url, 2)] != first[(url, 1)]
    archive = PageArchive(tmp_path / "pages")
    assert archive.read(second[(url, 1)]).body == edition_1
    assert archive.read(second[(url, 2)]).body == served(mini_site, ARTICLE)[2] != edition_1
    # Articles that were not fetched again keep theirs; the new one has its own.
    unchanged = {k: v for k, v in first.items() if k[0] != url}
    assert all(second[k] == v for k, v in unchanged.items())
    assert len(second) == len(first) + 2


def test_appends_from_several_processes_do_not_interleave(tmp_path):
    writer = (
        "import json, sys\n"
        "from datetime import datetime, UTC\n"
        "from crawler.record.pages import PageArchive\n"
        "archive = PageArchive(sys.argv[1])\n"
        "day = datetime(2026, 11, 20, 12, tzinfo=UTC)\n"
        "refs = [archive.write(f'http://example.test/{sys.argv[2]}/{i}', 200,\n"
        "                      [('Content-Type', 'text/html')], sys.argv[2].encode() * 20000, day)\n"
        "        for i in range(60)]\n"
        "print(json.dumps([[r.file, r.offset, r.record_id] for r in refs]))\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", writer, str(tmp_path), name],
                              stdout=subprocess.PIPE, text=True, cwd=PROJECT)
             for name in ("a", "b", "c")]
    outputs = [proc.communicate(timeout=60)[0] for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    archive = PageArchive(tmp_path)
    for name, output in zip(("a", "b", "c"), outputs, strict=True):
        for i, ref in enumerate(json.loads(output)):
            page = archive.read(PageRef(*ref))
            assert page.url == f"http://example.test/{name}/{i}"
            assert page.body == name.encode() * 20000
    with open(tmp_path / "2026-11-20.warc.gz", "rb") as fh:
        assert sum(1 for r in ArchiveIterator(fh) if r.rec_type == "response") == 180


def test_a_pointer_leads_only_to_its_own_record_in_the_pages_dir(tmp_path):
    archive = PageArchive(tmp_path / "pages")
    day = datetime(2026, 11, 20, 23, 59, tzinfo=UTC)
    one = archive.write("http://example.test/1", 200, [], b"one", day)
    two = archive.write("http://example.test/2", 200, [], b"two", day)
    assert (one.file, two.file) == ("2026-11-20.warc.gz", "2026-11-20.warc.gz")
    (tmp_path / "secret.warc.gz").write_bytes((tmp_path / "pages" / one.file).read_bytes())
    for bad in (PageRef("../secret.warc.gz", one.offset, one.record_id),
                PageRef("/etc/passwd", 0, one.record_id),
                PageRef(one.file, one.offset + 1, one.record_id),
                PageRef(one.file, two.offset, one.record_id)):
        with pytest.raises(PageError):
            archive.read(bad)
    with pytest.raises(PageGone):
        archive.read(PageRef("2026-01-01.warc.gz", 0, one.record_id))
    assert archive.read(two).body == b"two"


def test_keep_pages_removes_the_day_files_older_than_the_setting(tmp_path):
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    archive = PageArchive(tmp_path, clock=lambda: now)
    for day in (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 30, 23, tzinfo=UTC),
                datetime(2026, 10, 31, 1, tzinfo=UTC), now):
        archive.write("http://example.test/", 200, [], b"x", day)
    (tmp_path / "notes.txt").write_text("not a day file")
    assert archive.prune(None) == [] and archive.prune(timedelta(0)) == []
    # 30 days before now is 2026-10-31 12:00: a day file goes once its whole day is older.
    assert archive.prune(timedelta(days=30)) == ["2026-10-01.warc.gz", "2026-10-30.warc.gz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "2026-10-31.warc.gz", "2026-11-30.warc.gz", "notes.txt"]


def test_a_crawl_removes_day_files_older_than_keep_pages(mini_site, tmp_path):
    config = write_config(tmp_path / "veille.toml", mini_site.origin, TOPIC,
                          crawl='keep_pages = "2d"')
    db = tmp_path / "veille.db"
    pages = tmp_path / "pages"
    old = PageArchive(pages).write("http://example.test/", 200, [], b"old",
                                   datetime.now(UTC) - timedelta(days=3))
    assert crawl(config, db).returncode == 0
    assert not (pages / old.file).exists()
    assert {ref.file for ref in pointers(db).values()} <= {p.name for p in pages.iterdir()}


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(None, 30 * 86400), ('"7d"', 7 * 86400), ('"12h"', 12 * 3600), ("0", 0), ('"0"', 0)],
)
def test_keep_pages_setting(tmp_path, value, seconds):
    config = write_config(tmp_path / "veille.toml", "http://127.0.0.1:9", TOPIC,
                          crawl=f"keep_pages = {value}" if value else "")
    assert load_config(config).crawl.keep_pages_seconds == seconds


@pytest.mark.parametrize("value", ['"a month"', '"-1d"', "true", "2.5"])
def test_a_bad_keep_pages_is_refused_naming_the_file(tmp_path, value):
    config = write_config(tmp_path / "veille.toml", "http://127.0.0.1:9", TOPIC,
                          crawl=f"keep_pages = {value}")
    with pytest.raises(ConfigError, match=r"veille\.toml: \[crawl\].*keep_pages"):
        load_config(config)


def reextract(config: Path, db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return veille("--config", config, "--db", db, "reextract", *args)


def test_reextract_records_a_new_version_and_queues_no_alert(mini_site, tmp_path):
    config = write_config(tmp_path / "veille.toml", mini_site.origin, TOPIC + ALERTING)
    db = tmp_path / "veille.db"
    assert crawl(config, db).returncode == 0
    alerts = rows(db, "SELECT * FROM alerts")
    assert alerts  # the outbox works in a crawl
    [before] = rows(db, "SELECT * FROM articles WHERE canonical_url = ?", [mini_site.url(ARTICLE)])
    assert "Negotiators from both delegations" in before["body"]

    # What an older, worse extractor would have stored.
    db_conn = connect(db)
    with db_conn.conn:
        db_conn.execute("UPDATE articles SET body = 'Share this article. Subscribe now.', "
                        "content_hash = 'older-extractor' WHERE id = ?", [before["id"]])
    db_conn.close()
    result = reextract(config, db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "6 articles re-extracted: 1 changed, 5 unchanged, 0 without a kept page")
    [after] = rows(db, "SELECT * FROM articles WHERE id = ?", [before["id"]])
    assert after["version"] == 2
    assert after["body"] == before["body"] and after["content_hash"] == before["content_hash"]
    assert after["last_fetched_at"] == before["last_fetched_at"]  # nothing was fetched
    [old] = rows(db, "SELECT * FROM article_versions WHERE article_id = ?", [before["id"]])
    assert (old["version"], old["body"], old["superseded_by"]) == (
        1, "Share this article. Subscribe now.", "reextract")
    kept = pointers(db)
    assert kept[(before["canonical_url"], 2)] == kept[(before["canonical_url"], 1)]
    assert rows(db, "SELECT * FROM alerts") == alerts  # no alert, not even an update alert
    assert rows(db, "SELECT conflict_id FROM article_conflicts WHERE article_id = ?",
                [before["id"]]) == [{"conflict_id": "geneva"}]

    # Nothing changes twice; a change of the source's selectors changes every text.
    again = reextract(config, db)
    assert again.stdout.strip().endswith("0 changed, 6 unchanged, 0 without a kept page")
    config.write_text(config.read_text().replace(
        'topic = "Conflicts"', 'topic = "Conflicts"\nselectors = { body = "article p:last-of-type" }'))
    result = reextract(config, db, "--source", "mini-topic")
    assert result.returncode == 0, result.stderr
    assert "6 changed, 0 unchanged" in result.stdout
    [now] = rows(db, "SELECT body, version FROM articles WHERE id = ?", [before["id"]])
    assert now == {"version": 3, "body": "The next round is expected on Monday, when military "
                   "experts are due to join the political delegations."}
    assert rows(db, "SELECT * FROM alerts") == alerts
    # A re-extraction is not a change on the site: the canned query leaves it out, and
    # `veille history` says so.
    assert rows(db, "SELECT count(*) AS n FROM article_versions WHERE superseded_by IS NULL") == [
        {"n": 0}]
    history = veille("--config", config, "--db", db, "history", mini_site.url(ARTICLE))
    assert history.returncode == 0, history.stderr
    assert history.stdout.count("re-extracted from the same page") == 2


def test_reextract_counts_pages_no_longer_kept_and_fails_on_unreadable_ones(mini_site, tmp_path):
    config = write_config(tmp_path / "veille.toml", mini_site.origin, TOPIC)
    db = tmp_path / "veille.db"
    assert crawl(config, db).returncode == 0
    [gone, broken] = rows(db, "SELECT id, canonical_url FROM articles ORDER BY id LIMIT 2")
    db_conn = connect(db)
    with db_conn.conn:
        # A day file removed by keep_pages (a dangling pointer), and one that leads nowhere.
        db_conn.execute("UPDATE article_pages SET file = '2001-01-01.warc.gz' "
                        "WHERE article_id = ?", [gone["id"]])
        db_conn.execute("UPDATE article_pages SET byte_offset = byte_offset + 7 "
                        "WHERE article_id = ?", [broken["id"]])
        # An article stored before pages were kept (or by a `veille worker`): no pointer.
        db_conn.execute("DELETE FROM article_pages WHERE article_id = 3")
    db_conn.close()
    result = reextract(config, db)
    assert result.returncode == 1
    assert result.stdout.strip() == ("6 articles re-extracted: 0 changed, 3 unchanged, "
                                     "2 without a kept page, 1 could not be read")
    [error] = result.stderr.strip().splitlines()
    assert error.startswith(f"veille reextract: {broken['canonical_url']}: page not readable")
    # --since: only articles whose page was fetched then or later.
    since = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    later = reextract(config, db, "--since", since)
    assert (later.returncode, later.stdout.strip()) == (
        0, "0 articles re-extracted: 0 changed, 0 unchanged, 0 without a kept page")


def test_reextract_refuses_an_unknown_source_or_date(mini_site, tmp_path):
    config = write_config(tmp_path / "veille.toml", mini_site.origin, TOPIC)
    db = tmp_path / "veille.db"
    unknown = reextract(config, db, "--source", "nope")
    assert unknown.returncode == 2
    assert "no source with id 'nope'" in unknown.stderr
    bad_date = reextract(config, db, "--since", "last week")
    assert bad_date.returncode == 2 and "--since" in bad_date.stderr
    help_text = veille("reextract", "--help")
    assert help_text.returncode == 0 and "Example: veille reextract" in help_text.stdout


@pytest.mark.parametrize("body", [b"", b"<p>un</p>", "<p>\u00e9t\u00e9</p>".encode() * 40000])
def test_a_record_is_the_one_warcio_writes_with_its_digests_checked(tmp_path, monkeypatch, body):
    """The length and digests computed beforehand make the very record warcio makes when it
    computes them itself (same bytes, same header order), and a reader checking the
    digests accepts it."""
    import io
    import itertools
    import zlib

    from warcio.statusandheaders import StatusAndHeadersParser
    from warcio.warcwriter import WARCWriter

    from crawler.record import pages

    ids = itertools.count()
    monkeypatch.setattr(StatusAndHeadersParser, "make_warc_id",
                        staticmethod(lambda id_=None: f"<urn:uuid:{next(ids):08d}>"))
    day = datetime(2026, 11, 20, 12, tzinfo=UTC)
    headers = [("Content-Type", "text/html"), ("Transfer-Encoding", "chunked"),
               ("X-Note", "\u00e9t\u00e9")]
    ref = PageArchive(tmp_path).write("http://example.test/a", 404, headers, body, day)
    with open(tmp_path / ref.file, "rb") as fh:
        fh.seek(ref.offset)
        ours = zlib.decompressobj(zlib.MAX_WBITS + 16).decompress(fh.read())
    ids = itertools.count()  # the id the response above was given (1 went to warcinfo)
    writer = WARCWriter(None, gzip=False)
    record = writer.create_warc_record(
        "http://example.test/a", "response", payload=io.BytesIO(body),
        http_headers=pages._status_and_headers(404, headers),
        warc_headers_dict={"WARC-Date": "2026-11-20T12:00:00Z"})
    theirs = io.BytesIO()
    WARCWriter(theirs, gzip=False).write_record(record)
    assert ours == theirs.getvalue()
    with open(tmp_path / ref.file, "rb") as fh:
        records = list(ArchiveIterator(fh, check_digests="raise"))
        assert [r.rec_type for r in records] == ["warcinfo", "response"]
    assert PageArchive(tmp_path).read(ref).body == body


def test_records_are_written_with_zlib_where_isal_is_not_installed(tmp_path, monkeypatch):
    import zlib

    from crawler.record import pages

    monkeypatch.setattr(pages, "_deflate", zlib)
    monkeypatch.setattr(pages, "_DEFLATE_LEVEL", pages.GZIP_LEVEL)
    archive = PageArchive(tmp_path)
    day = datetime(2026, 11, 20, 12, tzinfo=UTC)
    refs = [archive.write(f"http://example.test/{i}", 200, [("Content-Type", "text/html")],
                          b"<p>page</p>" * (i * 5000), day) for i in range(3)]
    assert [archive.read(ref).body for ref in refs] == [b"<p>page</p>" * (i * 5000)
                                                        for i in range(3)]
    with open(tmp_path / refs[0].file, "rb") as fh:
        assert len(list(ArchiveIterator(fh, check_digests="raise"))) == 4


def warcio_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """warcio's own command line (`warcio index`, `warcio check`), run as a user would."""
    return subprocess.run([sys.executable, "-c", "from warcio.cli import main; main()",
                           *map(str, args)], capture_output=True, text=True, timeout=60)


def test_day_files_open_in_warcio_and_each_version_re_extracts_to_its_stored_body(
        mini_site, tmp_path):
    """Any WARC tool reads the kept pages, and each stored version's record, extracted
    again, gives the very body that version stored (the current and the earlier one)."""
    config = write_config(tmp_path / "veille.toml", mini_site.origin, TOPIC)
    db = tmp_path / "veille.db"
    assert crawl(config, db).returncode == 0
    mini_site.edition = 2
    assert crawl(config, db).returncode == 0
    bodies = {(r["id"], r["version"]): r["body"] for r in rows(
        db, "SELECT id, version, body FROM articles UNION ALL "
            "SELECT article_id, version, body FROM article_versions")}
    kept = {(r["article_id"], r["version"]): r for r in rows(db, "SELECT * FROM article_pages")}
    assert set(kept) == set(bodies) and len(kept) == 8  # 7 articles, one with 2 versions
    files = {r["file"] for r in kept.values()}

    # `warcio index` lists a response record at each offset the record points to, for
    # the URL of its article; `warcio check` finds every digest right.
    indexed = {}
    for name in files:
        path = tmp_path / "pages" / name
        result = warcio_cli("index", "-f", "warc-type,warc-target-uri,offset", path)
        assert result.returncode == 0, result.stderr
        for line in result.stdout.splitlines():
            entry = json.loads(line)
            if entry["warc-type"] == "response":
                indexed[(name, int(entry["offset"]))] = entry["warc-target-uri"]
        check = warcio_cli("check", "-v", path)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "digest pass" in check.stdout and "digest fail" not in check.stdout
    urls = {r["id"]: r["canonical_url"] for r in rows(db, "SELECT id, canonical_url FROM "
                                                          "articles")}
    for (article_id, _), ref in kept.items():
        assert indexed[(ref["file"], ref["byte_offset"])] == urls[article_id]

    # Read with warcio's ArchiveIterator at the stored offset, not Veille's reader, and
    # extracted as `veille reextract` does: the body stored for that very version.
    for key, ref in kept.items():
        with open(tmp_path / "pages" / ref["file"], "rb") as fh:
            fh.seek(ref["byte_offset"])
            record = next(iter(ArchiveIterator(fh)))
            assert record.rec_headers.get_header("WARC-Record-ID") == ref["record_id"]
            body = record.content_stream().read()
            content_type = record.http_headers.get_header("Content-Type")
            url = record.rec_headers.get_header("WARC-Target-URI")
        html, _ = decode_html(body, content_type)
        assert extract_article(html, url).body == bodies[key], key
    # And `veille reextract` over them changes nothing.
    result = veille("--config", config, "--db", db, "reextract")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "7 articles re-extracted: 0 changed, 7 unchanged, 0 without a kept page")
