"""The hostile-input suite (issue 15): one `veille crawl --send` of sources that each meet a
different attack from an evil server on 127.0.0.1 (tests/evil_server.py), beside good
articles that must all be stored.

Counted over the whole crawl, and printed at the end of the test session:
- crashes: a traceback on stderr, an exit status other than 0, 1 or 3, or a failure
  recorded under a Python exception's name or as a parse failure (Veille's own code broke);
- hangs: the crawl not ending within its `[schedule] timeout` (plus the stop grace);
- entries lost: good articles linked by a hostile document and missing from the record;
- secrets found: configured secrets (webhook token and signing secret, SMTP password) in
  the SQLite file that `veille serve` publishes.
Each case also has its own expectations (the run's status, the rows that say what went
wrong), so that a case can only pass by being handled, not by being ignored.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import rows, veille
from tests.evil_server import (
    ConnectionCounter,
    EvilHandler,
    EvilServer,
    article_page,
    gzip_bomb,
)

pytest_plugins = ["redis_server"]

SECRETS = {"token": "tok3n-QX7-never-stored", "signing": "s1gning-QX7-secret",
           "smtp": "smtp-QX7-passw0rd"}
CAP_KB = 1024  # [crawl] max_response_kb of the suite's config
LINKS_CAP = 30  # [crawl] max_links_per_listing
STOP_AFTER = 60  # [schedule] timeout, seconds


@dataclass
class Case:
    """A source meeting one attack: its config, the routes that serve it, the good
    articles it links to, and what its run must say."""

    id: str
    kind: str
    path: str
    attack: str
    status: set[str]
    good: list[str] = field(default_factory=list)  # article paths that must be stored
    kinds: set[str] = field(default_factory=set)  # fetch_errors kinds that must appear
    extra: str = ""  # more [[source]] keys
    routes: dict[str, Callable[[EvilHandler], None]] = field(default_factory=dict)


def good(case: str, n: int) -> list[str]:
    return [f"/a/{case}/{k}.html" for k in range(n)]


def rss(origin: str, links: list[str], head: str = "", title: str = "Feed") -> bytes:
    items = "".join(
        f"<item><title>Entry {k}</title>"
        + (f"<link>{link if '://' in link or ':' in link[:11] else origin + link}</link>"
           if link is not None else "")
        + "</item>" for k, link in enumerate(links))
    return (f'<?xml version="1.0"?>{head}<rss version="2.0"><channel><title>{title}</title>'
            f"{items}</channel></rss>").encode()


def urlset(entries: list[str], lastmod: str = "") -> str:
    return "".join(f"<url><loc>{loc}</loc>{lastmod}</url>" for loc in entries)


SITEMAP_HEAD = '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
LAUGHS = ('<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
          + "".join(f'<!ENTITY {b} "{("&" + a + ";") * 10}">'
                    for a, b in zip("abcdefgh", "bcdefghi", strict=True)) + "]>")


def static(body: bytes, content_type: str, status: int = 200,
           headers: dict[str, str] | None = None) -> Callable[[EvilHandler], None]:
    return lambda h: h.send(status, body, content_type, headers)


def redirect(location: str, status: int = 302) -> Callable[[EvilHandler], None]:
    return lambda h: h.send(status, b"", "text/html", {"Location": location})


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cases(evil: EvilServer, other: EvilServer, ftp_port: int, secret_file: Path,
          dead_port: int) -> list[Case]:
    o = evil.origin
    published = evil.published
    cp1252 = article_page("charset", 0, published).replace(
        b"report 0:", "report 0: é à ç".encode()).decode().encode("cp1252")
    broken_ld = article_page("jsonld", 0, published).replace(
        b"</head>", b'<script type="application/ld+json">{"@type": "NewsArticle", '
        b'"headline": "half</script></head>')
    return [
        Case("bad-links", "feed", "/feeds/links.xml",
             "javascript:, mailto:, tel:, ftp:, data:, malformed and link-less entries, one "
             "on another host, between good ones", {"partial"}, good("bad-links", 4),
             {"entry-skipped"}, routes={"/feeds/links.xml": static(rss(o, [
                 "/a/bad-links/0.html", "javascript:void(0)", "mailto:desk@example.org",
                 "/a/bad-links/1.html", "tel:+33100000000", f"ftp://127.0.0.1:{ftp_port}/x",
                 "data:text/html,hi", "/a/bad-links/2.html", "http://[::1", None,
                 "http://elsewhere.invalid/a/1.html", "/a/bad-links/3.html"]),
                 "application/rss+xml")}),
        Case("relative-sitemap", "sitemap", "/maps/news/relative.xml",
             "relative <loc>s", {"ok"}, good("relative-sitemap", 3),
             routes={"/maps/news/relative.xml": static((SITEMAP_HEAD + urlset([
                 "../../a/relative-sitemap/0.html", "/a/relative-sitemap/1.html",
                 f"{o}/a/relative-sitemap/2.html"]) + "</urlset>").encode(),
                 "application/xml")}),
        Case("endless-sitemap", "sitemap", "/maps/endless.xml",
             "a sitemap that never ends (no Content-Length)", {"partial"},
             good("endless-sitemap", 5), {"cut-off"},
             routes={"/maps/endless.xml": lambda h: h.stream(
                 (SITEMAP_HEAD + urlset([f"{o}{p}" for p in good("endless-sitemap", 5)])
                  ).encode(),
                 urlset([f"{o}/old/gone.html"],
                        "<lastmod>2001-01-01</lastmod>").encode() * 200,
                 {"Content-Type": "application/xml"})}),
        Case("huge-sitemap", "sitemap", "/maps/huge.xml",
             "a sitemap declaring 1 GB (Content-Length), cut by the server after 2 MB",
             {"partial"}, good("huge-sitemap", 5), {"cut-off"},
             routes={"/maps/huge.xml": lambda h: h.stream(
                 (SITEMAP_HEAD + urlset([f"{o}{p}" for p in good("huge-sitemap", 5)])
                  ).encode(),
                 urlset([f"{o}/old/gone.html"],
                        "<lastmod>2001-01-01</lastmod>").encode() * 200,
                 {"Content-Type": "application/xml", "Content-Length": str(1 << 30)},
                 limit=2 << 20)}),
        Case("dropped-feed", "feed", "/feeds/dropped.xml",
             "a feed whose connection closes before its Content-Length", {"partial"},
             good("dropped-feed", 5), {"cut-off"},  # the 6th is cut in its link
             routes={"/feeds/dropped.xml": lambda h: h.cut(
                 rss(o, good("dropped-feed", 6))[:-40], 100_000, "application/rss+xml")}),
        Case("gzip-bomb-feed", "feed", "/feeds/bomb.xml",
             "a feed that gunzips to 64 MB", {"failed"}, kinds={"too-large"},
             routes={"/feeds/bomb.xml": static(gzip_bomb(64 << 20), "application/rss+xml",
                                               headers={"Content-Encoding": "gzip"})}),
        Case("laughs-feed", "feed", "/feeds/laughs.xml",
             "a feed with a billion-laughs entity", {"ok"}, good("laughs-feed", 2),
             routes={"/feeds/laughs.xml": static(rss(
                 o, good("laughs-feed", 2), LAUGHS, "&i;"), "application/rss+xml")}),
        Case("xxe-feed", "feed", "/feeds/xxe.xml",
             "a feed whose title is an external entity naming a local file", {"ok"},
             good("xxe-feed", 2),
             routes={"/feeds/xxe.xml": static(rss(
                 o, good("xxe-feed", 2), f'<!DOCTYPE rss [<!ENTITY x SYSTEM '
                 f'"file://{secret_file}">]>', "&x;"), "application/rss+xml")}),
        Case("xxe-sitemap", "sitemap", "/maps/xxe.xml",
             "a sitemap whose <loc> is an external entity naming a local file", {"ok"},
             good("xxe-sitemap", 2),
             routes={"/maps/xxe.xml": static((
                 f'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY x SYSTEM '
                 f'"file://{secret_file}">]>' + SITEMAP_HEAD.split("?>", 1)[1]
                 + urlset([f"{o}{p}" for p in good("xxe-sitemap", 2)] + ["&x;"])
                 + "</urlset>").encode(), "application/xml")}),
        Case("drip-feed", "feed", "/feeds/drip.xml",
             "a feed sent one byte every 0.2 s, for ever", {"failed"}, kinds={"timeout"},
             routes={"/feeds/drip.xml": lambda h: h.drip("application/rss+xml")}),
        Case("silent-feed", "feed", "/feeds/silent.xml",
             "a server that accepts and never answers", {"failed"}, kinds={"timeout"},
             routes={"/feeds/silent.xml": lambda h: h.hold()}),
        Case("not-http", "feed", "/feeds/ssh.xml",
             "a server answering with no HTTP at all", {"failed"},
             routes={"/feeds/ssh.xml": lambda h: h.raw(b"SSH-2.0-OpenSSH_9.9\r\n")}),
        Case("dead-host", "feed", f"http://127.0.0.1:{dead_port}/feed.xml",
             "nothing listening", {"failed"}, kinds={"connection"}),
        Case("redirect-traps", "feed", "/feeds/redirects.xml",
             "entries redirecting in a loop, off-site, to ftp:, to another port",
             {"partial"}, good("redirect-traps", 3), {"redirect"},
             routes={
                 "/feeds/redirects.xml": static(rss(o, [
                     "/r/loop.html", "/a/redirect-traps/0.html", "/r/offsite.html",
                     "/r/ftp.html", "/a/redirect-traps/1.html", "/r/port.html",
                     "/a/redirect-traps/2.html"]), "application/rss+xml"),
                 "/r/loop.html": redirect(f"{o}/r/loop.html"),
                 "/r/offsite.html": redirect("http://elsewhere.invalid/a.html"),
                 "/r/ftp.html": redirect(f"ftp://127.0.0.1:{ftp_port}/a.html"),
                 "/r/port.html": redirect(f"{other.origin}/a/redirect-traps/9.html")}),
        Case("retry-after", "feed", "/feeds/busy.xml",
             "an entry answered 429 with Retry-After: 3600", {"partial"},
             good("retry-after", 2), {"http"},
             routes={"/feeds/busy.xml": static(rss(o, [
                 "/r/busy.html", *good("retry-after", 2)]), "application/rss+xml"),
                 "/r/busy.html": static(b"slow down", "text/plain", 429,
                                        {"Retry-After": "3600"})}),
        Case("flood-listing", "topic", "/topics/flood.html",
             "a listing page of 15,000 article links", {"ok"},
             [f"/a/flood-listing/{k}.html" for k in range(1000, 1000 + LINKS_CAP)],
             kinds={"listing-capped"},
             routes={"/topics/flood.html": static(("<html><body><main>" + "".join(
                 f'<a href="/a/flood-listing/{k}.html">Flood {k}</a> '
                 for k in range(1000, 16_000)) + "</main></body></html>").encode(),
                 "text/html; charset=utf-8")}),
        Case("wrong-charsets", "feed", "/feeds/charsets.xml",
             "a cp1252 page declaring UTF-8; a feed declared ISO-8859-1 in UTF-8", {"ok"},
             ["/c/cp1252.html"],
             routes={"/feeds/charsets.xml": static(
                 rss(o, ["/c/cp1252.html"], title="Crónica").replace(
                     b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="iso-8859-1"?>'),
                 "application/rss+xml; charset=iso-8859-1"),
                 "/c/cp1252.html": static(cp1252, "text/html; charset=utf-8")}),
        Case("hostile-pages", "feed", "/feeds/pages.xml",
             "pages: broken JSON-LD, 30,000 nested <div>s, binary garbage, 10 MB with a "
             "Content-Length, endless, a gzip bomb", {"partial"}, ["/p/jsonld.html"],
             {"too-large"},
             routes={
                 "/feeds/pages.xml": static(rss(o, [
                     "/p/jsonld.html", "/p/nested.html", "/p/binary.html", "/p/big.html",
                     "/p/endless.html", "/p/bomb.html"]), "application/rss+xml"),
                 "/p/jsonld.html": static(broken_ld, "text/html; charset=utf-8"),
                 "/p/nested.html": static(b"<html><body>" + b"<div>" * 30_000 + b"deep"
                                          + b"</div>" * 30_000 + b"</body></html>",
                                          "text/html"),
                 "/p/binary.html": static(bytes(range(256)) * 400, "text/html"),
                 "/p/big.html": static(b"<p>" + b"x" * (10 << 20) + b"</p>", "text/html"),
                 "/p/endless.html": lambda h: h.stream(b"<html><body>", b"<p>more</p>" * 1000,
                                                       {"Content-Type": "text/html"}),
                 "/p/bomb.html": static(gzip_bomb(64 << 20), "text/html",
                                        headers={"Content-Encoding": "gzip"})}),
    ]


def config_text(all_cases: list[Case], origin: str, hook_port: int, smtp_port: int) -> str:
    sources = "".join(
        f'[[source]]\nid = "{c.id}"\nkind = "{c.kind}"\n'
        f'url = "{c.path if "://" in c.path else origin + c.path}"\n{c.extra}\n'
        for c in all_cases)
    return f"""
[crawl]
user_agent = "Veille-test/0.1"
download_delay = 0
concurrency_per_domain = 16
timeout = 3
retries = 1
retry_backoff = 0
max_response_kb = {CAP_KB}
max_links_per_listing = {LINKS_CAP}

[schedule]
timeout = "{STOP_AFTER}s"

{sources}
[[conflict]]
id = "mountain"
name = "Mountain pass"
aliases = ["mountain pass", "ceasefire"]

[[subscription]]
id = "desk-hook"
conflicts = ["mountain"]
[subscription.webhook]
url = "http://127.0.0.1:{hook_port}/hooks/desk?token={SECRETS['token']}"
secret_env = "HOSTILE_HOOK_SECRET"

[[subscription]]
id = "desk-mail"
conflicts = ["mountain"]
[subscription.email]
host = "127.0.0.1"
port = {smtp_port}
security = "tls"
sender = "veille@example.org"
to = ["desk@example.org"]
username = "veille"
password_env = "HOSTILE_SMTP_PASSWORD"
"""


@dataclass
class Outcome:
    cases: list[Case]
    evil: EvilServer
    other: EvilServer
    ftp_connections: int
    db: Path
    returncode: int | None
    stderr: str
    seconds: float


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    tmp = tmp_path_factory.mktemp("hostile")
    secret_file = tmp / "secret.txt"
    secret_file.write_text("LOCAL-FILE-QX7-must-not-be-read\n")
    ftp = ConnectionCounter()
    threading.Thread(target=ftp.serve_forever, daemon=True).start()
    with EvilServer() as evil, EvilServer() as other:
        all_cases = cases(evil, other, ftp.port, secret_file, closed_port())
        for case in all_cases:
            evil.routes.update(case.routes)
        config = tmp / "veille.toml"
        config.write_text(config_text(all_cases, evil.origin, closed_port(), closed_port()))
        db = tmp / "veille.db"
        started = time.monotonic()
        try:
            result = veille("--config", config, "--db", db, "crawl", "--no-progress", "--send",
                            timeout=STOP_AFTER + 60, env={
                                "HOSTILE_HOOK_SECRET": SECRETS["signing"],
                                "HOSTILE_SMTP_PASSWORD": SECRETS["smtp"]})
            returncode, stderr = result.returncode, result.stderr
        except Exception as exc:  # subprocess.TimeoutExpired: a hang
            returncode, stderr = None, str(exc)
        seconds = time.monotonic() - started
        yield Outcome(all_cases, evil, other, ftp.connections, db, returncode, stderr, seconds)
    ftp.shutdown()
    ftp.server_close()


def stored_paths(out: Outcome) -> set[str]:
    return {r["url"].removeprefix(out.evil.origin) for r in rows(
        out.db, "SELECT url FROM article_urls")}


def served_files(out: Outcome) -> list[Path]:
    """The SQLite file and its journal files: what `veille serve` publishes."""
    files = [p for p in out.db.parent.glob("veille.db*") if p.is_file()]
    assert out.db in files
    return files


CRASH_KINDS = "kind = 'parse' OR substr(kind, 1, 1) BETWEEN 'A' AND 'Z'"


def test_the_hostile_crawl_ends_in_time_without_a_crash(outcome):
    assert outcome.returncode is not None, "the crawl hung: " + outcome.stderr
    assert outcome.seconds < STOP_AFTER + 10
    assert "Traceback" not in outcome.stderr, outcome.stderr[-3000:]
    assert outcome.returncode == 1  # failed sources (the dead host...), after all the others
    assert rows(outcome.db, f"SELECT kind, message FROM fetch_errors WHERE {CRASH_KINDS}") == []


@pytest.mark.parametrize("case_id", [
    "bad-links", "relative-sitemap", "endless-sitemap", "huge-sitemap", "dropped-feed",
    "gzip-bomb-feed", "laughs-feed", "xxe-feed", "xxe-sitemap", "drip-feed", "silent-feed",
    "not-http", "dead-host", "redirect-traps", "retry-after", "flood-listing",
    "wrong-charsets", "hostile-pages"])
def test_each_attack_costs_no_good_entry_and_says_what_happened(outcome, case_id):
    [case] = [c for c in outcome.cases if c.id == case_id]
    [run] = rows(outcome.db, "SELECT * FROM crawl_runs WHERE source_id = ?", [case.id])
    assert run["status"] in case.status, run
    assert set(case.good) <= stored_paths(outcome)
    kinds = {r["kind"] for r in rows(
        outcome.db, "SELECT kind FROM fetch_errors WHERE source_id = ?", [case.id])}
    assert case.kinds <= kinds, kinds
    if run["status"] != "ok":
        assert run["message"], run


def test_documents_are_read_as_far_as_they_came_and_no_further(outcome):
    cut = {r["source_id"]: r["message"] for r in rows(
        outcome.db, "SELECT source_id, message FROM fetch_errors WHERE kind = 'cut-off'")}
    assert "larger than max_response_kb (1024 KB)" in cut["endless-sitemap"]
    assert "larger than max_response_kb" in cut["huge-sitemap"]
    assert "closed the connection before its end" in cut["dropped-feed"]
    # The endless sitemap was read no further than the limit (and what was on its way).
    assert outcome.evil.streamed["/maps/endless.xml"] < 8 * CAP_KB * 1024
    [run] = rows(outcome.db, "SELECT message FROM crawl_runs WHERE source_id = 'endless-sitemap'")
    assert run["message"] == "1 document cut off"


def test_only_http_is_dialled_and_no_redirect_leaves_the_source(outcome):
    assert outcome.ftp_connections == 0
    assert outcome.other.hits == {}
    assert outcome.evil.hits["/r/busy.html"] == 1  # Retry-After: 3600 is not waited for
    assert outcome.evil.hits["/r/loop.html"] == 1
    assert outcome.evil.hits[f"/a/flood-listing/{1000 + LINKS_CAP}.html"] == 0


def test_no_local_file_or_configured_secret_reaches_the_served_file(outcome):
    assert rows(outcome.db, "SELECT count(*) AS n FROM alerts")[0]["n"] > 0
    assert rows(outcome.db, "SELECT count(*) AS n FROM alerts WHERE last_error IS NOT NULL"
                )[0]["n"] > 0  # deliveries failed, and said why
    for path in served_files(outcome):
        data = path.read_bytes()
        for secret in [*SECRETS.values(), "LOCAL-FILE-QX7"]:
            assert secret.encode() not in data, (path.name, secret)


def test_the_suite_counts(outcome, record_property):
    """The issue's table: inputs, crashes, hangs, entries lost, secrets found."""
    stored = stored_paths(outcome)
    good_total = sum(len(c.good) for c in outcome.cases)
    lost = sum(1 for c in outcome.cases for p in c.good if p not in stored)
    crashes = len(rows(outcome.db, f"SELECT id FROM fetch_errors WHERE {CRASH_KINDS}")) + (
        "Traceback" in outcome.stderr) + (outcome.returncode not in (0, 1, 3, None))
    hangs = int(outcome.returncode is None or outcome.seconds > STOP_AFTER + 10)
    secrets = sum(secret.encode() in path.read_bytes()
                  for path in served_files(outcome)
                  for secret in [*SECRETS.values(), "LOCAL-FILE-QX7"])
    lines = [
        f"hostile-input suite: {len(outcome.cases)} attacks, {good_total} good entries among "
        f"them, one crawl in {outcome.seconds:.1f} s (exit status {outcome.returncode})",
        f"  crashes {crashes}, hangs {hangs}, entries lost {lost}, secrets found {secrets}",
    ]
    for line in lines:  # printed at the end of the session (conftest.py)
        record_property("session_report", line)
    assert (crashes, hangs, lost, secrets) == (0, 0, 0, 0)


def test_a_partial_run_shows_in_sources_and_in_the_exit_status(outcome):
    """`veille sources` counts a partial run's errors; a crawl whose sources all ran but
    one was partial exits with status 3 (1 is kept for a failed source)."""
    config = outcome.db.parent / "veille.toml"
    listed = veille("--config", config, "--db", outcome.db, "sources", "--json")
    assert listed.returncode == 0, listed.stderr
    report = {s["id"]: s for s in json.loads(listed.stdout)}
    assert report["endless-sitemap"]["last_status"] == "partial"
    assert report["endless-sitemap"]["errors_24h"] >= 1
    assert report["dead-host"]["failures"] == 1
    assert report["relative-sitemap"]["errors_24h"] == 0
    again = veille("--config", config, "--db", outcome.db, "crawl", "--no-progress",
                   "--source", "endless-sitemap", "--source", "relative-sitemap")
    assert again.returncode == 3, again.stdout + again.stderr
    assert "1 document cut off" in again.stdout


def test_the_same_attacks_through_a_worker_make_the_same_record(
        outcome, redis_url, redis_prefix, tmp_path):
    """The suite's sources queued for a `veille worker` and stored by `veille ingest` (the
    scale-out): every run ends as on one machine, with the same articles stored."""
    from tests.test_distributed import redis_table, start

    config = tmp_path / "cluster.toml"
    config.write_text((outcome.db.parent / "veille.toml").read_text()
                      + redis_table(redis_url, redis_prefix))
    db = tmp_path / "cluster.db"
    queued = veille("--config", config, "--db", db, "queue")
    assert queued.returncode == 0, queued.stderr
    worker = start(config, "worker", "--drain")
    ingester = start(config, "ingest", "--drain", db=db)
    _, worker_err = worker.communicate(timeout=STOP_AFTER + 60)
    _, ingest_err = ingester.communicate(timeout=STOP_AFTER + 60)
    assert "Traceback" not in worker_err + ingest_err, (worker_err + ingest_err)[-3000:]
    statuses = {r["source_id"]: r["status"] for r in rows(
        db, "SELECT source_id, status FROM crawl_runs")}
    assert statuses == {r["source_id"]: r["status"] for r in rows(
        outcome.db, "SELECT source_id, status FROM crawl_runs")}
    good = {p for c in outcome.cases for p in c.good}
    assert good <= {r["url"].removeprefix(outcome.evil.origin) for r in rows(
        db, "SELECT url FROM article_urls")}
    assert outcome.other.hits == {} and outcome.ftp_connections == 0
    kinds = {(r["source_id"], r["kind"]) for r in rows(
        db, "SELECT source_id, kind FROM fetch_errors")}
    assert {("redirect-traps", "redirect"), ("endless-sitemap", "cut-off"),
            ("hostile-pages", "too-large"), ("bad-links", "entry-skipped")} <= kinds
