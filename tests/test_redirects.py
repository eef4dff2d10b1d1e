"""Redirects Veille refuses are the page's failure, in fetch_errors (issue 15): off the
source's domains, to another port of the same host, and loops (Scrapy dropped the first
and the last in silence, and followed the second)."""

from __future__ import annotations

from crawler.demo import SiteServer
from tests.conftest import FIXTURES, crawl, rows, serve_feed, write_config

ARTICLES = [
    "/news/2026/11/16/observers-report-new-clashes.html",
    "/news/2026/11/17/refugees-return-to-border-villages.html",
    "/news/2026/11/18/parliament-votes-emergency-budget.html",
    "/news/2026/11/19/drone-strikes-hit-power-station.html",
]


def test_refused_redirects_are_recorded_and_the_run_is_partial(mini_site, tmp_path):
    o = mini_site.origin
    with SiteServer(FIXTURES / "sites" / "mini") as other_port:
        mini_site.overrides[ARTICLES[0]] = (302, {"Location": "http://elsewhere.example/x.html"},
                                            b"")
        mini_site.overrides[ARTICLES[1]] = (302, {"Location": o + "/loop"}, b"")
        mini_site.overrides["/loop"] = (302, {"Location": o + ARTICLES[1]}, b"")
        mini_site.overrides[ARTICLES[2]] = (302, {"Location": other_port.origin + ARTICLES[2]},
                                            b"")
        mini_site.overrides[ARTICLES[3] + "-moved"] = (301, {"Location": o + ARTICLES[3]}, b"")
        serve_feed(mini_site, "/moved.xml",
                   [o + path for path in (*ARTICLES[:3], ARTICLES[3] + "-moved")])
        config = write_config(tmp_path / "veille.toml", o, """
[[source]]
id = "moved"
kind = "feed"
url = "{site}/moved.xml"
""")
        db = tmp_path / "veille.db"
        result = crawl(config, db)
        assert sum(other_port.hits.values()) == 0
    assert result.returncode == 3, result.stderr  # a partial run: the others were stored
    assert "Traceback" not in result.stderr
    # The plain redirect on the site is followed.
    assert [r["canonical_url"] for r in rows(db, "SELECT canonical_url FROM articles")] == [
        mini_site.url(ARTICLES[3])]
    refused = sorted(r["message"].split(":")[1].strip() for r in rows(
        db, "SELECT message FROM fetch_errors WHERE kind = 'redirect' AND level = 'error'"))
    assert refused == ["redirect loop", "redirect off the source's domains (127.0.0.1)",
                       "redirect to another port of the host"]
    [run] = rows(db, "SELECT status, errors FROM crawl_runs")
    assert (run["status"], run["errors"]) == ("partial", 3)
