"""Headlines without the site's name, as an editor would file them.

Pages put their own name around the headline ("… | TheHill", "Le Monde.fr : …",
"… [LWN.net]", "…_探索者 _光明网"), in ``<title>`` and often in og:title too. The names a
page gives itself are its og:site_name, its JSON-LD publisher, a short application-name,
a logo ``<h1>``, and whatever its ``<title>`` adds around the headline shown in an
``<h1>`` or given as og:title. A name is cut off only where a separator sets it apart,
and only if a real headline remains.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from parsel import Selector

from crawler.page.extract.text import clean_text, node_text

LOGGER = logging.getLogger(__name__)

# What sits between a headline and a site name: "|", dashes, ":", "_", "::"; "-", "/",
# "·", "»" and "@" only between spaces (not in "Just-released", "jpg/png", «guillemets»).
_SEPARATOR_RE = re.compile(r"(\s*(?:::|[|–—_])\s*|:\s+|\s+[-/~·»@]\s+)")
# A separator left dangling at either end ("… :: 痞客邦 PIXNET ::").
_DANGLING_RE = re.compile(r"^(?:\s*(?:::|[|–—·»]))+\s*|(?:\s*(?:::|[|–—·»]))+\s*$")
_BRACKET_SUFFIX_RE = re.compile(r"^(.*\S)\s*\[([^\[\]]+)\]$")
_CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_WORD_RE = re.compile(r"[^\W_]+")
_TLD_RE = re.compile(r"\.(?:[a-z]{2,4})(?:\.[a-z]{2})?(?=$|[\s/])")
_COMPANY_RE = re.compile(r"[\s,]+(?:inc|ltd|llc|gmbh|plc|corp|s\.?a)\.?$")
# application-name is sometimes the headline itself (seen on Yahoo and MSN pages).
_MAX_APPLICATION_NAME_WORDS = 6
# What <title> adds beside a headline is a name if no longer than the headline, or if
# short beside a real headline (a two-word <h1> may be a kicker).
_MAX_ADDITION_WORDS = 6
_MIN_HEADLINE_WORDS = 3
# A logo <h1>: classed as a logo or brand, or a link to the site's home page.
_HOME_HREF = r"^((https?:)?//[^/]+)?/?([a-z]{2}(-[a-z]{2})?/?|index\.html?)?$"
_LOGO_H1_XPATH = (
    "//h1[re:test(@class, 'logo|brand|masthead|site-?(title|name)', 'i')"
    " or re:test(../@class, 'logo|brand|masthead|site-?(title|name)', 'i')"
    " or .//*[re:test(@class, 'logo|brand', 'i')]"
    f" or .//a[re:test(@href, '{_HOME_HREF}', 'i')]"
    " or ancestor::footer or ancestor::nav]"
)


@dataclass(frozen=True)
class TitleClues:
    """What a page says about its own name, to tell it apart from the headline.

    Attributes:
        site_names: Names the page gives itself, most explicit first.
        declared: Keys of the names the page declares as such (not inferred from
            ``<title>``): a title that is one of them alone is no headline.
        headings: Keys of the page's headline ``<h1>``s (logo ``<h1>``s excluded).
        authors: Names of the page's authors, which some sites append to the title.
        shown: The headlines the page shows or declares: ``<title>``, its ``<h1>``s
            and og:title.
    """

    site_names: tuple[str, ...]
    declared: frozenset[str]
    headings: frozenset[str]
    authors: tuple[str, ...] = ()
    shown: tuple[str, ...] = ()


def read_clues(
    sel: Selector,
    *,
    declared: Iterable[str | None],
    headlines: Iterable[str | None],
    application_name: str | None = None,
    authors: Iterable[str] = (),
    url: str | None = None,
) -> TitleClues:
    """Gather the page's names for itself.

    Args:
        sel: The parsed page.
        declared: og:site_name, the JSON-LD publisher's name and the like.
        headlines: The headlines given in structured data (og:title, JSON-LD headline).
        application_name: The ``application-name`` meta, used only if short.
        authors: The article's authors.
        url: The page's URL: its domain is a name too ("… - IGN" on ign.com).
    """
    logo_nodes = sel.xpath(_LOGO_H1_XPATH)
    logo_roots = {id(node.root) for node in logo_nodes}
    logos = [text for node in logo_nodes for text in _logo_texts(node)]
    headings = [
        text
        for node in sel.xpath("//h1")
        if id(node.root) not in logo_roots and (text := node_text(node))
    ]
    names = [name for value in declared if (name := clean_text(value))]
    application = clean_text(application_name)
    if application and len(_words(application)) <= _MAX_APPLICATION_NAME_WORDS:
        names.append(application)
    names.extend(logos)
    # "Aktuálně.cz - Víte, co se právě děje": the name proper is the first part.
    names.extend(
        parts[0] for name in list(names) if len(parts := _SEPARATOR_RE.split(name)) > 1
    )
    declared_keys = frozenset(key for name in names if (key := name_key(name)))
    html_title = clean_text(sel.xpath("//title[1]//text()").get())
    headline_texts = [h for value in headlines if (h := clean_text(value))] + headings
    if html_title:
        names.extend(_around_headline(html_title, headline_texts))
    if domain := _domain_name(url):
        names.append(domain)
    return TitleClues(
        site_names=tuple(dict.fromkeys(names)),
        declared=declared_keys,
        headings=frozenset(text_key(h) for h in headings),
        authors=tuple(authors),
        shown=tuple(text for text in (html_title, *headline_texts) if text),
    )


def editorial_title(title: str | None, clues: TitleClues) -> str | None:
    """The headline without the site's name; None if the title is only the site's name."""
    text = clean_text(_DANGLING_RE.sub("", title or ""))
    if not text or name_key(text) in clues.declared:
        return None
    stripped = strip_site_name(text, clues.site_names, keep=clues.headings)
    stripped = _strip_author(stripped, clues.authors)
    if stripped != text:
        LOGGER.debug("title %r: site name removed, %r left", text, stripped)
    return stripped


def title_agrees(title: str | None, clues: TitleClues) -> str | None:
    """``title`` if it shares half its words with a headline the page shows or
    declares (or the page has none); else None.

    For JSON-LD, whose "headline" is not always one: Wikipedia's is the article's
    one-line description ("Wikimedia list article").
    """
    if not title or not [text for text in clues.shown if text != title]:
        return title
    words = set(_words(_fold(title)))
    for text in clues.shown:
        if text != title and len(words & set(_words(_fold(text)))) * 2 >= len(words):
            return title
    LOGGER.debug("title %r matches nothing the page shows: not used", title)
    return None


def strip_site_name(title: str, names: Iterable[str], *, keep: Iterable[str] = ()) -> str:
    """Remove any of ``names`` set off by a separator at either end of ``title``.

    A part is removed only if what remains is a headline: two words or more, or a
    text equal to one of ``keep`` (keys of the page's own ``<h1>``s).
    """
    keys = {key for name in names if (key := name_key(name))}
    keep_keys = frozenset(keep)
    while keys:
        shorter = _strip_once(title, keys, keep_keys)
        if shorter is None:
            return title
        title = shorter
    return title


def name_key(text: str) -> str:
    """A site name reduced to compare equal across spellings.

    "Le Monde.fr" and "Le Monde", "the Guardian" and "The Guardian", "HeraldSun" and
    "Herald Sun", "http://www.tmz.com" and "TMZ.com", "Spiceworks Inc" and "Spiceworks".
    """
    text = _fold(text).strip()
    text = re.sub(r"^(?:https?://)?(?:www\.)?", "", text)
    text = _TLD_RE.sub("", text)
    text = re.sub(r"^the\s+", "", text)
    text = _COMPANY_RE.sub("", text)
    return re.sub(r"[\W_]+", "", text)


def text_key(text: str) -> str:
    """A headline reduced to its letters and digits, so quotes and spacing don't count."""
    return re.sub(r"[\W_]+", "", _fold(text))


# -- helpers -----------------------------------------------------------------------


def _strip_once(title: str, keys: set[str], keep: frozenset[str]) -> str | None:
    bracketed = _BRACKET_SUFFIX_RE.match(title)
    if bracketed and name_key(bracketed[2]) in keys and _is_headline(bracketed[1], keep):
        return bracketed[1]
    parts = _SEPARATOR_RE.split(title)
    for i in range(1, len(parts) // 2 + 1):
        # the longest part first: "| Eleanor Ainge Roy | Environment | The Guardian"
        head, tail = "".join(parts[: 2 * i - 1]), "".join(parts[2 * i :])
        if name_key(tail) in keys and _is_headline(head, keep):
            return head.strip()
    for i in range(len(parts) // 2, 0, -1):
        head, tail = "".join(parts[: 2 * i - 1]), "".join(parts[2 * i :])
        if name_key(head) in keys and _is_headline(tail, keep):
            return tail.strip()
    return None


def _strip_author(title: str, authors: Iterable[str]) -> str:
    """Drop an author's name that a site appends to the title ("… | Eleanor Ainge Roy")."""
    keys = {key for author in authors if (key := text_key(author))}
    parts = _SEPARATOR_RE.split(title)
    if len(parts) >= 3 and text_key(parts[-1]) in keys:
        head = "".join(parts[:-2]).strip()
        if len(_words(head)) >= 2:
            return head
    return title


def _around_headline(html_title: str, headlines: list[str]) -> list[str]:
    """What ``<title>`` adds before or after a headline the page shows or declares.

    "United States to Lift Sudan Sanctions - The New York Times" with that headline in
    the ``<h1>`` gives "The New York Times". The addition must be short or shorter than
    the headline, so that a short kicker ``<h1>`` ("Zimbabwe coup") does not make the
    rest of the title look like a site name.
    """
    keys = {text_key(h) for h in headlines if text_key(h)}
    parts = _SEPARATOR_RE.split(html_title)
    found = []
    for i in range(1, len(parts) // 2 + 1):
        head, tail = "".join(parts[: 2 * i - 1]).strip(), "".join(parts[2 * i :]).strip()
        if tail and text_key(head) in keys and _addition(tail, head):
            found.append(tail)
        if head and text_key(tail) in keys and _addition(head, tail):
            found.append(head)
    return found


def _addition(extra: str, headline: str) -> bool:
    """Whether ``extra`` can be what a site adds to ``headline``: no longer than it, or
    a short name ("Bradley M. Kuhn (Brad) (bkuhn)") beside a headline of a few words."""
    extra_words, headline_words = len(_words(extra)), len(_words(headline))
    return extra_words <= headline_words or (
        extra_words <= _MAX_ADDITION_WORDS and headline_words >= _MIN_HEADLINE_WORDS
    )


def _domain_name(url: str | None) -> str | None:
    """The name part of a URL's host: "thehill" for https://thehill.com/…, "cnn" for
    edition.cnn.com, "bbc" for www.bbc.co.uk."""
    host = urlsplit(url).hostname if url else None
    if not host:
        return None
    host = re.sub(r"\.(?:example|test|invalid|localhost)$", "", host.removeprefix("www."))
    labels = _TLD_RE.sub("", host).split(".")
    return labels[-1] if len(labels[-1]) > 1 else None


def _logo_texts(node: Selector) -> list[str]:
    """A logo heading's text, and its first text alone ("Archive of Our Own" of "… beta")."""
    first = node.xpath("string(.//text()[normalize-space()][1])").get()
    return list(dict.fromkeys(t for t in (node_text(node), clean_text(first)) if t))


def _is_headline(text: str, keep: frozenset[str]) -> bool:
    return len(_words(text)) >= 2 or (bool(text.strip()) and text_key(text) in keep)


def _words(text: str) -> list[str]:
    """Words, counting each Chinese or Japanese character as one."""
    return _WORD_RE.findall(_CJK_RE.sub(" x ", text))


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))
