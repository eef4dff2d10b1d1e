"""One identity per article (issue 19): a page is a stored article when one of its URLs is
known, else when its feed GUID is known for its source, else when the same source stored
its headline within 48 hours with a near-identical text, else when its text is identical.
A renamed slug, a new GUID, an edited headline or an AMP variant never makes a second
article; each merge is recorded with its reason (`article_merges`)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

import pytest
from conftest import Clock, crawl, rows, veille, write_config

from crawler.config.model import Source
from crawler.crawl.normalize import content_hash
from crawler.demo import SiteServer
from crawler.record.article import StoredArticle
from crawler.record.identity import normal_title
from crawler.record.store import Store
from crawler.serve import build_datasette

# Seven invented dispatches of one fictional newsroom, each its own vocabulary.
TEXTS = {
    "a": ("Ferry service to the northern islands resumes", [
        "The harbour authority said on Monday that the morning ferry to the northern "
        "islands would sail again after three weeks of storms kept it in port.",
        "Fishermen on the outer quays welcomed the news, though several warned that the "
        "breakwater damaged in October still leaves the smaller boats exposed.",
        "A second crossing in the afternoon is planned from next week if the swell stays "
        "below two metres, the operator told passengers waiting at the terminal."]),
    "b": ("Municipal library opens a night reading room", [
        "Students queued outside the municipal library until well after dark on Tuesday "
        "as its new night reading room opened with two hundred desks.",
        "The mayor's office funded the longer hours for one academic year, and librarians "
        "will count visitors each evening before deciding whether to keep them.",
        "Volunteers from the university will staff the loan counter after nine o'clock, "
        "a first for a public building in the old town."]),
    "c": ("Grain convoy crosses the mountain pass before the snow", [
        "Forty lorries loaded with wheat and barley crossed the high mountain pass on "
        "Wednesday, hours before the road authority closed it for the winter.",
        "Drivers described icy hairpins near the summit and a single lane cleared by "
        "ploughs that worked through the night to keep the convoy moving.",
        "The grain is bound for mills in the valley towns, where flour prices rose "
        "sharply during the autumn shortages."]),
    "d": ("Orchestra tours the river towns by barge", [
        "A chamber orchestra set off downstream on Thursday aboard a converted cargo "
        "barge, planning concerts in eleven river towns over a fortnight.",
        "Its conductor said the idea came from audiences who could no longer travel to "
        "the capital's concert hall since the railway line was cut.",
        "Each evening the musicians moor at a public quay and play on deck while "
        "residents bring chairs down to the water."]),
    "e": ("Hospital wing reopens after flood repairs", [
        "The eastern wing of the regional hospital received its first patients on Friday "
        "since floodwater filled its basement and ground floor in the spring.",
        "Engineers moved the generators and the pharmacy stores two storeys up, and "
        "sealed the old service tunnels that let the river in.",
        "Nurses who had worked for months in temporary cabins in the car park said the "
        "move back would shorten waiting times in the emergency department."]),
    "f": ("Beekeepers count their hives after a cold summer", [
        "Beekeepers in the hill villages met on Saturday to compare losses after a "
        "summer so cold that many colonies never built up their winter stores.",
        "The cooperative will buy sugar syrup in bulk and share it among members whose "
        "hives are lightest, its treasurer said.",
        "Honey from the few strong colonies sold out at the autumn market within an "
        "hour, at nearly twice last year's price."]),
    "g": ("Night trains return on the coastal line", [
        "Sleeper carriages ran again on the coastal railway on Sunday for the first time "
        "in a decade, with every berth booked for the opening weeks.",
        "The operator bought the carriages second-hand from a northern company and "
        "refitted them with wider bunks and a small dining car.",
        "Hoteliers along the coast hope the overnight service brings back the winter "
        "visitors who stopped coming when the last train was withdrawn."]),
}


def page(origin: str, path: str, title: str, paragraphs: list[str], published: datetime,
         canonical: str | None = None, amp: bool = False) -> bytes:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (
        f"<!doctype html><html lang=\"en\"{' amp' if amp else ''}><head><meta charset=utf-8>"
        f"<title>{escape(title)}</title>"
        f"<link rel=\"canonical\" href=\"{origin}{canonical or path}\">"
        f"<meta property=\"article:published_time\" content=\"{published.isoformat()}\">"
        f"</head><body><article><h1>{escape(title)}</h1>{body}</article></body></html>"
    ).encode()


def rss(origin: str, items: list[tuple[str, str, str, datetime]]) -> bytes:
    """An RSS feed of (guid, path, title, time) items."""
    entries = "".join(
        f"<item><title>{escape(title)}</title><link>{origin}{path}</link>"
        f"<guid isPermaLink=\"false\">{guid}</guid>"
        f"<pubDate>{format_datetime(when)}</pubDate></item>"
        for guid, path, title, when in items)
    return ('<?xml version="1.0"?><rss version="2.0"><channel><title>The Courier</title>'
            f"<link>{origin}/</link>{entries}</channel></rss>").encode()


def topic_page(origin: str, links: list[tuple[str, str]]) -> bytes:
    items = "".join(f'<li><a href="{origin}{path}">{escape(title)}</a></li>'
                    for path, title in links)
    return (f"<!doctype html><html lang=en><head><title>Live</title></head><body><main>"
            f"<ul class=\"live\">{items}</ul></main></body></html>").encode()


HTML = {"Content-Type": "text/html; charset=utf-8"}
RSS = {"Content-Type": "application/rss+xml"}


class Courier:
    """A site whose second edition renames slugs, edits headlines, changes GUIDs and adds
    AMP variants of articles the first edition published."""

    def __init__(self, site: SiteServer):
        self.site = site
        self.now = datetime.now(UTC).replace(microsecond=0)

    def serve(self, pages: dict[str, bytes], feed: bytes, live: bytes) -> None:
        self.site.overrides.clear()
        for path, body in pages.items():
            self.site.overrides[path] = (200, HTML, body)
        self.site.overrides["/rss.xml"] = (200, RSS, feed)
        self.site.overrides["/live/"] = (200, HTML, live)

    def article(self, key: str, path: str, title: str | None = None,
                edit: str | None = None, **options) -> bytes:
        default_title, paragraphs = TEXTS[key]
        paragraphs = paragraphs + ([edit] if edit else [])
        return page(self.site.origin, path, title or default_title, paragraphs,
                    self.now - timedelta(hours=2), **options)

    def edition_1(self) -> None:
        o, t = self.site.origin, self.now - timedelta(hours=2)
        paths = {k: f"/2026/12/01/{k}-first-slug.html" for k in "abcdef"}
        self.serve(
            {paths[k]: self.article(k, paths[k]) for k in "abcdef"},
            rss(o, [(f"courier-{k}", paths[k], TEXTS[k][0], t) for k in "abce"]),
            topic_page(o, [(paths[k], TEXTS[k][0]) for k in "df"]))

    def edition_2(self) -> None:
        o, later = self.site.origin, self.now - timedelta(minutes=30)
        t = self.now - timedelta(hours=2)
        a_new = "/2026/12/01/a-ferry-sails-again.html"  # slug renamed, same GUID
        b = "/2026/12/01/b-first-slug.html"  # headline edited, same URL and GUID
        c_new = "/2026/12/01/c-convoy-crosses.html"  # new slug and new GUID, text edited
        d = "/2026/12/01/d-first-slug.html"
        d_amp = "/amp/2026/12/01/d-first-slug.html"  # AMP twin, its path says so
        d_mobile = "/m/d-barge-tour.html"  # AMP page under a path that does not
        e_new = "/2026/12/01/e-hospital-wing.html"  # slug and headline changed, same GUID
        f = "/2026/12/01/f-first-slug.html"
        g = "/2026/12/01/g-night-trains.html"  # a new article
        b_title = "Night reading room opens at the municipal library"
        e_title = "Flood-hit hospital wing takes patients again"
        pages = {
            a_new: self.article("a", a_new),
            b: self.article("b", b, title=b_title),
            c_new: self.article("c", c_new, edit="Snow closed the pass at dusk."),
            d: self.article("d", d),
            d_amp: self.article("d", d_amp, canonical=d, amp=True),
            d_mobile: self.article("d", d_mobile, canonical=d, amp=True),
            e_new: self.article("e", e_new, title=e_title),
            f: self.article("f", f),
            g: self.article("g", g),
        }
        feed = rss(o, [("courier-a", a_new, TEXTS["a"][0], t),
                       ("courier-b", b, b_title, later),
                       ("courier-c-v2", c_new, TEXTS["c"][0], t),
                       ("courier-e", e_new, e_title, later),
                       ("courier-g", g, TEXTS["g"][0], later)])
        live = topic_page(o, [(d + "?output=amp", TEXTS["d"][0]), (d_amp, TEXTS["d"][0]),
                              (d_mobile, TEXTS["d"][0]), (f, TEXTS["f"][0])])
        self.serve(pages, feed, live)


SOURCES = """
[[source]]
id = "courier-rss"
kind = "feed"
url = "{site}/rss.xml"

[[source]]
id = "courier-live"
kind = "topic"
url = "{site}/live/"
links = "ul.live a"
"""


@pytest.fixture
def courier(tmp_path: Path):
    root = tmp_path / "empty-site"
    root.mkdir()
    with SiteServer(root) as site:
        yield Courier(site)


def test_renamed_slugs_edited_headlines_new_guids_and_amp_variants_make_no_duplicate(
        courier, tmp_path):
    config = write_config(tmp_path / "veille.toml", courier.site.origin, SOURCES)
    db = tmp_path / "veille.db"
    courier.edition_1()
    first = crawl(config, db)
    assert first.returncode == 0, first.stdout + first.stderr
    before = {r["title"]: r["id"] for r in rows(db, "SELECT id, title FROM articles")}
    assert len(before) == 6

    courier.edition_2()
    second = crawl(config, db)
    assert second.returncode == 0, second.stdout + second.stderr
    articles = rows(db, "SELECT id, title, version FROM articles ORDER BY id")
    # Six articles and the one new one: no duplicate.
    assert len(articles) == 7, articles
    ids = {key: before[TEXTS[key][0]] for key in "abcdef"}
    version = {r["id"]: r["version"] for r in articles}
    # The slug renamed (same GUID), the headline edited, the slug and GUID changed with a
    # line added, the slug and headline changed: each a second version of its article.
    assert [version[ids[k]] for k in "abce"] == [2, 2, 2, 2]
    assert version[ids["d"]] == version[ids["f"]] == 1  # the same page, nothing changed
    origin = courier.site.origin

    def article_of(path: str) -> int:
        [row] = rows(db, "SELECT article_id FROM article_urls WHERE url = ?", [origin + path])
        return row["article_id"]

    assert article_of("/2026/12/01/a-ferry-sails-again.html") == ids["a"]
    assert article_of("/2026/12/01/c-convoy-crosses.html") == ids["c"]
    assert article_of("/2026/12/01/e-hospital-wing.html") == ids["e"]
    assert article_of("/amp/2026/12/01/d-first-slug.html") == ids["d"]
    assert article_of("/m/d-barge-tour.html") == ids["d"]
    # Each merge with its reason and evidence.
    merges = {(m["article_id"], m["reason"], m["url"].removeprefix(origin)): m
              for m in rows(db, "SELECT * FROM article_merges")}
    assert set(merges) == {
        (ids["a"], "guid", "/2026/12/01/a-ferry-sails-again.html"),
        (ids["c"], "title", "/2026/12/01/c-convoy-crosses.html"),
        (ids["e"], "guid", "/2026/12/01/e-hospital-wing.html"),
        (ids["d"], "amp", "/amp/2026/12/01/d-first-slug.html"),
        (ids["d"], "amp", "/m/d-barge-tour.html"),
    }
    assert merges[(ids["a"], "guid", "/2026/12/01/a-ferry-sails-again.html")][
        "evidence"] == "feed GUID courier-a"
    assert "of the text in common" in merges[
        (ids["c"], "title", "/2026/12/01/c-convoy-crosses.html")]["evidence"]
    # The version a move made keeps the earlier text; the headline edit the earlier title.
    [b_v1] = rows(db, "SELECT title FROM article_versions WHERE article_id = ?", [ids["b"]])
    assert b_v1["title"] == TEXTS["b"][0]
    # The GUIDs each article was given by the feed: the old and the new for c.
    guids = rows(db, "SELECT guid FROM article_guids WHERE article_id = ? ORDER BY guid",
                 [ids["c"]])
    assert [g["guid"] for g in guids] == ["courier-c", "courier-c-v2"]
    # A third crawl of the same edition changes nothing.
    third = crawl(config, db)
    assert third.returncode == 0, third.stderr
    assert rows(db, "SELECT count(*) AS n FROM articles")[0]["n"] == 7
    assert rows(db, "SELECT count(*) AS n FROM article_merges")[0]["n"] == 5

    # `veille history` shows the merges beside the versions.
    shown = veille("--config", config, "--db", db, "history",
                   origin + "/2026/12/01/a-ferry-sails-again.html")
    assert shown.returncode == 0, shown.stderr
    assert "also read as this article (1):" in shown.stdout
    assert "guid: feed GUID courier-a (version 2, courier-rss)" in shown.stdout

    # Datasette: the article's page says why each page was taken for it; the table lists
    # every merge with its reason.
    ds = build_datasette(db)

    async def get(path: str):
        return await ds.client.get(path)

    article_page = asyncio.run(get(f"/veille/articles/{ids['a']}")).text
    assert "Also read as this article" in article_page
    assert "the feed gave it this article&#39;s GUID (feed GUID courier-a)" in article_page
    facets = asyncio.run(get("/veille/article_merges.json")).json()["facet_results"]
    assert {f["value"]: f["count"] for f in facets["reason"]["results"]} == {
        "amp": 2, "guid": 2, "title": 1}
    listed = asyncio.run(get("/veille/article_merges.json?_shape=array&reason=amp")).json()
    assert {row["url"].removeprefix(origin) for row in listed} == {
        "/amp/2026/12/01/d-first-slug.html", "/m/d-barge-tour.html"}


# -- the layers one by one, on the store -------------------------------------------------

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
BODY = " ".join(TEXTS["a"][1])


def stored(url: str, title: str = TEXTS["a"][0], body: str = BODY, source: str = "s1",
           guid: str | None = None) -> StoredArticle:
    return StoredArticle(
        source_id=source, canonical_url=url, urls=((url, "canonical"),), title=title,
        lead=None, body=body, authors=(), topic=None, section=None,
        published_at=None, published_local=None, updated_at=None, updated_local=None,
        image_url=None, image_caption=None, language="en", word_count=len(body.split()),
        content_hash=content_hash(body), listed_url=url, guid=guid)


@pytest.fixture
def store(tmp_path):
    clock = Clock(NOW)
    store = Store.open(tmp_path / "v.db", clock)
    store.sync_sources([Source(id=s, name=s, kind="feed", url=f"https://{s}.example/rss")
                        for s in ("s1", "s2")])
    store.clock_ = clock
    yield store
    store.close()


def test_a_guid_names_the_article_for_its_own_source_only(store):
    first = store.save_article(stored("https://s1.example/a.html", guid="g-1"))
    edited = BODY + " The operator added a third crossing on Saturdays."
    moved = store.save_article(stored("https://s1.example/a-renamed.html", body=edited,
                                      title="Ferries sail north again", guid="g-1"))
    assert (moved.outcome, moved.article_id) == ("updated", first.article_id)
    # The same GUID from another source's feed names nothing there.
    other = store.save_article(stored("https://s2.example/x.html", guid="g-1",
                                      title="A different story altogether",
                                      body=" ".join(TEXTS["g"][1])))
    assert other.outcome == "new"


def test_a_guid_repeated_for_another_story_is_not_believed(store):
    store.save_article(stored("https://s1.example/a.html", guid="same-for-all"))
    other = store.save_article(stored("https://s1.example/b.html", guid="same-for-all",
                                      title=TEXTS["b"][0], body=" ".join(TEXTS["b"][1])))
    assert other.outcome == "new"


def test_a_headline_matches_within_48_hours_with_a_near_identical_text(store):
    first = store.save_article(stored("https://s1.example/a.html"))
    edited = BODY + " Tickets are on sale at the harbour office."
    store.clock_.advance(47 * 60)
    near = store.save_article(stored("https://s1.example/a-2.html", body=edited,
                                     title="Ferry service to the northern islands resumes!"))
    assert (near.outcome, near.article_id) == ("updated", first.article_id)
    # The same headline over another text is another article.
    other = store.save_article(stored("https://s1.example/a-3.html",
                                      body=" ".join(TEXTS["f"][1])))
    assert other.outcome == "new"
    # Past 48 hours since the article was last seen, a headline names nothing.
    store.clock_.advance(49 * 60)
    late = store.save_article(stored("https://s1.example/a-4.html",
                                     body=edited + " The timetable is posted online."))
    assert late.outcome == "new"


def test_a_short_headline_names_nothing(store):
    store.save_article(stored("https://s1.example/live-1.html", title="Live"))
    second = store.save_article(stored("https://s1.example/live-2.html", title="Live",
                                       body=BODY + " Updates follow through the day."))
    assert second.outcome == "new"


def test_titles_normalise_across_spelling_edits():
    assert normal_title("Karabakh : l’armée se retire…") == normal_title(
        "KARABAKH — L'ARMEE SE RETIRE") == "karabakh l armee se retire"


def test_identical_text_from_the_same_source_is_a_move_from_another_a_copy(store):
    first = store.save_article(stored("https://s1.example/a.html"))
    moved = store.save_article(stored("https://s1.example/renamed.html",
                                      title="A headline rewritten for the web"))
    assert (moved.outcome, moved.article_id) == ("updated", first.article_id)
    copy = store.save_article(dataclasses.replace(
        stored("https://s2.example/copy.html", source="s2"), title="Another headline"))
    assert (copy.outcome, copy.article_id, copy.duplicate_of_other_url) == (
        "unchanged", first.article_id, True)
    reasons = [(m["reason"], m["source_id"]) for m in store.db["article_merges"].rows]
    assert reasons == [("text", "s1"), ("text", "s2")]
