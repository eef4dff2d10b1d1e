#!/usr/bin/env python3
"""Regenerate the Veille demo news site from articles.toml.

    python data/demo/build.py

Writes, next to this file:
  site/          edition 1, served as is by Veille's static test server
  edition-2/     only the files that differ in edition 2 (a few hours later)
  expected.json  the ground truth the tests check against

Standard library only; the output is deterministic (no clock, no randomness).
The literal {{ORIGIN}} is replaced by the server with its origin at serve time.
"""

# ruff: noqa: E501  (HTML templates keep their natural line length)

from __future__ import annotations

import html
import json
import re
import shutil
import sys
import tomllib
import unicodedata
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "articles.toml"
ORIGIN = "{{ORIGIN}}"
PAGE_SIZE = 5  # items per listing page, levant and monitor
RSS_QUERY = "utm_source=rss&utm_medium=feed&utm_campaign=dernieres-infos"
LEVANT_FEED = "/levant/rss/dernieres-infos.xml"
MONITOR_FEED = "/monitor/feed.atom"
GAZETTE_FEED = "/gazette/rss.xml"

MOIS = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
]
JOURS = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------


def esc(text: str) -> str:
    """Escape a text node (HTML or XML)."""
    return html.escape(text, quote=False)


def attr(text: str) -> str:
    """Escape an attribute value."""
    return html.escape(text, quote=True)


def slugify(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


def fr_long(value: str) -> str:
    d = dt(value)
    return f"{d.day} {MOIS[d.month - 1]} {d.year} à {d.hour}h{d.minute:02d}"


def fr_short(value: str) -> str:
    d = dt(value)
    return f"{d.day:02d}/{d.month:02d} - {d.hour:02d}h{d.minute:02d}"


def en_long(value: str) -> str:
    d = dt(value)
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}, {d.hour:02d}:{d.minute:02d} GMT"


def zulu(value: str) -> str:
    return value.replace("+00:00", "Z")


def rfc822(value: str) -> str:
    return format_datetime(dt(value))


def curly(text: str) -> str:
    """Typographic apostrophes and English double quotes."""
    text = re.sub(r'"([^"]*)"', "\u201c\\1\u201d", text)
    return text.replace("'", "\u2019")


def paragraphs(body: str) -> list[str]:
    return [" ".join(p.split()) for p in body.strip().split("\n\n") if p.strip()]


def words(paras: list[str]) -> int:
    return sum(len(p.split()) for p in paras)


def jsonld_script(obj: dict) -> str:
    text = json.dumps(obj, ensure_ascii=False, indent=2).replace("</", "<\\/")
    return f'<script type="application/ld+json">\n{text}\n</script>'


def pick_snippet(paras: list[str]) -> str:
    """A plain (quote-free) sentence from the middle of the body."""
    mid = len(paras) // 2
    order = [mid] + [
        i for k in range(1, len(paras)) for i in (mid + k, mid - k) if 0 <= i < len(paras)
    ]
    for i in order:
        for sentence in re.split(r"(?<=[.!?])\s+(?=[A-ZÀ-ÖØ-Þ])", paras[i]):
            if (
                len(sentence.split()) >= 8
                and sentence.endswith(".")
                and not re.search('[«»\u201c\u201d"]', sentence)
            ):
                return sentence
    raise ValueError("no snippet found")


# --------------------------------------------------------------------------
# content model
# --------------------------------------------------------------------------


def prepare(data: dict, edition: int) -> list[dict]:
    """Resolve wires, edition-2 changes, typography and URLs for every article."""
    outlets = data["outlets"]
    levant_topics = {t["label"]: key for key, t in outlets["levant"]["topics"].items()}
    arts = []
    for raw in data["article"]:
        a = dict(raw)
        a.setdefault("edition", 1)
        if a["edition"] > edition:
            continue
        outlet = outlets[a["outlet"]]
        a["num"] = a["id"].split("-")[1]
        if "wire" in a:
            wire = data["wire"][a["wire"]]
            paras = paragraphs(wire["body"])
            if "first_paragraph" in a:
                paras[0] = " ".join(a["first_paragraph"].split())
            if "cut_after" in a:
                paras = paras[: a["cut_after"]]
            a["agency"] = wire["agency"]
            a["language"] = wire["language"]
        else:
            paras = paragraphs(a["body"])
            a["language"] = "en" if a["outlet"] == "monitor" else outlet["language"]
        a["updated"] = a.get("modified")
        if edition >= 2 and "edition2" in a:
            change = a["edition2"]
            a["updated"] = a["modified"] = change["modified"]
            for old, new in change.get("replace", []):
                hits = [i for i, p in enumerate(paras) if old in p]
                assert len(hits) == 1, (a["id"], old)
                paras[hits[0]] = paras[hits[0]].replace(old, new)
            for add in sorted(change.get("add", []), key=lambda x: -x["after"]):
                paras.insert(add["after"], " ".join(add["text"].split()))
        if outlet["typography"] == "curly":
            paras = [curly(p) for p in paras]
            for key in ("title", "lead", "caption"):
                if key in a:
                    a[key] = curly(a[key])
        a["paras"] = paras
        d = dt(a["published"])
        ymd = f"{d.year}/{d.month:02d}/{d.day:02d}"
        a["jsonld"] = a.get("jsonld", a["outlet"] == "levant")
        a["encoding"] = a.get("encoding", "utf-8")
        a["aliases"] = []
        if a["outlet"] == "levant":
            a["path"] = f"/levant/{ymd}/{a['slug']}.html"
            a["topic_key"] = levant_topics[a["topic"]]
            a["image"] = f"/levant/img/{d.year}/{d.month:02d}/{a['slug']}.jpg"
            if a.get("amp"):
                a["amp_path"] = f"/levant/amp/{ymd}/{a['slug']}.html"
                a["aliases"].append(a["amp_path"])
        elif a["outlet"] == "monitor":
            a["path"] = f"/monitor/{ymd}/{a['slug']}.html"
            a["image"] = f"/monitor/media/{d.year}/{d.month:02d}/{a['slug']}.jpg"
        else:
            a["path"] = f"/gazette/article/{a['num']}-{a['slug']}.html"
        if "short_url" in a:
            a["aliases"].append(a["short_url"])
        a["href"] = a.get("short_url") or a["path"]
        if "listing_query" in a:
            a["href"] = f"{a['path']}?{a['listing_query']}"
        a["url"] = ORIGIN + a["path"]
        arts.append(a)
    arts.sort(key=lambda x: (dt(x["published"]), x["id"]), reverse=True)
    by_id = {a["id"]: a for a in arts}
    for a in arts:
        if "translation_of" in a:
            a["translation_path"] = by_id[a["translation_of"]]["path"]
    return arts


def related(a: dict, arts: list[dict], n: int = 2) -> list[dict]:
    """Same outlet and topic, previous coverage first; edition-1 pieces only so
    that older pages do not change when a new article appears."""
    pool = [
        b
        for b in arts
        if b["outlet"] == a["outlet"]
        and b["topic"] == a["topic"]
        and b is not a
        and b["edition"] == 1
    ]
    older = [b for b in pool if dt(b["published"]) < dt(a["published"])]
    newer = [b for b in reversed(pool) if dt(b["published"]) > dt(a["published"])]
    return (older + newer)[:n]


# --------------------------------------------------------------------------
# Le Courrier du Levant
# --------------------------------------------------------------------------

LEVANT_CSS = """:root{--rouge:#b3122e;--encre:#1b1b1b;--gris:#6b6b6b}
body{margin:0;font:16px/1.55 Georgia,'Times New Roman',serif;color:var(--encre)}
.top-bar{display:flex;gap:1rem;justify-content:flex-end;font:13px Arial,sans-serif;padding:.4rem 1rem;background:#f4f1ec}
.logo img{display:block;margin:.8rem auto}
.rubriques ul,.live-topics ul{display:flex;flex-wrap:wrap;gap:1rem;list-style:none;margin:0;padding:.5rem 1rem;font:600 14px Arial,sans-serif}
.live-topics{background:var(--rouge)}.live-topics a{color:#fff}
.topic-label{font:700 12px Arial,sans-serif;text-transform:uppercase;color:var(--rouge)}
main{max-width:760px;margin:0 auto;padding:1rem}
.item{border-bottom:1px solid #e2ded6;padding:.8rem 0}.item time{font:12px Arial,sans-serif;color:var(--gris);margin-left:.5rem}
.item h2{font-size:1.2rem;margin:.3rem 0}.teaser{margin:0;color:#333}
.read-also{border-left:4px solid var(--rouge);padding:.2rem 1rem;margin:1.5rem 0;font-family:Arial,sans-serif}
.share a,.share button{display:inline-block;margin-right:.5rem;font:13px Arial,sans-serif}
.site-footer{background:#1b1b1b;color:#ddd;padding:2rem 1rem;font:13px Arial,sans-serif}.site-footer a{color:#ddd}
#cookie-banner{position:fixed;bottom:0;left:0;right:0;background:#fff;box-shadow:0 -2px 8px rgba(0,0,0,.2);padding:1rem;font:13px Arial,sans-serif}"""

LEVANT_RUBRIQUES = [
    ("Liban", "liban"),
    ("Moyen-Orient", "moyen-orient"),
    ("Caucase", "caucase"),
    ("Afrique", "afrique"),
    ("International", "international"),
    ("Économie", "economie"),
    ("Culture", "culture"),
    ("Opinions", "opinions"),
]

LEVANT_AUTHORS_BOX = ["Nora Haddad", "Anahit Melkonian", "Élise Marchand", "Samir Osman"]


def levant_head_common(title: str) -> str:
    return f"""<meta charset="utf-8">
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<link rel="preconnect" href="https://static.courrierdulevant.example">
<link rel="stylesheet" href="/levant/assets/css/main.4f2a1c.css">
<link rel="icon" href="/levant/favicon.ico">
<link rel="alternate" type="application/rss+xml" title="Le Courrier du Levant - Dernières infos" href="{ORIGIN}{LEVANT_FEED}">
<style>
{LEVANT_CSS}
</style>"""


def levant_header(topics: dict, current: str | None) -> str:
    rub = "\n".join(
        f'      <li><a href="/levant/{s}/">{esc(n)}</a></li>' for n, s in LEVANT_RUBRIQUES
    )
    live = []
    for key, t in topics.items():
        cur = ' aria-current="page"' if key == current else ""
        live.append(
            f'      <li><a href="/levant/dernieres-infos/{key}/"{cur}>{esc(t["label"])}</a></li>'
        )
    live.append('      <li><a href="/levant/tag/armenie/">Arménie</a></li>')
    live.append('      <li><a href="/levant/tag/azerbaidjan/">Azerbaïdjan</a></li>')
    live_html = "\n".join(live)
    return f"""<div id="cookie-banner" role="dialog" aria-label="Cookies" hidden>
  <p>Le Courrier du Levant et ses partenaires utilisent des cookies pour mesurer l'audience, personnaliser les contenus et les publicités. Vous pouvez accepter ou paramétrer vos choix à tout moment.</p>
  <button type="button" class="cookie-accept">Tout accepter</button> <button type="button" class="cookie-settings">Paramétrer</button> <a href="/levant/cookies/">En savoir plus</a>
</div>
<header class="site-header">
  <div class="top-bar">
    <a href="/levant/abonnement/?origine=header" class="btn-abo">S'abonner dès 1 €</a>
    <a href="/levant/connexion/?redirect=%2Flevant%2F" class="login">Se connecter</a>
    <a href="/levant/newsletters/">Newsletters</a>
  </div>
  <a class="logo" href="/levant/"><img src="/levant/img/logo-courrier-du-levant.svg" alt="Le Courrier du Levant" width="260" height="48"></a>
  <form class="search" action="/levant/recherche/" method="get" role="search">
    <label for="q">Rechercher</label>
    <input id="q" name="q" type="search" placeholder="Rechercher un article, un sujet, un auteur">
    <button type="submit">Rechercher</button>
  </form>
  <nav class="rubriques" aria-label="Rubriques">
    <ul>
{rub}
    </ul>
  </nav>
  <nav class="live-topics" aria-label="Dernières infos">
    <ul>
      <li><strong>Dernières infos</strong></li>
{live_html}
    </ul>
  </nav>
</header>"""


def levant_footer() -> str:
    return """<footer class="site-footer">
  <div class="footer-cols">
    <section>
      <h3>Le Courrier du Levant</h3>
      <ul>
        <li><a href="/levant/qui-sommes-nous/">Qui sommes-nous ?</a></li>
        <li><a href="/levant/la-redaction/">La rédaction</a></li>
        <li><a href="/levant/charte-deontologique/">Charte déontologique</a></li>
        <li><a href="/levant/recrutement/">Recrutement</a></li>
        <li><a href="/levant/contact/">Nous contacter</a></li>
      </ul>
    </section>
    <section>
      <h3>Services</h3>
      <ul>
        <li><a href="/levant/abonnement/?origine=footer">Abonnement</a></li>
        <li><a href="/levant/newsletters/">Newsletters</a></li>
        <li><a href="/levant/applications/">Applications mobiles</a></li>
        <li><a href="/levant/archives/">Archives</a></li>
        <li><a href="/levant/rss/">Flux RSS</a></li>
      </ul>
    </section>
    <section>
      <h3>Suivez-nous</h3>
      <ul>
        <li><a href="https://www.facebook.com/courrierdulevant.example" rel="noopener">Facebook</a></li>
        <li><a href="https://x.com/CourrierLevantEx" rel="noopener">X</a></li>
        <li><a href="https://www.instagram.com/courrierdulevant.example" rel="noopener">Instagram</a></li>
        <li><a href="https://t.me/courrierdulevant_example" rel="noopener">Telegram</a></li>
      </ul>
    </section>
  </div>
  <p class="legal">
    <a href="/levant/mentions-legales/">Mentions légales</a> ·
    <a href="/levant/cgu/">Conditions générales d'utilisation</a> ·
    <a href="/levant/cgv/">Conditions générales de vente</a> ·
    <a href="/levant/confidentialite/">Politique de confidentialité</a> ·
    <a href="/levant/cookies/">Gestion des cookies</a> ·
    <a href="/levant/plan-du-site/">Plan du site</a>
  </p>
  <p class="copyright">© 2026 Le Courrier du Levant. Tous droits réservés. Toute reproduction, même partielle, est interdite sans autorisation de l'éditeur.</p>
</footer>
<script src="/levant/assets/js/app.9b71e0.js" defer></script>
<script>
  window.dataLayer = window.dataLayer || [];
  (function(){var s=document.createElement('script');s.async=true;s.src='/levant/assets/js/consent.js';document.head.appendChild(s);})();
</script>"""


def levant_author_links(a: dict, html_links: bool = True) -> str:
    names = []
    for name in a["authors"]:
        if name in ("AFP", "Reuters") or not html_links:
            names.append(f'<span class="author">{esc(name)}</span>')
        else:
            names.append(
                f'<a class="author" rel="author" href="/levant/auteur/{slugify(name)}/">'
                f"{esc(name)}</a>"
            )
    text = " et ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + " et " + names[-1]
    if a.get("credit"):
        text += f" {esc(a['credit'])}"
    return text


def levant_jsonld(a: dict, outlet: dict) -> str:
    if a["authors"][0] in ("AFP", "Reuters"):
        authors = [{"@type": "Organization", "name": n} for n in a["authors"]]
    else:
        authors = [
            {"@type": "Person", "name": n, "url": f"{ORIGIN}/levant/auteur/{slugify(n)}/"}
            for n in a["authors"]
        ]
    article = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "mainEntityOfPage": {"@type": "WebPage", "@id": a["url"]},
        "url": a["url"],
        "headline": a["title"],
        "description": a["lead"],
        "datePublished": a["published"],
        "dateModified": a["modified"],
        "author": authors,
        "publisher": {
            "@type": "Organization",
            "name": outlet["name"],
            "logo": {
                "@type": "ImageObject",
                "url": f"{ORIGIN}/levant/img/logo-courrier-du-levant.png",
                "width": 600,
                "height": 60,
            },
        },
        "articleSection": outlet["section"],
        "keywords": a.get("keywords", []),
        "image": {
            "@type": "ImageObject",
            "url": ORIGIN + a["image"],
            "caption": a["caption"],
            "width": 1200,
            "height": 675,
        },
        "inLanguage": "fr",
        "isAccessibleForFree": True,
    }
    crumbs = {
        "@context": "https://schema.org",
        "@type": "BreadcrumbList",
        "itemListElement": [
            {"@type": "ListItem", "position": 1, "name": "Accueil", "item": f"{ORIGIN}/levant/"},
            {
                "@type": "ListItem",
                "position": 2,
                "name": outlet["section"],
                "item": f"{ORIGIN}/levant/dernieres-infos/{a['topic_key']}/",
            },
            {"@type": "ListItem", "position": 3, "name": a["title"], "item": a["url"]},
        ],
    }
    return jsonld_script(article) + "\n" + jsonld_script(crumbs)


def levant_share(a: dict, where: str) -> str:
    u = a["url"]
    t = quote(a["title"])
    return f"""<div class="share share-{where}" aria-label="Partager l'article">
    <a class="share-facebook" href="https://www.facebook.com/sharer/sharer.php?u={u}" rel="nofollow noopener" target="_blank">Partager sur Facebook</a>
    <a class="share-x" href="https://x.com/intent/post?url={u}&amp;text={t}" rel="nofollow noopener" target="_blank">Partager sur X</a>
    <a class="share-whatsapp" href="https://wa.me/?text={u}" rel="nofollow noopener" target="_blank">Partager sur WhatsApp</a>
    <button type="button" class="share-copy" data-url="{u}">Copier le lien</button>
  </div>"""


def levant_article(a: dict, arts: list[dict], data: dict) -> str:
    outlet = data["outlets"]["levant"]
    topics = outlet["topics"]
    key = a["topic_key"]
    head = [
        levant_head_common(f"{a['title']} | {outlet['name']}"),
        f'<meta name="description" content="{attr(a["lead"])}">',
        f'<meta name="author" content="{attr(", ".join(a["authors"]))}">',
        '<meta name="robots" content="max-image-preview:large">',
        f'<link rel="canonical" href="{a["url"]}">',
    ]
    if a.get("amp_path"):
        head.append(f'<link rel="amphtml" href="{ORIGIN}{a["amp_path"]}">')
    head += [
        '<meta property="og:type" content="article">',
        f'<meta property="og:site_name" content="{attr(outlet["name"])}">',
        f'<meta property="og:locale" content="{outlet["locale"]}">',
        f'<meta property="og:title" content="{attr(a["title"])}">',
        f'<meta property="og:description" content="{attr(a["lead"])}">',
        f'<meta property="og:url" content="{a["url"]}">',
        f'<meta property="og:image" content="{ORIGIN}{a["image"]}">',
        '<meta property="og:image:width" content="1200">',
        '<meta property="og:image:height" content="675">',
        f'<meta property="article:published_time" content="{a["published"]}">',
        f'<meta property="article:modified_time" content="{a["modified"]}">',
        f'<meta property="article:section" content="{attr(outlet["section"])}">',
    ]
    head += [f'<meta property="article:tag" content="{attr(k)}">' for k in a.get("keywords", [])]
    head += [
        '<meta name="twitter:card" content="summary_large_image">',
        '<meta name="twitter:site" content="@CourrierLevantEx">',
    ]
    if a["jsonld"]:
        head.append(levant_jsonld(a, outlet))
    head.append(
        "<script>window.dataLayer=window.dataLayer||[];dataLayer.push("
        + json.dumps(
            {
                "pageType": "article",
                "articleId": a["num"],
                "section": "dernieres-infos",
                "topic": key,
            }
        )
        + ");</script>"
    )

    paras = a["paras"]
    mid = (len(paras) + 1) // 2
    rel = "\n".join(
        f'        <li><a href="{b["path"]}">{esc(b["title"])}</a></li>' for b in related(a, arts)
    )
    read_also = f"""      <aside class="read-also">
        <p class="read-also-title">Lire aussi</p>
        <ul>
{rel}
        </ul>
      </aside>"""
    body = (
        [f"      <p>{esc(p)}</p>" for p in paras[:mid]]
        + [read_also]
        + [f"      <p>{esc(p)}</p>" for p in paras[mid:]]
    )
    if mid >= 3:
        body.insert(
            3, '      <div class="ad-slot" data-slot="article-inread" aria-hidden="true"></div>'
        )
    tags = "\n".join(
        f'      <li><a href="/levant/tag/{slugify(k)}/">{esc(k)}</a></li>'
        for k in a.get("keywords", [])
    )
    updated = ""
    if a["modified"] != a["published"]:
        updated = (
            f', mis à jour le <time class="modified" datetime="{a["modified"]}">'
            f"{fr_long(a['modified'])}</time>"
        )
    credit = a.get("agency") or "Le Courrier du Levant"
    n_comments = int(a["num"]) % 17 + 3
    return f"""<!DOCTYPE html>
<html lang="fr">
<head>
{chr(10).join(head)}
</head>
<body class="page-article topic-{key}">
{levant_header(topics, key)}
<main id="contenu">
  <article class="article" data-id="{a["num"]}">
    <nav class="breadcrumb" aria-label="Fil d'Ariane"><a href="/levant/">Accueil</a> › <a href="/levant/dernieres-infos/{key}/">Dernières infos</a> › <span>{esc(topics[key]["label"])}</span></nav>
    <p class="kicker"><a class="topic-label" href="/levant/dernieres-infos/{key}/">{esc(a["topic"])}</a></p>
    <h1 class="article-title">{esc(a["title"])}</h1>
    <p class="chapo">{esc(a["lead"])}</p>
    <p class="byline">Par {levant_author_links(a)} · Publié le <time class="published" datetime="{a["published"]}">{fr_long(a["published"])}</time>{updated}</p>
    {levant_share(a, "top")}
    <figure class="main-image">
      <img src="{a["image"]}" alt="{attr(a["caption"])}" width="1200" height="675">
      <figcaption>{esc(a["caption"])} <span class="photo-credit">© {esc(credit)}</span></figcaption>
    </figure>
    <div class="article-body">
{chr(10).join(body)}
    </div>
    <ul class="tags" aria-label="Mots-clés">
{tags}
    </ul>
    {levant_share(a, "bottom")}
    <section class="newsletter-box">
      <h2>La newsletter « Caucase et Moyen-Orient »</h2>
      <p>Chaque soir, l'essentiel de l'actualité de la région, sélectionné par la rédaction.</p>
      <form action="/levant/newsletters/inscription/" method="post">
        <label for="nl-email">Votre adresse e-mail</label>
        <input id="nl-email" type="email" name="email" required>
        <input type="hidden" name="liste" value="caucase-moyen-orient">
        <button type="submit">S'inscrire</button>
      </form>
      <p class="rgpd">Vos données sont traitées conformément à notre <a href="/levant/confidentialite/">politique de confidentialité</a>.</p>
    </section>
    <section class="comments-teaser" id="commentaires">
      <h2>{n_comments} commentaires</h2>
      <p>Les commentaires sont réservés aux abonnés. Abonnez-vous pour participer à la discussion.</p>
      <a class="btn" href="/levant/connexion/?redirect={a["path"]}%23commentaires">Se connecter pour réagir</a>
    </section>
  </article>
  <aside class="sidebar">
    <div class="ad-slot" data-slot="sidebar-top" aria-hidden="true"></div>
    <section class="app-promo">
      <h2>L'application</h2>
      <p>Recevez les alertes de la rédaction en temps réel.</p>
      <a href="/levant/applications/">Télécharger l'application</a>
    </section>
  </aside>
</main>
{levant_footer()}
</body>
</html>
"""


AMP_BOILERPLATE = (
    "<style amp-boilerplate>body{-webkit-animation:-amp-start 8s steps(1,end) 0s 1 "
    "normal both;animation:-amp-start 8s steps(1,end) 0s 1 normal both}"
    "@keyframes -amp-start{from{visibility:hidden}to{visibility:visible}}</style>"
    "<noscript><style amp-boilerplate>body{-webkit-animation:none;animation:none}"
    "</style></noscript>"
)


def levant_amp(a: dict, data: dict) -> str:
    outlet = data["outlets"]["levant"]
    key = a["topic_key"]
    body = "\n".join(f"    <p>{esc(p)}</p>" for p in a["paras"])
    ld = levant_jsonld(a, outlet) if a["jsonld"] else ""
    return f"""<!doctype html>
<html amp lang="fr">
<head>
<meta charset="utf-8">
<script async src="https://cdn.ampproject.org/v0.js"></script>
<script async custom-element="amp-analytics" src="https://cdn.ampproject.org/v0/amp-analytics-0.1.js"></script>
<title>{esc(a["title"])} | {esc(outlet["name"])}</title>
<link rel="canonical" href="{a["url"]}">
<meta name="viewport" content="width=device-width">
<meta name="description" content="{attr(a["lead"])}">
<meta name="author" content="{attr(", ".join(a["authors"]))}">
<meta property="og:title" content="{attr(a["title"])}">
<meta property="og:url" content="{a["url"]}">
<meta property="og:image" content="{ORIGIN}{a["image"]}">
<meta property="article:published_time" content="{a["published"]}">
{ld}
{AMP_BOILERPLATE}
<style amp-custom>
body{{font-family:Georgia,serif;margin:0;color:#1b1b1b}}
header{{background:#b3122e;padding:.6rem 1rem}}header a{{color:#fff;font:700 18px Arial,sans-serif;text-decoration:none}}
article{{padding:1rem}}.topic-label{{font:700 12px Arial,sans-serif;text-transform:uppercase;color:#b3122e}}
.chapo{{font-weight:700}}.byline{{font:13px Arial,sans-serif;color:#6b6b6b}}
figcaption{{font:12px Arial,sans-serif;color:#6b6b6b}}
footer{{background:#1b1b1b;color:#ddd;padding:1rem;font:12px Arial,sans-serif}}footer a{{color:#ddd}}
</style>
</head>
<body>
<header><a href="/levant/">Le Courrier du Levant</a></header>
<article>
  <p class="kicker"><a class="topic-label" href="/levant/dernieres-infos/{key}/">{esc(a["topic"])}</a></p>
  <h1>{esc(a["title"])}</h1>
  <p class="chapo">{esc(a["lead"])}</p>
  <p class="byline">Par {levant_author_links(a)} · Publié le <time datetime="{a["published"]}">{fr_long(a["published"])}</time></p>
  <figure>
    <amp-img src="{a["image"]}" width="1200" height="675" layout="responsive" alt="{attr(a["caption"])}"></amp-img>
    <figcaption>{esc(a["caption"])}</figcaption>
  </figure>
  <div class="article-body">
{body}
  </div>
  <p><a href="{a["path"]}">Voir la version complète de l'article</a> · <a href="/levant/dernieres-infos/{key}/">Toutes les dernières infos</a></p>
</article>
<amp-analytics type="googleanalytics"><script type="application/json">{{"vars":{{"account":"UA-000000-1"}},"triggers":{{"default pageview":{{"on":"visible","request":"pageview"}}}}}}</script></amp-analytics>
<footer>
  <p>© 2026 Le Courrier du Levant · <a href="/levant/mentions-legales/">Mentions légales</a> · <a href="/levant/confidentialite/">Confidentialité</a> · <a href="/levant/cookies/">Cookies</a></p>
</footer>
</body>
</html>
"""


def levant_listing_pages(arts: list[dict], data: dict, edition: int) -> tuple[dict, list]:
    """Topic pages of the live section. Returns (files, expected topic_pages)."""
    outlet = data["outlets"]["levant"]
    topics = outlet["topics"]
    by_id = {a["id"]: a for a in arts}
    files, expected = {}, []
    draft = outlet["draft"]
    for key, t in topics.items():
        items = [a for a in arts if a["outlet"] == "levant" and a["topic_key"] == key]
        pages = [items[i : i + PAGE_SIZE] for i in range(0, len(items), PAGE_SIZE)]
        base = f"/levant/dernieres-infos/{key}/"
        exp_pages = []
        for n, page in enumerate(pages, start=1):
            path = base if n == 1 else f"{base}page/{n}/"
            nxt = f"{base}page/{n + 1}/" if n < len(pages) else None
            prev = (base if n == 2 else f"{base}page/{n - 1}/") if n > 1 else None
            blocks, exp_items, disallowed = [], [], []
            if draft["page"] == f"{key}/{n}":
                blocks.append(f"""  <article class="item item--draft">
    <a class="topic-label" href="{base}">{esc(t["label"])}</a>
    <time datetime="{draft["published"]}">{fr_short(draft["published"])}</time>
    <h2><a href="{attr(draft["href"])}">{esc(curly(draft["title"]))}</a></h2>
  </article>""")
                disallowed.append(draft["href"])
            for a in page:
                upd = ""
                if edition >= 2 and "edition2" in a:
                    upd = (
                        f'\n    <time class="updated" datetime="{a["modified"]}">'
                        f"mis à jour à {dt(a['modified']).hour}h{dt(a['modified']).minute:02d}"
                        f"</time>"
                    )
                blocks.append(f"""  <article class="item">
    <a class="topic-label" href="{base}">{esc(t["label"])}</a>
    <time datetime="{a["published"]}">{fr_short(a["published"])}</time>{upd}
    <h2><a href="{attr(a["href"])}">{esc(a["title"])}</a></h2>
    <p class="teaser">{esc(a["lead"])}</p>
  </article>""")
                a["in_topic_page"] = f"levant-{key}"
                a["listed_on"] = path
                a["listing_href"] = a["href"]
                exp_items.append(
                    {
                        "id": a["id"],
                        "path": a["path"],
                        "href": a["href"],
                        "title": a["title"],
                        "published": a["published"],
                        "updated": a["modified"] if upd else None,
                    }
                )
            most, exp_most = [], []
            for ref in outlet["most_read"][f"{key}/{n}"]:
                aid, _, variant = ref.partition("@")
                b = by_id[aid]
                href = b["amp_path"] if variant == "amp" else b["path"]
                most.append(f'      <li><a href="{href}">{esc(b["title"])}</a></li>')
                exp_most.append({"id": aid, "href": href, "path": b["path"]})
            head_links = [f'<link rel="canonical" href="{ORIGIN}{path}">']
            if prev:
                head_links.append(f'<link rel="prev" href="{ORIGIN}{prev}">')
            if nxt:
                head_links.append(f'<link rel="next" href="{ORIGIN}{nxt}">')
            pager = []
            if prev:
                pager.append(f'<a class="prev" rel="prev" href="{prev}">Précédent</a>')
            if nxt:
                pager.append(f'<a class="next" rel="next" href="{nxt}">Suivant</a>')
            page_no = "" if n == 1 else f" - Page {n}"
            authors = "\n".join(
                f'      <li><a href="/levant/auteur/{slugify(x)}/">{esc(x)}</a></li>'
                for x in LEVANT_AUTHORS_BOX
            )
            files[path.lstrip("/") + "index.html"] = f"""<!DOCTYPE html>
<html lang="fr">
<head>
{levant_head_common(f"{t['label']} : les dernières infos en continu{page_no} | {outlet['name']}")}
<meta name="description" content="Suivez en continu toute l'actualité : {attr(t["label"])}. Dépêches, reportages et analyses de la rédaction du Courrier du Levant.">
{chr(10).join(head_links)}
<meta property="og:type" content="website">
<meta property="og:site_name" content="{attr(outlet["name"])}">
<meta property="og:locale" content="{outlet["locale"]}">
<meta property="og:title" content="Dernières infos : {attr(t["label"])}">
<meta property="og:url" content="{ORIGIN}{path}">
<script>window.dataLayer=window.dataLayer||[];dataLayer.push({json.dumps({"pageType": "live", "topic": key, "page": n})});</script>
</head>
<body class="page-live topic-{key}">
{levant_header(topics, key)}
<main id="contenu">
  <nav class="breadcrumb" aria-label="Fil d'Ariane"><a href="/levant/">Accueil</a> › <a href="/levant/dernieres-infos/{key}/">Dernières infos</a> › <span>{esc(t["label"])}</span></nav>
  <h1>Dernières infos : {esc(t["label"])}</h1>
  <p class="live-intro">Les informations les plus récentes, mises à jour en continu par la rédaction. Page {n} sur {len(pages)}.</p>
  <div class="live-list">
{chr(10).join(blocks)}
  </div>
  <nav class="pagination" aria-label="Pagination">
    {" ".join(pager)}
  </nav>
</main>
<aside class="sidebar">
  <section class="most-read">
    <h2>Les plus lus</h2>
    <ol>
{chr(10).join(most)}
    </ol>
  </section>
  <section class="newsletter-box">
    <h2>Newsletter</h2>
    <p>Recevez chaque soir l'essentiel des dernières infos.</p>
    <a href="/levant/newsletters/?origine=live">Je m'inscris</a>
  </section>
  <section class="correspondents">
    <h2>Nos correspondants</h2>
    <ul>
{authors}
    </ul>
  </section>
  <div class="ad-slot" data-slot="sidebar-live" aria-hidden="true"></div>
</aside>
{levant_footer()}
</body>
</html>
"""
            exp_pages.append(
                {
                    "path": path,
                    "page": n,
                    "prev": prev,
                    "next": nxt,
                    "items": exp_items,
                    "most_read": exp_most,
                    "disallowed_links": disallowed,
                }
            )
        expected.append(
            {
                "source": f"levant-{key}",
                "outlet": "levant",
                "topic": t["label"],
                "url": base,
                "pages": exp_pages,
            }
        )
    return files, expected


def levant_rss(arts: list[dict], data: dict) -> tuple[str, dict]:
    outlet = data["outlets"]["levant"]
    items, entries = [], []
    for a in arts:
        link = f"{a['url']}?{RSS_QUERY}"
        items.append(f"""    <item>
      <title>{esc(a["title"])}</title>
      <link>{esc(link)}</link>
      <guid isPermaLink="false">levant-{a["num"]}</guid>
      <pubDate>{rfc822(a["published"])}</pubDate>
      <dc:creator>{esc(" et ".join(a["authors"]))}</dc:creator>
      <category>{esc(a["topic"])}</category>
      <description>{esc(a["lead"])}</description>
      <media:content url="{ORIGIN}{a["image"]}" medium="image" type="image/jpeg" width="1200" height="675"/>
    </item>""")
        a["in_feed"] = "levant-rss"
        entries.append(
            {
                "id": a["id"],
                "path": a["path"],
                "link": link,
                "guid": f"levant-{a['num']}",
                "title": a["title"],
                "published": a["published"],
                "category": a["topic"],
            }
        )
    built = max(a["modified"] for a in arts)
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">
  <channel>
    <title>{esc(outlet["name"])} - Dernières infos</title>
    <link>{ORIGIN}/levant/</link>
    <atom:link href="{ORIGIN}{LEVANT_FEED}" rel="self" type="application/rss+xml"/>
    <description>L'actualité en continu : Nagorny Karabakh, guerre en Ukraine, Soudan.</description>
    <language>fr-FR</language>
    <copyright>© 2026 {esc(outlet["name"])}</copyright>
    <lastBuildDate>{rfc822(built)}</lastBuildDate>
    <ttl>5</ttl>
    <image>
      <url>{ORIGIN}/levant/img/logo-courrier-du-levant.png</url>
      <title>{esc(outlet["name"])}</title>
      <link>{ORIGIN}/levant/</link>
    </image>
{chr(10).join(items)}
  </channel>
</rss>
"""
    return xml, {
        "source": "levant-rss",
        "outlet": "levant",
        "path": LEVANT_FEED,
        "format": "rss2",
        "bozo": False,
        "entries": entries,
    }


def levant_sitemaps(arts: list[dict], data: dict) -> tuple[dict, dict]:
    outlet = data["outlets"]["levant"]
    urls, entries = [], []
    for a in arts:
        urls.append(f"""  <url>
    <loc>{a["url"]}</loc>
    <lastmod>{a["modified"]}</lastmod>
    <news:news>
      <news:publication>
        <news:name>{esc(outlet["name"])}</news:name>
        <news:language>fr</news:language>
      </news:publication>
      <news:publication_date>{a["published"]}</news:publication_date>
      <news:title>{esc(a["title"])}</news:title>
    </news:news>
    <image:image>
      <image:loc>{ORIGIN}{a["image"]}</image:loc>
    </image:image>
  </url>""")
        a["in_sitemap"] = "levant-sitemap"
        entries.append(
            {
                "id": a["id"],
                "path": a["path"],
                "lastmod": a["modified"],
                "publication_date": a["published"],
                "title": a["title"],
            }
        )
    news = f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9" xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
{chr(10).join(urls)}
</urlset>
"""
    index = f"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap>
    <loc>{ORIGIN}/levant/sitemap-news.xml</loc>
    <lastmod>{max(a["modified"] for a in arts)}</lastmod>
  </sitemap>
</sitemapindex>
"""
    files = {"levant/sitemap.xml": index, "levant/sitemap-news.xml": news}
    return files, {
        "source": "levant-sitemap",
        "outlet": "levant",
        "index": "/levant/sitemap.xml",
        "sitemaps": ["/levant/sitemap-news.xml"],
        "entries": entries,
    }


# --------------------------------------------------------------------------
# The Black Sea & Caucasus Monitor
# --------------------------------------------------------------------------

MONITOR_CSS = """body{margin:0;font:17px/1.6 'Source Serif Pro',Georgia,serif;color:#16202a;background:#fff}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem}
.masthead{border-bottom:3px solid #0b4f6c;padding:1rem 1.5rem;display:flex;flex-wrap:wrap;align-items:center;gap:1.5rem}
.masthead .brand{font:700 22px 'Helvetica Neue',Arial,sans-serif;color:#0b4f6c;text-decoration:none}
.masthead nav ul{display:flex;gap:1rem;list-style:none;margin:0;padding:0;font:600 14px Arial,sans-serif}
main{max-width:720px;margin:0 auto;padding:1.5rem}
.label,.story-label a{font:700 11px Arial,sans-serif;letter-spacing:.06em;text-transform:uppercase;color:#0b4f6c}
.stories{list-style:none;padding:0}.story{padding:.7rem 0;border-bottom:1px solid #e5e9ee}
.story time,.meta{font:13px Arial,sans-serif;color:#5c6b78}
.standfirst{font-size:1.15rem;color:#33414e}
.related,.translation-note,.support{font:14px Arial,sans-serif;background:#f3f6f8;padding:1rem;margin:1.5rem 0}
footer{background:#0b2533;color:#c8d3db;font:13px Arial,sans-serif;padding:2rem 1.5rem}footer a{color:#c8d3db}"""


def monitor_header() -> str:
    return """<a class="skip" href="#main">Skip to content</a>
<header class="masthead">
  <a class="brand" href="/monitor/">The Black Sea &amp; Caucasus Monitor</a>
  <nav aria-label="Sections">
    <ul>
      <li><a href="/monitor/latest/">Latest</a></li>
      <li><a href="/monitor/topics/war-in-ukraine/">War in Ukraine</a></li>
      <li><a href="/monitor/topics/nagorno-karabakh/">Nagorno-Karabakh</a></li>
      <li><a href="/monitor/regions/black-sea/">Black Sea</a></li>
      <li><a href="/monitor/regions/south-caucasus/">South Caucasus</a></li>
      <li><a href="/monitor/topics/sudan/">Sudan</a></li>
      <li><a href="/monitor/topics/sahel/">Sahel</a></li>
      <li><a href="/monitor/analysis/">Analysis</a></li>
    </ul>
  </nav>
  <form action="/monitor/search" method="get" role="search"><input type="search" name="q" aria-label="Search" placeholder="Search the Monitor"><button>Search</button></form>
  <a class="signin" href="/monitor/account/sign-in?next=/monitor/">Sign in</a>
  <a class="subscribe" href="/monitor/support/?src=masthead">Support us</a>
</header>"""


def monitor_footer() -> str:
    return """<footer>
  <p><strong>The Black Sea &amp; Caucasus Monitor</strong> is an independent, reader-funded newsroom covering the Black Sea region, the South Caucasus and the conflicts that shape them.</p>
  <ul>
    <li><a href="/monitor/about/">About us</a></li>
    <li><a href="/monitor/team/">Our team</a></li>
    <li><a href="/monitor/corrections/">Corrections policy</a></li>
    <li><a href="/monitor/contact/">Contact</a></li>
    <li><a href="/monitor/privacy/">Privacy notice</a></li>
    <li><a href="/monitor/terms/">Terms of use</a></li>
    <li><a href="/monitor/feed.atom">Atom feed</a></li>
  </ul>
  <p>© 2026 Black Sea &amp; Caucasus Monitor Ltd. Registered in England and Wales. All rights reserved.</p>
</footer>
<script src="/monitor/static/js/site.min.js" defer></script>"""


def monitor_byline(a: dict) -> str:
    names = a["authors"]
    text = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"By {text}"


def monitor_article(a: dict, arts: list[dict], data: dict) -> str:
    outlet = data["outlets"]["monitor"]
    head = [f'<link rel="canonical" href="{a["url"]}">']
    if a.get("translation_path"):
        head.append(f'<link rel="alternate" hreflang="fr" href="{ORIGIN}{a["translation_path"]}">')
        head.append(f'<link rel="alternate" hreflang="en" href="{a["url"]}">')
    head += [
        '<meta property="og:type" content="article">',
        f'<meta property="og:site_name" content="{attr(outlet["name"])}">',
        f'<meta property="og:locale" content="{outlet["locale"]}">',
        f'<meta property="og:title" content="{attr(a["title"])}">',
        f'<meta property="og:description" content="{attr(a["lead"])}">',
        f'<meta property="og:url" content="{a["url"]}">',
        f'<meta property="og:image" content="{ORIGIN}{a["image"]}">',
        f'<meta property="article:published_time" content="{a["published"]}">',
    ]
    if a.get("modified"):
        head.append(f'<meta property="article:modified_time" content="{a["modified"]}">')
    head.append(f'<meta property="article:section" content="{attr(a["topic"])}">')
    updated = ""
    if a.get("modified"):
        updated = (
            f' <span class="updated">Updated <time datetime="{a["modified"]}">'
            f"{en_long(a['modified'])}</time></span>"
        )
    body = "\n".join(f"      <p>{esc(p)}</p>" for p in a["paras"])
    pool = [b for b in arts if b["outlet"] == "monitor" and b is not a]
    rel = related(a, arts, 1) + [b for b in pool if b["topic"] != a["topic"]][:2]
    rel_html = "\n".join(
        f'        <li><span class="label">{esc(b["topic"])}</span> '
        f'<a href="{b["path"]}">{esc(b["title"])}</a></li>'
        for b in rel
    )
    note = ""
    if a.get("translation_path"):
        note = (
            f'\n    <aside class="translation-note">This article was first published in French '
            f'by our partner <a href="{a["translation_path"]}">Le Courrier du Levant</a>. '
            f"Translated by Claire Whitfield.</aside>"
        )
    credit = a.get("agency") or "BSCM"
    topic_slug = slugify(a["topic"])
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(a["title"])} - {esc(outlet["name"])}</title>
<meta name="description" content="{attr(a["lead"])}">
{chr(10).join(head)}
<meta name="twitter:card" content="summary_large_image">
<link rel="alternate" type="application/atom+xml" title="{attr(outlet["name"])}" href="{ORIGIN}{MONITOR_FEED}">
<link rel="stylesheet" href="/monitor/static/css/site.min.css?v=2026.11">
<style>
{MONITOR_CSS}
</style>
</head>
<body>
{monitor_header()}
<main id="main">
  <article class="story-full">
    <p class="story-label"><a href="/monitor/topics/{topic_slug}/">{esc(a["topic"])}</a></p>
    <h1>{esc(a["title"])}</h1>
    <p class="standfirst">{esc(a["lead"])}</p>
    <p class="meta"><span class="byline">{esc(monitor_byline(a))}</span> · <time datetime="{a["published"]}">{en_long(a["published"])}</time>{updated}</p>
    <figure>
      <img src="{a["image"]}" alt="{attr(a["caption"])}" width="1024" height="576">
      <figcaption>{esc(a["caption"])} Photo: {esc(credit)}</figcaption>
    </figure>
    <div class="story-body">
{body}
    </div>{note}
    <div class="share">Share this story:
      <a href="https://www.facebook.com/sharer/sharer.php?u={a["url"]}" rel="nofollow noopener">Facebook</a>
      <a href="https://x.com/intent/post?url={a["url"]}" rel="nofollow noopener">X</a>
      <a href="https://www.linkedin.com/sharing/share-offsite/?url={a["url"]}" rel="nofollow noopener">LinkedIn</a>
      <a href="mailto:?subject={quote(a["title"])}&amp;body={a["url"]}">Email</a>
    </div>
    <aside class="related">
      <h2>Related stories</h2>
      <ul>
{rel_html}
      </ul>
    </aside>
    <section class="support">
      <h2>Independent reporting from the front lines</h2>
      <p>The Monitor has no paywall and no owner. Our correspondents in Odesa, Tbilisi, Yerevan and Baku are funded by readers like you.</p>
      <a href="/monitor/support/?src=article">Support our journalism</a>
    </section>
  </article>
</main>
{monitor_footer()}
</body>
</html>
"""


def monitor_listing(arts: list[dict], data: dict) -> tuple[dict, dict]:
    outlet = data["outlets"]["monitor"]
    items = [a for a in arts if a["outlet"] == "monitor"]
    pages = [items[i : i + PAGE_SIZE] for i in range(0, len(items), PAGE_SIZE)]
    base = "/monitor/latest/"
    files, exp_pages = {}, []
    picks = items[-1:] + items[3:4]
    for n, page in enumerate(pages, start=1):
        path = base if n == 1 else f"{base}page/{n}/"
        nxt = f"{base}page/{n + 1}/" if n < len(pages) else None
        prev = (base if n == 2 else f"{base}page/{n - 1}/") if n > 1 else None
        lis, exp_items = [], []
        for a in page:
            lis.append(
                f'    <li class="story"><span class="label">{esc(a["topic"])}</span> '
                f'<a href="{a["path"]}">{esc(a["title"])}</a> '
                f'<time datetime="{zulu(a["published"])}">'
                f"{dt(a['published']).day} {MONTHS[dt(a['published']).month - 1][:3]} "
                f"{dt(a['published']):%H:%M}</time></li>"
            )
            a["in_topic_page"] = "monitor-latest"
            a["listed_on"] = path
            a["listing_href"] = a["path"]
            exp_items.append(
                {
                    "id": a["id"],
                    "path": a["path"],
                    "href": a["path"],
                    "title": a["title"],
                    "published": a["published"],
                    "topic": a["topic"],
                    "updated": None,
                }
            )
        links = [f'<link rel="canonical" href="{ORIGIN}{path}">']
        pager = []
        if prev:
            links.append(f'<link rel="prev" href="{ORIGIN}{prev}">')
            pager.append(f'<a rel="prev" class="newer" href="{prev}">Newer stories</a>')
        if nxt:
            links.append(f'<link rel="next" href="{ORIGIN}{nxt}">')
            pager.append(f'<a rel="next" class="older" href="{nxt}">Older stories</a>')
        pick_html = "\n".join(
            f'      <li><a href="{b["path"]}">{esc(b["title"])}</a></li>' for b in picks
        )
        files[path.lstrip("/") + "index.html"] = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Latest news{"" if n == 1 else f" (page {n})"} - {esc(outlet["name"])}</title>
<meta name="description" content="The latest reporting from the Black Sea region, the South Caucasus, Sudan and the Sahel.">
{chr(10).join(links)}
<meta property="og:type" content="website">
<meta property="og:site_name" content="{attr(outlet["name"])}">
<meta property="og:title" content="Latest news">
<meta property="og:url" content="{ORIGIN}{path}">
<link rel="alternate" type="application/atom+xml" title="{attr(outlet["name"])}" href="{ORIGIN}{MONITOR_FEED}">
<link rel="stylesheet" href="/monitor/static/css/site.min.css?v=2026.11">
<style>
{MONITOR_CSS}
</style>
</head>
<body>
{monitor_header()}
<main id="main">
  <h1>Latest</h1>
  <p class="intro">Every story we publish, newest first. Times are GMT.</p>
  <ul class="stories">
{chr(10).join(lis)}
  </ul>
  <nav class="pager" aria-label="More stories">
    {" ".join(pager)}
  </nav>
  <aside class="related">
    <h2>Editor's picks</h2>
    <ul>
{pick_html}
    </ul>
  </aside>
  <section class="support">
    <h2>Get the Monitor in your inbox</h2>
    <p>A weekly briefing on the Black Sea and the South Caucasus, every Friday.</p>
    <a href="/monitor/newsletter/?src=latest">Sign up</a>
  </section>
</main>
{monitor_footer()}
</body>
</html>
"""
        exp_pages.append(
            {
                "path": path,
                "page": n,
                "prev": prev,
                "next": nxt,
                "items": exp_items,
                "disallowed_links": [],
            }
        )
    return files, {
        "source": "monitor-latest",
        "outlet": "monitor",
        "topic": None,
        "url": base,
        "pages": exp_pages,
    }


def monitor_atom(arts: list[dict], data: dict) -> tuple[str, dict]:
    outlet = data["outlets"]["monitor"]
    items = [a for a in arts if a["outlet"] == "monitor"]
    entries, exp = [], []
    for a in items:
        authors = "\n".join(f"    <author><name>{esc(n)}</name></author>" for n in a["authors"])
        entries.append(f"""  <entry>
    <id>tag:bscmonitor.example,2026:story-{a["num"]}</id>
    <title type="text">{esc(a["title"])}</title>
    <link rel="alternate" type="text/html" href="{a["url"]}"/>
    <published>{zulu(a["published"])}</published>
    <updated>{zulu(a.get("modified") or a["published"])}</updated>
{authors}
    <category term="{attr(a["topic"])}" scheme="{ORIGIN}/monitor/topics/"/>
    <summary type="text">{esc(a["lead"])}</summary>
  </entry>""")
        a["in_feed"] = "monitor-atom"
        exp.append(
            {
                "id": a["id"],
                "path": a["path"],
                "link": a["url"],
                "guid": f"tag:bscmonitor.example,2026:story-{a['num']}",
                "title": a["title"],
                "published": a["published"],
                "category": a["topic"],
            }
        )
    updated = max(zulu(a.get("modified") or a["published"]) for a in items)
    xml = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <id>tag:bscmonitor.example,2026:feed</id>
  <title>{esc(outlet["name"])}</title>
  <subtitle>Latest stories from the Black Sea region, the South Caucasus, Sudan and the Sahel</subtitle>
  <link rel="self" type="application/atom+xml" href="{ORIGIN}{MONITOR_FEED}"/>
  <link rel="alternate" type="text/html" href="{ORIGIN}/monitor/latest/"/>
  <updated>{updated}</updated>
  <rights>© 2026 Black Sea &amp; Caucasus Monitor Ltd.</rights>
  <generator>bscm-cms</generator>
{chr(10).join(entries)}
</feed>
"""
    return xml, {
        "source": "monitor-atom",
        "outlet": "monitor",
        "path": MONITOR_FEED,
        "format": "atom",
        "bozo": False,
        "entries": exp,
    }


# --------------------------------------------------------------------------
# La Gazette du Caucase
# --------------------------------------------------------------------------

GAZETTE_CSS = """body{background:#e9e4d8;margin:0;font-family:Verdana,Arial,sans-serif;font-size:13px;color:#222}
#page{width:960px;margin:0 auto;background:#fff;border:1px solid #c9c2b0}
#entete{background:#5a1f1f;color:#fff;padding:12px 16px}#entete a{color:#fff;text-decoration:none;font:bold 26px Georgia,serif}
.devise{margin:4px 0 0;font-style:italic;color:#f0d9b5}
#menu{width:100%;background:#3d1414;border-collapse:collapse}#menu td{padding:6px 10px}#menu a{color:#fff;font-weight:bold;text-decoration:none}
#colonne-gauche{float:left;width:640px;padding:16px}#colonne-droite{float:right;width:260px;padding:16px;background:#f6f2e9}
h1{font:bold 24px Georgia,serif;color:#5a1f1f}.date,.auteur{color:#777;font-size:12px}
.texte p{text-align:justify;line-height:1.6}
#pied{clear:both;background:#3d1414;color:#ddd;padding:10px 16px;font-size:11px}#pied a{color:#ddd}"""

GAZETTE_MENU = [
    ("Accueil", "/gazette/"),
    ("Géorgie", "/gazette/rubrique/georgie/"),
    ("Arménie", "/gazette/rubrique/armenie/"),
    ("Azerbaïdjan", "/gazette/rubrique/azerbaidjan/"),
    ("International", "/gazette/rubrique/international/"),
    ("In English", "/gazette/rubrique/in-english/"),
    ("Archives", "/gazette/archives/"),
    ("Contact", "/gazette/contact/"),
]


def gazette_article(a: dict, arts: list[dict], data: dict) -> str:
    outlet = data["outlets"]["gazette"]
    en = a["language"] == "en"
    d = dt(a["published"])
    if en:
        date = f"Published {d.day} {MONTHS[d.month - 1]} {d.year}, {d:%H:%M} (Tbilisi time)"
    else:
        date = f"Publié le {fr_long(a['published'])} (heure de Tbilissi)"
    if a.get("agency"):
        by = f"Source: {a['agency']}" if en else f"Source : {a['agency']}"
    else:
        by = "Par " + " et ".join(a["authors"])
    menu = "".join(f'<td><a href="{h}">{esc(n)}</a></td>' for n, h in GAZETTE_MENU)
    others = [b for b in arts if b["outlet"] == "gazette" and b is not a]
    side = "\n".join(f'<li><a href="{b["path"]}">{esc(b["title"])}</a></li>' for b in others)
    body = "\n".join(f"<p>{esc(p)}</p>" for p in a["paras"])
    back = "Back to the home page" if en else "Retour à l'accueil"
    return f"""<!DOCTYPE html>
<html lang="{a["language"]}">
<head>
<meta charset="{a["encoding"]}">
<title>{esc(a["title"])} - {esc(outlet["name"])}</title>
<meta name="description" content="{attr(a["lead"])}">
<meta name="keywords" content="Caucase, Géorgie, Arménie, Azerbaïdjan, actualité, Tbilissi">
<meta property="og:site_name" content="{attr(outlet["name"])}">
<meta property="og:title" content="{attr(a["title"])}">
<meta property="article:published_time" content="{a["published"]}">
<link rel="stylesheet" type="text/css" href="/gazette/style.css?v=12">
<style type="text/css">
{GAZETTE_CSS}
</style>
</head>
<body>
<div id="page">
<div id="entete">
<a href="/gazette/">{esc(outlet["name"])}</a>
<p class="devise">L'actualité du Caucase du Sud, depuis Tbilissi, depuis 2003</p>
</div>
<table id="menu"><tr>{menu}</tr></table>
<div id="colonne-gauche">
<h1>{esc(a["title"])}</h1>
<p class="date">{esc(date)}</p>
<p class="auteur">{esc(by)}</p>
<div class="texte">
{body}
</div>
<p class="retour"><a href="/gazette/">{back}</a> | <a href="javascript:window.print()">Imprimer</a> | <a href="/gazette/contact/?sujet=article-{a["num"]}">Signaler une erreur</a></p>
</div>
<div id="colonne-droite">
<h3>Derniers articles</h3>
<ul>
{side}
</ul>
<h3>Partenaires</h3>
<ul>
<li><a href="/gazette/partenaires/">Nos partenaires médias</a></li>
<li><a href="/gazette/annonces/">Petites annonces</a></li>
</ul>
<h3>La Gazette sur papier</h3>
<p>Chaque jeudi dans les kiosques de Tbilissi, Batoumi et Koutaïssi. Abonnement annuel : 120 laris.</p>
</div>
<div id="pied">
© {esc(outlet["name"])} 2003-2026 - <a href="/gazette/mentions-legales/">Mentions légales</a> - <a href="/gazette/contact/">Contact</a> - Rédaction : 12, rue Leselidze, Tbilissi - Tous droits réservés
</div>
</div>
</body>
</html>
"""


def gazette_rss(arts: list[dict], data: dict) -> tuple[str, dict]:
    outlet = data["outlets"]["gazette"]
    items = [a for a in arts if a["outlet"] == "gazette"]
    out, exp = [], []
    for a in items:
        desc = esc(a["lead"])
        if a.get("feed_raw_ampersand"):
            desc = desc.replace("&amp;", "&")  # the deliberate well-formedness defect
        out.append(f"""<item>
<title>{esc(a["title"])}</title>
<link>{a["url"]}</link>
<guid>{a["url"]}</guid>
<pubDate>{rfc822(a["published"])}</pubDate>
<category>{esc(a["topic"])}</category>
<description>{desc}</description>
</item>""")
        a["in_feed"] = "gazette-rss"
        exp.append(
            {
                "id": a["id"],
                "path": a["path"],
                "link": a["url"],
                "guid": a["url"],
                "title": a["title"],
                "published": a["published"],
                "category": a["topic"],
            }
        )
    xml = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0">
<channel>
<title>{esc(outlet["name"])}</title>
<link>{ORIGIN}/gazette/</link>
<description>L'actualité du Caucase du Sud depuis Tbilissi</description>
<language>fr</language>
<lastBuildDate>{rfc822(max(a["published"] for a in items))}</lastBuildDate>
{chr(10).join(out)}
</channel>
</rss>
"""
    return xml, {
        "source": "gazette-rss",
        "outlet": "gazette",
        "path": GAZETTE_FEED,
        "format": "rss2",
        "bozo": True,
        "bozo_reason": "unescaped '&' in the description of gazette-4407",
        "entries": exp,
    }


# --------------------------------------------------------------------------
# the whole site
# --------------------------------------------------------------------------

ROBOTS = """# Demo news sites served by Veille's test server
User-agent: *
Disallow: /levant/admin/
Disallow: /levant/recherche/
Disallow: /monitor/search
Disallow: /monitor/account/

User-agent: GPTBot
Disallow: /
"""

INDEX = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Veille demo news sites</title>
</head>
<body>
<h1>Veille demo news sites</h1>
<p>Fictional outlets used by <code>veille demo</code> and the test suite.</p>
<ul>
  <li>Le Courrier du Levant: <a href="/levant/dernieres-infos/karabakh/">Nagorny Karabakh</a>,
      <a href="/levant/dernieres-infos/ukraine/">Guerre en Ukraine</a>,
      <a href="/levant/dernieres-infos/soudan/">Soudan</a>,
      <a href="/levant/rss/dernieres-infos.xml">RSS</a>,
      <a href="/levant/sitemap.xml">sitemap</a></li>
  <li>The Black Sea &amp; Caucasus Monitor: <a href="/monitor/latest/">Latest</a>,
      <a href="/monitor/feed.atom">Atom</a></li>
  <li>La Gazette du Caucase: <a href="/gazette/rss.xml">RSS</a></li>
</ul>
</body>
</html>
"""


def build_edition(data: dict, edition: int) -> dict:
    arts = prepare(data, edition)
    for a in arts:
        a["in_feed"] = a["in_topic_page"] = a["in_sitemap"] = None
        a["listed_on"] = a["listing_href"] = None
    levant = [a for a in arts if a["outlet"] == "levant"]
    files: dict[str, str | bytes] = {"robots.txt": ROBOTS, "index.html": INDEX}

    listing_files, topic_pages = levant_listing_pages(arts, data, edition)
    files.update(listing_files)
    mfiles, mtopic = monitor_listing(arts, data)
    files.update(mfiles)
    topic_pages.append(mtopic)

    feeds = []
    xml, exp = levant_rss(levant, data)
    files[LEVANT_FEED.lstrip("/")] = xml
    feeds.append(exp)
    xml, exp = monitor_atom(arts, data)
    files[MONITOR_FEED.lstrip("/")] = xml
    feeds.append(exp)
    xml, exp = gazette_rss(arts, data)
    files[GAZETTE_FEED.lstrip("/")] = xml
    feeds.append(exp)
    sm_files, sitemap = levant_sitemaps(levant, data)
    files.update(sm_files)

    redirects = []
    for a in arts:
        rel = a["path"].lstrip("/")
        if a["outlet"] == "levant":
            files[rel] = levant_article(a, arts, data)
            if a.get("amp_path"):
                files[a["amp_path"].lstrip("/")] = levant_amp(a, data)
        elif a["outlet"] == "monitor":
            files[rel] = monitor_article(a, arts, data)
        else:
            files[rel] = gazette_article(a, arts, data).encode(a["encoding"])
        if a.get("short_url"):
            redirects.append({"from": a["short_url"], "to": a["path"], "status": 301})
    files["_redirects"] = "".join(
        f"{r['from']} {r['to']} {r['status']}\n" for r in sorted(redirects, key=lambda r: r["from"])
    )

    draft = data["outlets"]["levant"]["draft"]
    key, _, page = draft["page"].partition("/")
    draft_page = f"/levant/dernieres-infos/{key}/" + ("" if page == "1" else f"page/{page}/")
    return {
        "arts": arts,
        "files": {p: (v if isinstance(v, bytes) else v.encode("utf-8")) for p, v in files.items()},
        "expected": {
            "articles": [expected_article(a, arts) for a in arts],
            "topic_pages": topic_pages,
            "feeds": feeds,
            "sitemaps": [sitemap],
            "redirects": sorted(redirects, key=lambda r: r["from"]),
            "robots": {
                "path": "/robots.txt",
                "disallow_for_all": [
                    "/levant/admin/",
                    "/levant/recherche/",
                    "/monitor/search",
                    "/monitor/account/",
                ],
                "disallowed_links": [
                    {"href": draft["href"], "found_on": draft_page, "exists": False}
                ],
            },
        },
    }


def expected_article(a: dict, arts: list[dict]) -> dict:
    group = a.get("wire")
    return {
        "id": a["id"],
        "outlet": a["outlet"],
        "path": a["path"],
        "url": a["url"],
        "title": a["title"],
        "language": a["language"],
        "topic": a["topic"],
        "published": a["published"],
        "updated": a.get("modified") if a["outlet"] != "gazette" else None,
        "authors": a["authors"],
        "lead": a["lead"],
        "body_snippet": pick_snippet(a["paras"]),
        "first_words": " ".join(a["paras"][0].split()[:8]),
        "paragraphs": len(a["paras"]),
        "word_count": words(a["paras"]),
        "jsonld": a["jsonld"],
        "encoding": a["encoding"],
        "alias_paths": a["aliases"],
        "wire_group": group,
        "wire_agency": a.get("agency"),
        "translation_of": a.get("translation_path"),
        "in_feed": a["in_feed"],
        "in_topic_page": a["in_topic_page"],
        "listed_on": a["listed_on"],
        "listing_href": a["listing_href"],
        "in_sitemap": a["in_sitemap"],
    }


def check(ed: dict, edition: int) -> None:
    """Sanity checks on the generated content; raises on any problem."""
    arts, files = ed["arts"], ed["files"]
    exp = {e["id"]: e for e in ed["expected"]["articles"]}
    for a in arts:
        e = exp[a["id"]]
        raw = files[a["path"].lstrip("/")]
        page = raw.decode(a["encoding"])
        for field in ("title", "lead", "body_snippet", "first_words"):
            assert esc(e[field]) in page or attr(e[field]) in page, (a["id"], field)
        if a["outlet"] == "levant":
            assert dt(a["modified"]) > dt(a["published"]), a["id"]
            assert 150 <= e["word_count"] <= 600, (a["id"], e["word_count"])
            assert 4 <= e["paragraphs"] <= 10, a["id"]
        size = len(raw)
        assert 5_000 <= size <= 25_000, (a["path"], size)
        if a.get("amp_path"):
            assert 5_000 <= len(files[a["amp_path"].lstrip("/")]) <= 25_000
        # snippets must point at one story (or one wire group)
        for b in arts:
            if b is not a and e["body_snippet"] in " ".join(b["paras"]):
                assert a.get("wire") and a.get("wire") == b.get("wire"), (a["id"], b["id"])
    cp = [a for a in arts if a["encoding"] != "utf-8"]
    for a in cp:
        raw = files[a["path"].lstrip("/")]
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            raise AssertionError(f"{a['path']} unexpectedly decodes as UTF-8")
    if edition == 1:
        assert len(arts) >= 30, len(arts)


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    if root.exists():
        shutil.rmtree(root)
    for rel, content in sorted(files.items()):
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def main() -> int:
    with SOURCE.open("rb") as fh:
        data = tomllib.load(fh)
    ed1 = build_edition(data, 1)
    ed2 = build_edition(data, 2)
    check(ed1, 1)
    check(ed2, 2)
    assert set(ed1["files"]) <= set(ed2["files"]), "edition 2 cannot delete files"
    changed = {p: b for p, b in ed2["files"].items() if ed1["files"].get(p) != b}

    ids1 = {a["id"] for a in ed1["arts"]}
    new = [a["path"] for a in ed2["arts"] if a["id"] not in ids1]
    updated = [a["path"] for a in ed2["arts"] if "edition2" in a]
    counts = {}
    for a in ed1["arts"]:
        counts[a["outlet"]] = counts.get(a["outlet"], 0) + 1

    expected = {
        "about": "Ground truth for the Veille demo site. Generated by data/demo/build.py "
        "from data/demo/articles.toml; do not edit by hand. URLs containing "
        "{{ORIGIN}} are completed by the test server with its origin.",
        "origin_placeholder": ORIGIN,
        "edition_1": {
            "article_count": len(ed1["arts"]),
            "article_count_by_outlet": counts,
            **ed1["expected"],
        },
        "edition_2": {
            "article_count": len(ed2["arts"]),
            "changes": {
                "new_articles": new,
                "updated_articles": updated,
                "changed_files": sorted("/" + p for p in changed),
            },
            **ed2["expected"],
        },
    }
    write_tree(HERE / "site", ed1["files"])
    write_tree(HERE / "edition-2", changed)
    (HERE / "expected.json").write_text(
        json.dumps(expected, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    print(f"site/: {len(ed1['files'])} files, {len(ed1['arts'])} articles {counts}")
    print(f"edition-2/: {len(changed)} files: " + ", ".join(sorted(changed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
