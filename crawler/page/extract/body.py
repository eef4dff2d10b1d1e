"""The article's main text: trafilatura on the page once hidden and boilerplate blocks are
gone, minus "Lire aussi" lines and a repeated headline.

The page is parsed once (`crawler.page.extract.page`); the body is read last, from that same tree,
which `prune_page` changes in place: the metadata readers have finished with it by then.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

import trafilatura
from lxml.etree import XPath
from lxml.html import HtmlElement
from trafilatura.settings import JUSTEXT_LANGUAGES, Document
from trafilatura.utils import check_html_lang
from trafilatura.xml import xmltotxt

from crawler.page.extract.text import clean, comparable

LOGGER = logging.getLogger(__name__)


class _WithoutLanguageCheckNotice(logging.Filter):
    """trafilatura warns, on every page it is told the language of, that it cannot check
    that language without py3langid. Veille tells it the language for jusText's stop words
    only (see `_justext_language`), so the notice is noise: it alone is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Language detector not installed")


logging.getLogger("trafilatura.utils").addFilter(_WithoutLanguageCheckNotice())


class Paragraph(str):
    """A paragraph of the body, which knows whether it was set wholly in bold."""

    bold: bool

    def __new__(cls, text: str, bold: bool = False) -> Paragraph:
        paragraph = super().__new__(cls, text)
        paragraph.bold = bold
        return paragraph


# Boilerplate blocks that sit inside article containers, where trafilatura's own cleaning
# does not always reach: share bars, newsletter boxes, "Lire aussi" boxes, breadcrumbs,
# bylines, kickers, photo galleries. A class or id matches when one of its tokens is one of
# these words, or starts or ends with one as a dash/underscore-separated part ("share-bar",
# "article__related"): "shareholders" and "has-share-buttons" do not.
BOILERPLATE_WORDS = frozenset({
    "byline", "dateline", "kicker", "surtitre", "share", "sharing", "sharebar", "partage",
    "social", "newsletter", "related", "lire-aussi", "readmore", "read-more", "breadcrumb",
    "breadcrumbs", "subscribe", "abonnement", "promo", "advert",
    "advertisement", "ad-container", "ads", "sponsored", "paywall", "footer",
    "pied", "pied-de-page",
})
# Widgets that are never an article's container, however many paragraphs they hold (a
# gallery of fifty captioned photos): only the structural guard applies to them.
WIDGET_WORDS = frozenset({
    "gallery", "slideshow", "carousel", "diaporama", "outbrain", "taboola", "comments",
})
# Of those, photo galleries are pruned only when they carry a title of their own ("Business
# news in pictures"): a feature beside the story. Without one they show the story's own
# photos, and their captions are the story's.
PHOTO_WORDS = frozenset({"gallery", "slideshow", "carousel", "diaporama"})
# Never pruned, whatever their classes say: the page's frame and the article node itself.
_PROTECTED_TAGS = frozenset({"html", "body", "main", "article"})
# A block holding this share of the page's paragraphs is content, not a widget in it.
_MAX_PRUNED_SHARE = 0.2
_CANDIDATES = XPath("//body//*[@class or @id or @style or @hidden or @aria-hidden]")
# Headings that label a list of other articles, in the languages of the desk's sources.
_WIDGET_HEADINGS = XPath("//body//*[self::h2 or self::h3 or self::h4]")
_WIDGET_LABEL_MAX_CHARS = 40
_WIDGET_LABEL_RE = re.compile(
    r"(?:(?:the\s+)?most\s+(?:read|popular|viewed|shared)|other\s+\w+(?:\s+\w+)?"
    r"|more\s+(?:from|on|in|stories|news)\b|related(?:\s+\w+)?|recommended(?:\s+\w+)?"
    r"|you\s+may\s+also\s+like|trending(?:\s+now)?|read\s+(?:more|next)"
    r"|les\s+plus\s+(?:lus|partagés|commentés)|(?:à\s+)?lire\s+aussi|sur\s+le\s+même\s+sujet"
    r"|dans\s+la\s+même\s+rubrique|nos\s+(?:dernières\s+)?(?:infos|articles))\s*:?$",
    re.IGNORECASE,
)
_HIDDEN_STYLE_RE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)

# Below this many words, trafilatura's fast result gets a second opinion (`main_text`).
SECOND_OPINION_WORDS = 200
TRAFILATURA_OPTIONS = {
    "include_comments": False,
    "include_tables": True,
    "include_images": False,
    "include_links": False,
    # kept in the tree (not in the text) to tell a standfirst set in bold
    "include_formatting": True,
    "with_metadata": False,
}

# Paragraphs that are links to other articles ("Lire aussi : ...") or leftover widget
# labels, not article text. Labels must match whole: "Partager un repas..." is prose.
_NOT_BODY_RE = re.compile(
    r"^(?:(?:à\s+)?lire\s+(?:aussi|également|egalement)|(?:à\s+)?voir\s+aussi"
    r"|sur\s+le\s+même\s+sujet|(?:read|see)\s+(?:also|more)\s*(?:[:|›»]|$)|related\s*:)"
    r"|^(?:partager(?:\s+sur\s+\w+)?|copier\s+le\s+lien|share(?:\s+this(?:\s+article)?)?"
    r"|copy\s+link)$",
    re.IGNORECASE,
)
_NOT_BODY_MAX_CHARS = 300
# Tag lists under the text ("Topics: uber, Sydney", "Mots-clés : ...").
_TAG_LIST_RE = re.compile(
    r"^(?:topics|tags|keywords|mots[-\s]clés|thèmes|sujets)\s*:", re.IGNORECASE
)
# A line made only of widget labels ("- Share - All Share Services", "Tweet · E-mail").
_WIDGET_LABELS = frozenset({
    "share", "all share services", "share this", "share this article", "share on facebook",
    "share on twitter", "tweet", "email", "e-mail", "print", "facebook", "twitter",
    "whatsapp", "linkedin", "copy link", "comments", "comment", "loading comments",
    "loading comments...", "loading comments…", "partager", "imprimer", "copier le lien",
    "commentaires", "réagir",
})
_LABEL_SPLIT_RE = re.compile(r"\s*(?:^|\s)[-•·|]\s*|\s*[|·•]\s*")


def _class_pattern(words: frozenset[str]) -> re.Pattern[str]:
    """A class or id token that is one of `words`, or starts or ends with one as a part."""
    names = "|".join(sorted(map(re.escape, words), key=len, reverse=True))
    return re.compile(
        rf"(?:^|\s)(?:(?:{names})(?:[-_]+\S*)?|\S*?[-_]+(?:{names}))(?=\s|$)", re.IGNORECASE
    )


_BOILERPLATE_RE = _class_pattern(BOILERPLATE_WORDS)
_WIDGET_RE = _class_pattern(WIDGET_WORDS - PHOTO_WORDS)
_PHOTO_RE = _class_pattern(PHOTO_WORDS)


def is_boilerplate_class(value: str | None, pattern: re.Pattern[str] = _BOILERPLATE_RE) -> bool:
    """Whether a class or id attribute names a boilerplate block (see BOILERPLATE_WORDS)."""
    return bool(value) and pattern.search(value) is not None


def _kind(cls: str | None, ident: str | None) -> str | None:
    """"widget", "boilerplate" or None: what pruning sees in a class and id."""
    names = f"{cls or ''} {ident or ''}"
    if _WIDGET_RE.search(names):
        return "widget"
    if _PHOTO_RE.search(names):
        return "photos"
    if _BOILERPLATE_RE.search(names):
        return "boilerplate"
    return None


def is_hidden(element: HtmlElement) -> bool:
    """Hidden from readers: the `hidden` attribute, aria-hidden, or an inline style."""
    attrib = element.attrib
    return (
        "hidden" in attrib
        or attrib.get("aria-hidden", "").lower() == "true"
        or bool(_HIDDEN_STYLE_RE.search(attrib.get("style", "")))
    )


def prune_page(root: HtmlElement) -> int:
    """Remove hidden and boilerplate blocks from the page, in place; return how many.

    Never removes `html`, `body`, `main`, an `article` element or an ancestor of one, nor
    a block named as boilerplate that holds a fifth of the page's paragraphs: a class name
    that happens to say "share" on the page's frame must not cost the article.
    """
    # Class and id values repeat across a page: each distinct value is judged once.
    verdicts: dict[tuple[str | None, str | None], str | None] = {}
    doomed = []
    for element in _CANDIDATES(root):
        if element.tag in _PROTECTED_TAGS:
            continue
        if is_hidden(element):
            doomed.append((element, "hidden"))
            continue
        names = (element.get("class"), element.get("id"))
        if names not in verdicts:
            verdicts[names] = _kind(*names)
        if kind := verdicts[names]:
            doomed.append((element, kind))
    doomed.extend((block, "boilerplate") for block in _labelled_widgets(root))
    if not doomed:
        return 0
    paragraphs = sum(1 for _ in root.iterfind(".//p"))
    removed = 0
    for element, kind in doomed:
        if element.getparent() is None or _guarded(element, paragraphs, kind):
            continue
        element.drop_tree()  # keeps the text that follows the element (its tail)
        removed += 1
    return removed


def _labelled_widgets(root: HtmlElement) -> list[HtmlElement]:
    """Blocks whose heading says they list other articles ("Most read", "Other opinion
    columns", "À lire aussi"): the heading's parent, when the heading opens it."""
    blocks = []
    for heading in _WIDGET_HEADINGS(root):
        parent = heading.getparent()
        if parent is None or parent.tag in _PROTECTED_TAGS:
            continue
        text = " ".join(heading.text_content().split())
        if len(text) <= _WIDGET_LABEL_MAX_CHARS and _WIDGET_LABEL_RE.match(text):
            # The label may sit in its own header block: the widget is the block around it.
            first = next((child for child in parent if isinstance(child.tag, str)), None)
            if first is heading:
                if len(parent) == 1 and parent.getparent() is not None:
                    parent = parent.getparent()
                if parent.tag not in _PROTECTED_TAGS:
                    blocks.append(parent)
    return blocks


def _guarded(element: HtmlElement, paragraphs: int, kind: str) -> bool:
    if element.find(".//article") is not None or element.find(".//main") is not None:
        return True
    if kind == "photos":
        return element.find(".//h2") is None and element.find(".//h3") is None
    if kind != "boilerplate":  # hidden: what no reader sees is no text of the article
        return False
    held = sum(1 for _ in element.iterfind(".//p"))
    return held > 2 and held >= _MAX_PRUNED_SHARE * paragraphs


def main_text(root: HtmlElement, url: str,
              language: tuple[Callable[[str], str | None], str | None] | None = None,
              origins: dict[str, str] | None = None) -> list[Paragraph]:
    """The article's paragraphs, by trafilatura, from a pruned tree (see `prune_page`).

    trafilatura's fast mode first (its most precise); a short result is checked against
    its full mode (which compares with its readability and jusText fallbacks), and the
    longer kept: a short page is often a page the fast heuristics cut. Measured on the
    real pages of the corpus (`python -m bench extraction`).

    `language`: a function that tells the page's language from a text (its declaration
    first), and the source's language for a page whose own cannot be told; the full mode
    is given the first that jusText knows (see `_justext_language`).

    `origins`, when given, gets "body": which of trafilatura's modes gave the text.
    """
    paragraphs = _trafilatura(root, url, fast=True)
    if origins is not None:
        origins["body"] = "trafilatura (fast mode)"
    words = sum(len(p.split()) for p in paragraphs)
    if words < SECOND_OPINION_WORDS:
        lang = None
        if language is not None:
            tell, default = language
            lang = _justext_language(root, tell("\n".join(paragraphs))) \
                or _justext_language(root, default)
        other = _trafilatura(root, url, fast=False, lang=lang)
        if sum(len(p.split()) for p in other) > words:
            LOGGER.debug("short text in fast mode; full mode kept for %s", url)
            if origins is not None:
                origins["body"] = "trafilatura (full mode, with its fallbacks)"
            return other
    return paragraphs


def _justext_language(root: HtmlElement, lang: str | None) -> str | None:
    """The language to give trafilatura's full mode, or None.

    Its jusText fallback judges paragraphs by their share of stop words: of the page's
    language when trafilatura is told it, else of all 100 languages at once, a list that
    takes 27 MB and stays in memory for the rest of the process (jusText caches it). Told
    only when jusText has that language's list and the page's meta tags do not name
    another (trafilatura would then discard the page)."""
    if lang is None or lang not in JUSTEXT_LANGUAGES or not check_html_lang(root, lang):
        return None
    return lang


def _trafilatura(root: HtmlElement, url: str, *, fast: bool,
                 lang: str | None = None) -> list[Paragraph]:
    # bare_extraction copies a tree it is given: `root` comes back unchanged.
    try:
        document = trafilatura.bare_extraction(root, url=url, fast=fast,
                                               target_language=lang, **TRAFILATURA_OPTIONS)
    except Exception:  # hostile markup must not stop the crawl; the caller sees no text
        LOGGER.debug("trafilatura failed on %s", url, exc_info=True)
        return []
    if lang is not None and document is None:
        # Where py3langid is installed, trafilatura also checks the text's language and
        # discards a page it finds in another: the page is read again, untold.
        return _trafilatura(root, url, fast=fast)
    if not isinstance(document, Document) or document.body is None:
        LOGGER.debug("trafilatura found no main text in %s", url)
        return []
    return [
        Paragraph(text, _all_bold(element))
        for element in document.body if (text := clean(xmltotxt(element, False)))
    ]


def _all_bold(element: Any) -> bool:
    """Whether trafilatura's paragraph is one emphasized run (a standfirst set in bold)."""
    return (
        len(element) == 1 and element[0].tag == "hi" and not (element.text or "").strip()
        and not (element[0].tail or "").strip()
    )


def drop_repeated_standfirst(paragraphs: list[Paragraph], lead: str | None) -> list[Paragraph]:
    """Drop a first paragraph set in bold that repeats the lead: the standfirst shown again
    at the top of the text. A plain first paragraph that the site's description repeats is
    the article's first paragraph, and stays."""
    key = comparable(lead) if lead else ""
    # The first paragraph, or the second under a repeated headline.
    for index, paragraph in enumerate(paragraphs[:2]):
        if key and paragraph.bold and same_text(comparable(paragraph), key):
            LOGGER.debug("dropping repeated standfirst from body: %.40r", paragraph)
            return paragraphs[:index] + paragraphs[index + 1:]
    return paragraphs


def is_boilerplate_paragraph(paragraph: str) -> bool:
    """A "Lire aussi" link, a tag list or a line of widget labels: not the article's text."""
    if len(paragraph) > _NOT_BODY_MAX_CHARS:
        return False
    if _NOT_BODY_RE.match(paragraph) or _TAG_LIST_RE.match(paragraph):
        return True
    labels = [part.casefold() for part in _LABEL_SPLIT_RE.split(paragraph) if part.strip()]
    return bool(labels) and all(label in _WIDGET_LABELS for label in labels)


def drop_repeated_header(paragraphs: list[str], headers: Iterable[str | None]) -> list[str]:
    """Drop leading paragraphs that repeat the headline (or a standfirst shown above it).

    trafilatura keeps the headline when it sits inside the content container. Only a
    near-identical text counts: a lead that is the article's first paragraph, as many sites
    write their meta description, stays in the body.
    """
    keys = [key for text in headers if text and (key := comparable(text))]
    start = 0
    while start < len(paragraphs) and any(
        same_text(comparable(paragraphs[start]), key) for key in keys
    ):
        LOGGER.debug("dropping repeated headline from body: %.40r", paragraphs[start])
        start += 1
    return paragraphs[start:]


def same_text(paragraph: str, header: str) -> bool:
    return paragraph == header or near_prefix(paragraph, header)


def near_prefix(first: str, lead: str) -> bool:
    shorter, longer = sorted((first, lead), key=len)
    return longer.startswith(shorter) and len(shorter) >= 0.9 * len(longer)
