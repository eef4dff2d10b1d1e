"""Synthetic news sites for the benchmarks: N sources (topic listing pages with pagination, or
RSS feeds), each with article pages of realistic size (5 to 60 KB of HTML: header, navigation,
footer, "read also" and "most read" links, share buttons, JSON-LD on some sources, `<time>`
tags and a topic label), written to a folder and served by `crawler.demo.SiteServer`.

Deterministic: the same spec gives the same bytes. Every text is drawn from the word list
below, so no real article is copied. Edition 2 (a second layer) adds one new article per
source at the top of its listing or feed, as a site does a few minutes later.
"""

from __future__ import annotations

import html
import json
import random
import sys
import threading
import tomllib
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crawler.config.model import SHIPPED_CONFIG
from crawler.demo import SiteServer

# Common French words (our own list). Place names from the tracked conflicts are mixed in
# by `_Writer` so that the matcher has something to find.
WORDS = """
le la les un une des du de au aux et ou mais donc car ni que qui dont où ce cette ces son sa
ses leur leurs notre nos votre il elle ils elles on nous vous se sur sous dans par pour avec
sans entre vers chez depuis pendant avant après contre selon malgré lors plus moins très
aussi encore déjà toujours jamais souvent parfois enfin alors ainsi ensuite cependant
toutefois gouvernement ministre président armée soldats civils habitants réfugiés déplacés
village ville région province frontière capitale quartier route pont hôpital école marché
eau électricité nourriture aide humanitaire organisation agence mission commission conseil
assemblée parlement député sénateur maire préfet gouverneur chef commandant porte-parole
représentant ambassadeur délégation négociation accord traité cessez-le-feu trêve paix
guerre conflit combats offensive attaque frappe drone missile obus bombardement explosion
victimes blessés morts disparus prisonniers otages échange libération enquête rapport
témoignage déclaration communiqué annonce décision vote loi budget réforme élection scrutin
campagne opposition majorité coalition parti mouvement syndicat manifestation grève
rassemblement police gendarmerie justice tribunal procès verdict peine condamnation appel
économie croissance inflation prix salaire emploi chômage entreprise usine production
exportation importation pétrole gaz blé céréales récolte sécheresse inondation climat
saison hiver été printemps automne matin soir nuit journée semaine mois année siècle
lundi mardi mercredi jeudi vendredi samedi dimanche heure minute moment période situation
crise urgence sécurité menace risque danger tension pression question problème solution
projet programme plan stratégie politique diplomatie relation partenaire allié voisin
population famille enfant femme homme jeune ancien médecin infirmière enseignant étudiant
journaliste photographe correspondant observateur expert analyste chercheur historien
affirmé indiqué expliqué estimé souligné rappelé précisé ajouté annoncé dénoncé reconnu
démenti confirmé rejeté accepté signé ouvert fermé repris quitté rejoint franchi traversé
reconstruit détruit endommagé évacué protégé soutenu financé organisé prévu attendu
important nouveau nouvelle grand grande petit petite premier première dernier dernière
long longue court difficile possible nécessaire officiel officielle local locale national
nationale international internationale militaire civil civile public publique économique
sociale politique humanitaire sanitaire alimentaire énergétique régional régionale
""".split()
PLACES = ("Karabakh", "Stepanakert", "Kharkiv", "Kherson", "Darfour", "Omdurman", "Gaza",
          "Rafah", "Alep", "Idleb", "Bamako", "Niamey", "Goma", "Bunia", "Mogadiscio",
          "Benghazi", "Erevan", "Bakou", "Tbilissi", "Genève", "Vienne", "Bruxelles")
# Topic labels the sources show: conflict labels from data/veille.toml and others.
TOPICS = ("Nagorny Karabakh", "Guerre en Ukraine", "Soudan", "Sahel", "Gaza", "Syrie",
          "RDC", "Somalie", "Économie", "Culture", "Sciences", "Politique", "Sports",
          "Environnement", "Santé", "Éducation")
AUTHORS = ("Nora Haddad", "Élise Marchand", "Samir Osman", "Anahit Melkonian", "Paul Girard",
           "Inès Benali", "Louis Mercier", "Claire Dubois", "Karim Saïdi", "Marta Lopez")
BASE_TIME = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
ARTICLE_GAP = timedelta(minutes=17)
MIN_KB, MAX_KB = 5, 60
BACKLOG = 1024


@dataclass(frozen=True)
class SiteSpec:
    """What to build: `sources` sources of `articles` articles each."""

    sources: int = 20
    articles: int = 50
    per_page: int = 20  # articles per listing page (topic sources)
    feed_every: int = 2  # every n-th source is an RSS feed, the others topic pages
    jsonld_every: int = 2  # every n-th source puts JSON-LD NewsArticle on its pages
    copy_share: float = 0.05  # articles that are reprints of another source's article
    seed: int = 20261124


@dataclass
class SiteSource:
    """One source of the synthetic site, with the paths a crawl of it fetches."""

    id: str
    kind: str  # "topic" or "feed"
    topic: str
    start: str  # path of the listing's first page, or of the feed
    listings: list[str] = field(default_factory=list)  # every listing page or the feed
    articles: list[str] = field(default_factory=list)  # edition 1, newest first
    new_article: str = ""  # the article edition 2 adds


@dataclass
class Site:
    """A generated site: edition 1 in `root`, edition 2's files in `edition2`."""

    spec: SiteSpec
    root: Path
    edition2: Path
    sources: list[SiteSource]

    @property
    def article_paths(self) -> list[str]:
        return [p for s in self.sources for p in s.articles]

    def article_bytes(self, path: str, origin: str) -> bytes:
        """An edition-1 article as the server sends it."""
        body = (self.root / path.lstrip("/")).read_bytes()
        return body.replace(b"{{ORIGIN}}", origin.encode())

    def server(self) -> CountingSiteServer:
        """A server for this site (not started); `server.edition = 2` shows edition 2."""
        return CountingSiteServer(self.root, [self.edition2])

    def write_config(self, dest: Path, origin: str, *, obey_robots: bool = True,
                     extra: str = "") -> Path:
        """A Veille config for the site: its sources, the shipped conflicts and one
        subscription (an Atom feed) following all of them, so matching and alert
        queueing run. Local server: no download delay, no AutoThrottle."""
        lines = [
            "[crawl]",
            'user_agent = "Veille-bench/0.1"',
            f"obey_robots = {str(obey_robots).lower()}",
            "autothrottle = false",
            "download_delay = 0",
            "",
        ]
        for s in self.sources:
            lines += ["[[source]]", f'id = "{s.id}"', f'kind = "{s.kind}"',
                      f'url = "{origin}{s.start}"', f"topic = {_toml(s.topic)}",
                      'language = "fr"', 'timezone = "Europe/Paris"']
            if s.kind == "topic":
                lines.append(f"max_pages = {len(s.listings) + 1}")
            lines.append("")
        conflicts = shipped_conflicts()
        for c in conflicts:
            lines.append("[[conflict]]")
            lines += [f"{key} = {_toml(value)}" for key, value in c.items()]
            lines.append("")
        lines += ["[[subscription]]", 'id = "bench-desk"', 'name = "Benchmark desk"',
                  f"conflicts = {_toml([c['id'] for c in conflicts])}",
                  "[subscription.feed]", 'title = "Veille benchmark"', "", extra]
        dest.write_text("\n".join(lines), encoding="utf-8")
        return dest


class CountingSiteServer(SiteServer):
    """A SiteServer that also counts the bytes of its responses (status line, headers and
    body) in `bytes_sent`, and in `resets` the connections the client reset (a crawler
    aborts its connection when a download times out), with a listen backlog that a crawl
    of 100 sources fits in."""

    def __init__(self, root: Path, editions: list[Path] | None = None):
        super().__init__(root, editions)
        # http.server listens with a backlog of 5: a crawl opening dozens of connections
        # at once has its SYNs dropped and retried after 1, 3, 7, 15, 31 s, which measures
        # the fixture's backlog, not the crawler (a news site's server accepts them).
        self._server.socket.listen(BACKLOG)
        self.bytes_sent = 0
        self.resets = 0
        self._bytes_lock = threading.Lock()
        handle_error = self._server.handle_error

        def counted(request: object, client_address: object) -> None:
            # A reset is counted, not printed as a traceback; anything else is printed.
            if isinstance(sys.exc_info()[1], ConnectionResetError):
                with self._bytes_lock:
                    self.resets += 1
            else:
                handle_error(request, client_address)

        self._server.handle_error = counted  # type: ignore[method-assign]

    def reset_hits(self) -> None:
        super().reset_hits()
        with self._bytes_lock:
            self.bytes_sent = 0
            self.resets = 0

    def _handler(self) -> type:
        base = super()._handler()
        site = self

        class Counting(base):  # type: ignore[misc, valid-type]
            def setup(self) -> None:
                super().setup()
                self.wfile = _CountingWriter(self.wfile, site)

        return Counting


class _CountingWriter:
    def __init__(self, raw, site: CountingSiteServer):
        self.raw, self.site = raw, site

    def write(self, data: bytes) -> int:
        with self.site._bytes_lock:
            self.site.bytes_sent += len(data)
        return self.raw.write(data)

    def __getattr__(self, name: str):
        return getattr(self.raw, name)


def shipped_conflicts() -> list[dict]:
    """The [[conflict]] tables of data/veille.toml."""
    with open(SHIPPED_CONFIG, "rb") as fh:
        return tomllib.load(fh)["conflict"]


def _toml(value: object) -> str:
    # JSON strings and arrays of strings are valid TOML.
    return json.dumps(value, ensure_ascii=False)


# -- building ------------------------------------------------------------------------------

def build_site(spec: SiteSpec, dest: Path) -> Site:
    """Write the site described by `spec` under `dest` (edition 1 and edition 2)."""
    root, edition2 = dest / "site", dest / "edition-2"
    root.mkdir(parents=True, exist_ok=True)
    edition2.mkdir(parents=True, exist_ok=True)
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /recherche/\n")
    rng = random.Random(spec.seed)
    writer = _Writer(rng)
    sources, wires = [], []
    for n in range(spec.sources):
        kind = "feed" if spec.feed_every and n % spec.feed_every == spec.feed_every - 1 \
            else "topic"
        sid = f"s{n:03d}"
        source = SiteSource(sid, kind, TOPICS[n % len(TOPICS)],
                            f"/{sid}/rss.xml" if kind == "feed" else f"/{sid}/dernieres-infos/")
        style = _Style(rng, sid, jsonld=spec.jsonld_every > 0 and n % spec.jsonld_every == 0)
        stories = []
        for k in range(spec.articles + 1):  # the last one is edition 2's new article
            when = BASE_TIME - ARTICLE_GAP * (spec.articles - k) - timedelta(minutes=n)
            if wires and rng.random() < spec.copy_share:
                story = writer.reprint(rng.choice(wires), when, source.topic)
            else:
                story = writer.story(when, source.topic)
                wires.append(story)
            story.path = f"/{sid}/{when:%Y/%m/%d}/{story.slug}-{n:03d}{k:04d}.html"
            stories.append(story)
        stories.reverse()  # newest first, as listings show them
        new, old = stories[0], stories[1:]
        for story in stories:
            layer = edition2 if story is new else root
            _write(layer, story.path, style.article(story, stories, rng))
        source.articles = [s.path for s in old]
        source.new_article = new.path
        for layer, shown in ((root, old), (edition2, stories)):
            pages = style.listing_pages(source, shown, spec.per_page) if kind == "topic" \
                else {source.start: style.feed(source, shown)}
            for path, body in pages.items():
                _write(layer, path, body)
            if layer is root:
                source.listings = list(pages)
        sources.append(source)
    return Site(spec, root, edition2, sources)


def _write(layer: Path, path: str, text: str) -> None:
    file = layer / path.lstrip("/")
    if path.endswith("/"):
        file = file / "index.html"
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text, encoding="utf-8")


@dataclass
class _Story:
    title: str
    lead: str
    paragraphs: list[str]
    published: datetime
    topic: str
    author: str
    size_kb: float  # the HTML size this page aims at
    slug: str = ""
    path: str = ""


class _Writer:
    """Sentences and stories from the word list."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def sentence(self, lo: int = 8, hi: int = 26) -> str:
        rng = self.rng
        words = rng.choices(WORDS, k=rng.randint(lo, hi))
        if rng.random() < 0.3:
            words[rng.randrange(len(words))] = rng.choice(PLACES)
        if rng.random() < 0.15:
            words.insert(rng.randrange(len(words)), str(rng.randint(2, 90_000)))
        text = " ".join(words)
        return text[0].upper() + text[1:] + rng.choice("....?")

    def paragraph(self) -> str:
        return " ".join(self.sentence() for _ in range(self.rng.randint(2, 6)))

    def story(self, when: datetime, topic: str) -> _Story:
        rng = self.rng
        title = self.sentence(7, 14).rstrip(".?")
        # Log-uniform between 5 and 60 KB: most pages 10 to 30 KB, a few long reads.
        size = MIN_KB * (MAX_KB / MIN_KB) ** rng.random()
        words = int(size * 1024 / 7)  # more than fits: `_Style.article` cuts to the size
        paragraphs, count = [], 0
        while count < words:
            paragraphs.append(self.paragraph())
            count += len(paragraphs[-1].split())
        return _Story(title, self.sentence(20, 40), paragraphs, when, topic,
                      rng.choice(AUTHORS), size, _slug(title))

    def reprint(self, wire: _Story, when: datetime, topic: str) -> _Story:
        """Another outlet's copy of a wire story: new headline and intro, end cut."""
        title = self.sentence(7, 14).rstrip(".?")
        keep = max(3, int(len(wire.paragraphs) * self.rng.uniform(0.6, 1.0)))
        return _Story(title, self.sentence(20, 40), [self.paragraph(), *wire.paragraphs[1:keep]],
                      when, topic, "AFP", wire.size_kb, _slug(title))


def _slug(title: str) -> str:
    ascii_ = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    words = ["".join(c for c in w if c.isalnum()) for w in ascii_.split()]
    return "-".join(w for w in words if w)[:70].strip("-") or "article"


class _Style:
    """One outlet's page templates: its furniture, how heavy it is, JSON-LD or not."""

    def __init__(self, rng: random.Random, sid: str, jsonld: bool):
        self.sid, self.jsonld = sid, jsonld
        self.name = f"Le Quotidien {sid.upper()}"
        self.sections = [rng.choice(WORDS[60:]).capitalize() for _ in range(rng.randint(5, 16))]
        self.footer_links = [" ".join(rng.choices(WORDS[60:], k=rng.randint(1, 3))).capitalize()
                             for _ in range(rng.randint(5, 30))]
        self.css = "\n".join(
            f".c{i}{{margin:{rng.randint(0, 9)}px;padding:{rng.randint(0, 9)}px;"
            f"color:#{rng.randrange(0x1000000):06x};font:{rng.randint(11, 18)}px Arial}}"
            for i in range(rng.randint(2, 30))
        )

    def _head(self, title: str, canonical: str, extra: str = "") -> str:
        e = html.escape
        return (
            f'<!DOCTYPE html>\n<html lang="fr">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{e(title)} | {self.name}</title>\n"
            f'<link rel="stylesheet" href="/{self.sid}/assets/main.css">\n'
            f'<link rel="canonical" href="{{{{ORIGIN}}}}{canonical}">\n'
            f'<link rel="alternate" type="application/rss+xml" href="{{{{ORIGIN}}}}/{self.sid}'
            f'/rss.xml">\n<style>\n{self.css}\n</style>\n{extra}</head>\n'
        )

    def _header(self) -> str:
        links = "\n".join(f'      <li><a href="/{self.sid}/{_slug(s)}/">{s}</a></li>'
                          for s in self.sections)
        return (
            f'<body>\n<div id="cookie-banner" hidden><p>{self.name} et ses partenaires '
            f"utilisent des cookies pour mesurer l'audience.</p><button>Accepter</button>"
            f"</div>\n<header class=\"site-header\">\n"
            f'  <a class="logo" href="/{self.sid}/"><img src="/{self.sid}/logo.svg" '
            f'alt="{self.name}"></a>\n'
            f'  <form class="search" action="/{self.sid}/recherche/"><input name="q">'
            f"<button>Rechercher</button></form>\n"
            f'  <nav class="rubriques">\n    <ul>\n{links}\n    </ul>\n  </nav>\n</header>\n'
        )

    def _footer(self) -> str:
        links = "\n".join(f'    <li><a href="/{self.sid}/{_slug(s)}/">{s}</a></li>'
                          for s in self.footer_links)
        return (
            f'<footer class="site-footer">\n  <ul>\n{links}\n  </ul>\n'
            f'  <p class="copyright">© 2026 {self.name}. Tous droits réservés.</p>\n'
            f"</footer>\n<script src=\"/{self.sid}/assets/app.js\" defer></script>\n"
            f"</body>\n</html>\n"
        )

    def _most_read(self, others: list[_Story], rng: random.Random) -> str:
        picks = rng.sample(others, min(len(others), rng.randint(4, 8)))
        items = "\n".join(f'      <li><a href="{s.path}">{html.escape(s.title)}</a></li>'
                          for s in picks)
        return (f'<aside class="sidebar">\n  <section class="most-read">\n    <h2>Les plus lus'
                f"</h2>\n    <ol>\n{items}\n    </ol>\n  </section>\n</aside>\n")

    def article(self, story: _Story, stories: list[_Story], rng: random.Random) -> str:
        e = html.escape
        others = [s for s in stories if s is not story]
        iso = story.published.isoformat()
        meta = (
            f'<meta name="description" content="{e(story.lead)}">\n'
            f'<meta property="og:type" content="article">\n'
            f'<meta property="og:title" content="{e(story.title)}">\n'
            f'<meta property="og:url" content="{{{{ORIGIN}}}}{story.path}">\n'
            f'<meta property="og:image" content="{{{{ORIGIN}}}}{story.path[:-5]}.jpg">\n'
            f'<meta property="article:published_time" content="{iso}">\n'
        )
        if self.jsonld:
            doc = {"@context": "https://schema.org", "@type": "NewsArticle",
                   "headline": story.title, "description": story.lead,
                   "datePublished": iso, "dateModified": iso,
                   "author": [{"@type": "Person", "name": story.author}],
                   "articleSection": story.topic, "keywords": [story.topic],
                   "image": f"{{{{ORIGIN}}}}{story.path[:-5]}.jpg",
                   "publisher": {"@type": "Organization", "name": self.name},
                   "mainEntityOfPage": f"{{{{ORIGIN}}}}{story.path}"}
            meta += ('<script type="application/ld+json">'
                     f"{json.dumps(doc, ensure_ascii=False)}</script>\n")
        related = "\n".join(f'        <li><a href="{s.path}">{e(s.title)}</a></li>'
                            for s in rng.sample(others, min(len(others), rng.randint(3, 6))))
        read_also = (f'      <aside class="read-also"><p>Lire aussi</p>\n        <ul>\n'
                     f"{related}\n        </ul>\n      </aside>")
        most_read = self._most_read(others, rng)
        # The page's furniture first; of the room left to reach the target size, the text
        # takes 45 to 75 % (at least two paragraphs), teasers of other stories the rest.
        room = story.size_kb * 1024 - len(
            self._article_page(story, [read_also], meta, most_read).encode())
        teasers_room = room * rng.uniform(0.25, 0.55)
        room -= teasers_room
        teasers = ['<section class="more-stories">\n  <h2>Sur le même sujet</h2>']
        for other in rng.sample(others, len(others)):
            if teasers_room < 0:
                break
            teasers.append(f'  <div class="card"><h3><a href="{other.path}">{e(other.title)}'
                           f'</a></h3><p class="teaser">{e(other.lead)}</p></div>')
            teasers_room -= len(teasers[-1].encode()) + 1
        most_read = "\n".join(teasers) + "\n</section>\n" + most_read
        body: list[str] = []
        for p in story.paragraphs:
            if len(body) >= 2 and room < 0:
                break
            body.append(f"      <p>{e(p)}</p>")
            room -= len(body[-1].encode()) + 1
        body.insert(max(1, len(body) // 3), read_also)
        return self._article_page(story, body, meta, most_read)

    def _article_page(self, story: _Story, body: list[str], meta: str, most_read: str) -> str:
        e = html.escape
        iso = story.published.isoformat()
        share = (f'    <div class="share"><a href="https://www.facebook.com/sharer/sharer.php?u='
                 f'{{{{ORIGIN}}}}{story.path}">Facebook</a> <a href="https://x.com/intent/post?'
                 f'url={{{{ORIGIN}}}}{story.path}">X</a> <button>Copier le lien</button></div>\n')
        page = (
            self._head(story.title, story.path, meta) + self._header()
            + '<main>\n  <article class="article">\n'
            f'    <p class="kicker"><a class="topic-label" href="/{self.sid}/dernieres-infos/">'
            f"{e(story.topic)}</a></p>\n"
            f'    <h1 class="article-title">{e(story.title)}</h1>\n'
            f'    <p class="chapo">{e(story.lead)}</p>\n'
            f'    <p class="byline">Par <a class="author" rel="author" href="/{self.sid}/auteur/'
            f'{_slug(story.author)}/">{e(story.author)}</a> · Publié le <time class="published" '
            f'datetime="{iso}">{story.published:%d/%m/%Y à %Hh%M}</time></p>\n'
            + share
            + f'    <figure class="main-image"><img src="{story.path[:-5]}.jpg" alt="">'
            f"<figcaption>{e(story.lead[:80])} <span>© {self.name}</span></figcaption>"
            "</figure>\n"
            + '    <div class="article-body">\n' + "\n".join(body) + "\n    </div>\n"
            + share
            + '    <section class="newsletter-box"><h2>La newsletter</h2><p>Chaque soir, '
            "l'essentiel de l'actualité.</p><form><input name=\"email\"><button>S'inscrire"
            "</button></form></section>\n  </article>\n</main>\n"
            + most_read + self._footer()
        )
        return page

    def listing_pages(self, source: SiteSource, stories: list[_Story],
                      per_page: int) -> dict[str, str]:
        pages = {}
        chunks = [stories[i:i + per_page] for i in range(0, len(stories), per_page)]
        for number, chunk in enumerate(chunks, 1):
            path = source.start if number == 1 else f"{source.start}page/{number}/"
            nxt = f"{source.start}page/{number + 1}/" if number < len(chunks) else None
            items = "\n".join(
                f'  <article class="item">\n'
                f'    <a class="topic-label" href="{source.start}">{html.escape(s.topic)}</a>\n'
                f'    <time datetime="{s.published.isoformat()}">'
                f"{s.published:%d/%m - %Hh%M}</time>\n"
                f'    <h2><a href="{s.path}">{html.escape(s.title)}</a></h2>\n'
                f'    <p class="teaser">{html.escape(s.lead)}</p>\n  </article>'
                for s in chunk
            )
            link = f'<link rel="next" href="{{{{ORIGIN}}}}{nxt}">\n' if nxt else ""
            pager = (f'  <nav class="pagination"><a rel="next" href="{nxt}">Suivant</a></nav>\n'
                     if nxt else "")
            pages[path] = (
                self._head(f"Dernières infos : {source.topic}", path, link) + self._header()
                + f"<main>\n  <h1>Dernières infos : {html.escape(source.topic)}</h1>\n"
                + f'  <div class="live-list">\n{items}\n  </div>\n{pager}</main>\n'
                + self._footer()
            )
        return pages

    def feed(self, source: SiteSource, stories: list[_Story]) -> str:
        e = html.escape
        items = "\n".join(
            f"  <item>\n    <title>{e(s.title)}</title>\n"
            f"    <link>{{{{ORIGIN}}}}{s.path}?utm_source=rss</link>\n"
            f'    <guid isPermaLink="false">{source.id}{s.path}</guid>\n'
            f"    <pubDate>{s.published.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>\n"
            f"    <category>{e(s.topic)}</category>\n"
            f"    <description>{e(s.lead)}</description>\n  </item>"
            for s in stories
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0">\n<channel>\n'
            f"  <title>{self.name}</title>\n  <link>{{{{ORIGIN}}}}/{self.sid}/</link>\n"
            f"  <description>Dernières infos</description>\n  <language>fr</language>\n"
            f"{items}\n</channel>\n</rss>\n"
        )
