"""The labelled evaluation of story grouping: pairs of dispatches that are, or are not, one
story, each stored through the real `Store` and `StoryIndex` into a fresh database.

Data (tests/fixtures/stories): `dispatches.toml` holds invented wire dispatches, `pairs.toml`
the labelled pairs; a side of a pair is a dispatch, optionally reprinted through the transforms
below (a reprint's new headline, rewritten first paragraph, boilerplate, cut, typography).
Precision and recall of "same story" over the pairs must not fall below the figures reached;
each pair is also its own test, the documented misses marked `xfail(strict=True)`, so that a
regression and an unexpected fix both show.
"""

from __future__ import annotations

import random
import re
import shutil
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from crawler.config.model import Source
from crawler.crawl.normalize import content_hash
from crawler.page.fingerprints import shingles
from crawler.record.article import StoredArticle
from crawler.record.schema import open_database
from crawler.record.store import Store

FIXTURES = Path(__file__).parent / "fixtures" / "stories"

# Reached on pairs.toml with the default settings (4-word shingles, 64 permutations,
# threshold 0.5): precision 1.000 (no false merge), recall 0.963 (104 of 108) with the 4-gram
# hashing of m009_story_hashes (0.944, 102 of 108, with datasketch's SHA-1); rounded down.
PRECISION_FLOOR = 1.00
RECALL_FLOOR = 0.96

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SOURCE = Source(id="wire", name="Wire", kind="feed", url="https://news.example/feed.xml")
# The site that reprints the dispatch: a copy is another source's article, never a version
# of the wire's (the same source's headline and text would make it one, `test_identity`).
REPRINT = Source(id="reprint", name="Reprint", kind="feed", url="https://reprint.example/feed")
# Kinds of distinct pairs whose two texts are on the same conflict: the hard negatives.
HARD_DISTINCT = {"same-day-distinct", "same-conflict-distinct", "same-outlet-distinct"}


@dataclass(frozen=True)
class Dispatch:
    id: str
    lang: str
    conflict: str
    date: str
    title: str
    paragraphs: tuple[str, ...]
    alt_title: str | None = None
    alt_first: str | None = None
    translation_of: str | None = None


@dataclass(frozen=True)
class Copy:
    """One published copy of a dispatch: its headline and its paragraphs (or lines)."""

    dispatch: Dispatch
    title: str
    paragraphs: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


@dataclass(frozen=True)
class Pair:
    id: str
    kind: str
    a: Mapping
    b: Mapping
    same: bool
    known_miss: str | None = None


def load_dispatches() -> dict[str, Dispatch]:
    with open(FIXTURES / "dispatches.toml", "rb") as fh:
        rows = tomllib.load(fh)["dispatch"]
    dispatches = {}
    for row in rows:
        text = row.pop("text")
        paragraphs = tuple(p.strip() for p in text.split("\n\n"))
        dispatches[row["id"]] = Dispatch(paragraphs=paragraphs, **{
            k: v.strip() if isinstance(v, str) else v for k, v in row.items()})
    return dispatches


def load_pairs() -> list[Pair]:
    with open(FIXTURES / "pairs.toml", "rb") as fh:
        rows = tomllib.load(fh)["pair"]
    for row in rows:  # a bare dispatch id is the dispatch as published
        for key in ("a", "b"):
            if isinstance(row[key], str):
                row[key] = {"id": row[key]}
    return [Pair(**row) for row in rows]


DISPATCHES = load_dispatches()
PAIRS = load_pairs()


# -- transforms: how a reprint differs from the dispatch --------------------------------

def headline(copy: Copy, _: str | None) -> Copy:
    """Another headline, which extraction often leaves as the text's first line."""
    assert copy.dispatch.alt_title, copy.dispatch.id
    return replace(copy, title=copy.dispatch.alt_title,
                   paragraphs=(copy.dispatch.alt_title, *copy.paragraphs))


def rewrite_first(copy: Copy, _: str | None) -> Copy:
    """The first paragraph rewritten by the reprinting desk."""
    assert copy.dispatch.alt_first, copy.dispatch.id
    return replace(copy, paragraphs=(copy.dispatch.alt_first, *copy.paragraphs[1:]))


def truncate(copy: Copy, count: str | None) -> Copy:
    """The first N paragraphs only: the last ones cut to fit."""
    return replace(copy, paragraphs=copy.paragraphs[:int(count or 1)])


_BOILERPLATE = {
    "fr": {
        "top": ("Par la rédaction, avec agences", "Publié le {day} à 14h32, mis à jour à 16h05"),
        "related": "Lire aussi : {title}",
        "end": (
            "Cet article a été rédigé à partir de dépêches d'agences.",
            "Inscrivez-vous à notre lettre d'information : l'essentiel de l'actualité "
            "internationale chaque matin dans votre boîte mail.",
            "Partager cet article : Facebook, X, WhatsApp, e-mail",
        ),
        "day": "%d/%m/%Y",
    },
    "en": {
        "top": ("By our staff, with agencies", "Published {day}, 14:32 | Updated 16:05"),
        "related": "Read also: {title}",
        "end": (
            "This article was written with wire reporting.",
            "Sign up for our morning briefing: the day's essential world news in your inbox "
            "before 7 a.m.",
            "Share this article: Facebook, X, WhatsApp, email",
        ),
        "day": "%d %B %Y",
    },
}


def related_titles(dispatch: Dispatch) -> list[str]:
    """What an outlet links under "Read also": its other pieces on the same conflict."""
    others = [d for d in DISPATCHES.values()
              if d.conflict == dispatch.conflict and d.id != dispatch.id]
    others.sort(key=lambda d: (d.lang != dispatch.lang, d.id))
    return [d.title for d in others[:2]]


def boilerplate(copy: Copy, lang: str | None) -> Copy:
    """Byline and date, "Read also" links inside the text, credit, newsletter, share line."""
    words = _BOILERPLATE[lang or copy.dispatch.lang]
    day = date.fromisoformat(copy.dispatch.date).strftime(words["day"])
    links = [words["related"].format(title=t) for t in related_titles(copy.dispatch)]
    body = list(copy.paragraphs)
    for at, link in zip((2, 5), links, strict=False):
        body.insert(min(at, len(body)), link)
    top = tuple(line.format(day=day) for line in words["top"])
    return replace(copy, paragraphs=(*top, *body, *words["end"]))


_TYPOGRAPHY = [
    (re.compile(r'"(\w)'), "\u201c\\1"),  # opening curly quote
    (re.compile(r'"'), "\u201d"),  # closing curly quote
    (re.compile(r"'"), "\u2019"),  # apostrophe
    (re.compile(r"« | »"), lambda m: m.group().replace(" ", "\u00a0")),  # glued guillemets
    (re.compile(r" ([:;?!%])"), "\u202f\\1"),  # thin space before French high punctuation
    (re.compile(r"(\d) (\d{3})\b"), "\\1\u202f\\2"),  # thousands: 1 000 -> 1 000 (thin)
    (re.compile(r"(?<=\w)-(?=\w)"), "\u2011"),  # non-breaking hyphen
    (re.compile(r"fi"), "\ufb01"),  # ligatures left by a layout program
    (re.compile(r"fl"), "\ufb02"),
]


def typography(copy: Copy, _: str | None) -> Copy:
    """Curly quotes and apostrophes, glued guillemets, thin and non-breaking spaces,
    non-breaking hyphens, fi/fl ligatures: what a CMS or a layout program does to a text."""
    def retype(text: str) -> str:
        for pattern, replacement in _TYPOGRAPHY:
            text = pattern.sub(replacement, text)
        return text
    return replace(copy, title=retype(copy.title),
                   paragraphs=tuple(retype(p) for p in copy.paragraphs))


TRANSFORMS: dict[str, Callable[[Copy, str | None], Copy]] = {
    "headline": headline, "rewrite_first": rewrite_first, "truncate": truncate,
    "boilerplate": boilerplate, "typography": typography,
}


def published(spec: Mapping) -> Copy:
    """A pair's side: the dispatch, through its transforms in order ("truncate:3")."""
    dispatch = DISPATCHES[spec["id"]]
    copy = Copy(dispatch, dispatch.title, dispatch.paragraphs)
    for step in spec.get("transform", []):
        name, _, arg = step.partition(":")
        copy = TRANSFORMS[name](copy, arg or None)
    return copy


# -- storing pairs -----------------------------------------------------------------------

def article(url: str, body: str, title: str, lang: str, day: str,
            source: Source = SOURCE) -> StoredArticle:
    return StoredArticle(
        source_id=source.id, canonical_url=url, urls=((url, "canonical"),), title=title,
        lead=None, body=body, authors=(), topic=None, section=None,
        published_at=f"{day}T09:00:00Z", published_local=None, updated_at=None,
        updated_local=None, image_url=None, image_caption=None, language=lang,
        word_count=len(body.split()), content_hash=content_hash(body),
    )


def copy_article(copy: Copy, url: str, source: Source = SOURCE) -> StoredArticle:
    return article(url, copy.text, copy.title, copy.dispatch.lang, copy.dispatch.date, source)


@dataclass(frozen=True)
class Outcome:
    same: bool  # the two copies ended in one story
    by_text: bool  # the second was taken for the first by the identical-text check


def store_pair(path: Path, a: Copy, b: Copy) -> Outcome:
    with Store(open_database(path), clock=lambda: NOW) as store:
        store.sync_sources([SOURCE, REPRINT])
        first = store.save_article(copy_article(a, "https://news.example/a.html"))
        second = store.save_article(copy_article(b, "https://reprint.example/b.html", REPRINT))
    return Outcome(first.story_id == second.story_id, second.duplicate_of_other_url)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every pair stored in a database of its own (a copy of one migrated file), so that no
    pair sees another's articles."""
    folder = tmp_path_factory.mktemp("story-eval")
    template = folder / "template.db"
    open_database(template).close()
    results = {}
    for pair in PAIRS:
        path = folder / f"{pair.id}.db"
        shutil.copyfile(template, path)
        results[pair.id] = store_pair(path, published(pair.a), published(pair.b))
    return results


def precision_recall(outcomes: Mapping[str, Outcome]) -> tuple[float, float]:
    said_same = [p for p in PAIRS if outcomes[p.id].same]
    hits = sum(p.same for p in said_same)
    return hits / max(1, len(said_same)), hits / max(1, sum(p.same for p in PAIRS))


# -- the tests ---------------------------------------------------------------------------

def test_precision_and_recall_hold(outcomes):
    precision, recall = precision_recall(outcomes)
    assert precision >= PRECISION_FLOOR, f"precision {precision:.3f}"
    assert recall >= RECALL_FLOOR, f"recall {recall:.3f}"


@pytest.mark.parametrize("pair", [
    pytest.param(p, id=p.id, marks=[pytest.mark.xfail(strict=True, reason=p.known_miss)]
                 if p.known_miss else [])
    for p in PAIRS
])
def test_pair(pair, outcomes):
    assert outcomes[pair.id].same == pair.same


def test_pairs_go_through_the_story_index(outcomes):
    """No second copy is byte-for-byte the first after folding: the index, not the
    identical-text check, decides every pair."""
    assert [pid for pid, outcome in outcomes.items() if outcome.by_text] == []


def test_the_labelled_set_is_what_the_issue_asks_for():
    assert len({p.id for p in PAIRS}) == len(PAIRS) >= 150
    same = sum(p.same for p in PAIRS)
    assert 0.5 <= same / len(PAIRS) <= 0.6
    assert sum(p.kind in HARD_DISTINCT and not p.same for p in PAIRS) >= 30
    for dispatch in DISPATCHES.values():
        assert 150 <= len(" ".join(dispatch.paragraphs).split()) <= 450, dispatch.id
    for pair in PAIRS:
        a, b = DISPATCHES[pair.a["id"]], DISPATCHES[pair.b["id"]]
        # The product treats a translation as another article: never the same story.
        if b.translation_of == a.id or a.translation_of == b.id:
            assert (pair.kind, pair.same) == ("translation", False), pair.id
        if pair.kind in HARD_DISTINCT:
            assert a.conflict == b.conflict and a.id != b.id, pair.id
        if pair.same:
            assert a.id == b.id, pair.id


def test_typography_folds_to_the_same_shingles():
    for dispatch in DISPATCHES.values():
        copy = published({"id": dispatch.id})
        assert shingles(typography(copy, None).text) == shingles(copy.text), dispatch.id


# -- many distinct texts in one index ----------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?»\"])\s+(?=[«\"A-ZÀ-Ý])")


def digests(count: int, size: int = 8, max_shared: int = 1,
            seed: int = 2026) -> list[tuple[str, str]]:
    """News-in-brief texts, as (language, text): `size` sentences (of 12 words or more)
    from as many dispatches in one language, no two digests sharing more than `max_shared`
    sentences."""
    pools: dict[str, list[list[str]]] = {}
    for dispatch in DISPATCHES.values():
        sentences = [s for p in dispatch.paragraphs for s in _SENTENCE_END.split(p)
                     if len(s.split()) >= 12]
        pools.setdefault(dispatch.lang, []).append(sentences)
    rng, chosen, texts = random.Random(seed), [], []
    while len(texts) < count:
        lang = ("fr", "en")[len(texts) % 2]
        picked = [rng.choice(sentences) for sentences in rng.sample(pools[lang], size)]
        if any(len(set(picked) & earlier) > max_shared for earlier in chosen):
            continue
        chosen.append(set(picked))
        half = size // 2
        texts.append((lang, " ".join(picked[:half]) + "\n\n" + " ".join(picked[half:])))
    return texts


def test_two_hundred_distinct_texts_stay_two_hundred_stories(tmp_path):
    """The 53 dispatches and 147 digests of their sentences, all in one index."""
    texts = [(d.lang, published({"id": d.id}).text) for d in DISPATCHES.values()]
    texts += digests(200 - len(texts))
    grams = [shingles(text) for _, text in texts]
    # Ground truth: no text has more than a third of its shingles in another (0.33 at most).
    overlap = max(len(a & b) / min(len(a), len(b))
                  for i, a in enumerate(grams) for b in grams[i + 1:])
    assert overlap < 0.35
    with Store(open_database(tmp_path / "many.db"), clock=lambda: NOW) as store:
        store.sync_sources([SOURCE])
        for i, (lang, text) in enumerate(texts):
            store.save_article(article(f"https://news.example/{i}.html", text, f"Text {i}",
                                       lang, "2026-11-20"))
        stories = store.db.execute("SELECT count(DISTINCT story_id) FROM articles").fetchone()
    assert stories[0] == len(texts) == 200


def test_the_lsh_banding_is_the_one_datasketch_chooses():
    from datasketch import MinHashLSH

    from crawler.page import fingerprints

    lsh = MinHashLSH(threshold=fingerprints.CANDIDATE_JACCARD, num_perm=fingerprints.NUM_PERM)
    assert (fingerprints.BANDS, fingerprints.ROWS) == (lsh.b, lsh.r)


def test_fingerprints_of_the_earlier_hashing_are_computed_again(tmp_path):
    """A database of an earlier version holds datasketch's signatures (SHA-1 of each
    4-gram) and their band rows: m009_story_hashes computes again those of the story
    window from the stored text, and a new copy of a story stored before the upgrade
    still joins it."""
    from datasketch import MinHash

    from crawler.page.fingerprints import NUM_PERM, Fingerprint, article_fingerprint

    path = tmp_path / "veille.db"
    ids = {}
    with Store(open_database(path), clock=lambda: NOW) as store:
        store.sync_sources([SOURCE])
        for k, dispatch in enumerate(["ukraine-zaporizhzhia", "haiti-cholera"]):
            copy = published({"id": dispatch})
            ids[dispatch] = store.save_article(
                copy_article(copy, f"https://news.example/{k}.html")).article_id
        db = store.db
        # What the earlier version stored: datasketch's signatures and their band keys.
        for article_id, body in db.execute("SELECT id, body FROM articles").fetchall():
            reference = MinHash(num_perm=NUM_PERM)
            reference.update_batch(list(shingles(body)))
            old = Fingerprint(reference.hashvalues.astype("uint32"), len(shingles(body)))
            db.execute("UPDATE article_fingerprints SET signature = ? WHERE article_id = ?",
                       [old.signature.tobytes(), article_id])
            db.execute("DELETE FROM story_bands WHERE article_id = ?", [article_id])
            db.conn.executemany("INSERT INTO story_bands VALUES (?, ?)",
                                [(key, article_id) for key in old.bands()])
        db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm009_story_hashes'")
        db.conn.commit()
    with Store(open_database(path), clock=lambda: NOW) as store:
        for article_id, lead, body, signature in store.db.execute(
                "SELECT a.id, a.lead, a.body, f.signature FROM articles a "
                "JOIN article_fingerprints f ON f.article_id = a.id").fetchall():
            now = article_fingerprint(lead, body)
            assert signature == now.signature.tobytes()
            assert sorted(k for (k,) in store.db.execute(
                "SELECT band_key FROM story_bands WHERE article_id = ?", [article_id])) == \
                sorted(set(now.bands()))
        copy = published({"id": "ukraine-zaporizhzhia", "transform": ["headline"]})
        later = store.save_article(copy_article(copy, "https://other.example/reprint.html"))
        [story] = store.db.execute("SELECT story_id FROM articles WHERE id = ?",
                                   [ids["ukraine-zaporizhzhia"]]).fetchone()
        assert later.story_id == story and later.joined_story
