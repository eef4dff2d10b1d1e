"""Turn an extracted article page into the normalized record stored in the database."""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from crawler.clock import local_stamp, stamp, utc_now
from crawler.crawl.items import ArticleItem
from crawler.page.extract.dates import in_the_future, url_date
from crawler.page.urls import amp_to_canonical_guess, canonicalize, same_site
from crawler.record.article import StoredArticle

_QUOTES = {"’": "'", "‘": "'", "“": '"', "”": '"', "«": '"', "»": '"', "–": "-", "—": "-",
           "\u00a0": " ", "\u202f": " "}


def normalize_article(item: ArticleItem, domains: tuple[str, ...]) -> StoredArticle:
    """The record for an article page: canonical URL and aliases, UTC times, one topic."""
    ex = item.extracted
    listed_url = item.hint.canonical or canonicalize(item.hint.url)
    # An article requested under its listed, canonical URL and not redirected: the same.
    fetched = listed_url if item.response_url == listed_url else canonicalize(item.response_url)
    canonical = _usable_canonical(ex.canonical_url, fetched, domains)
    if canonical is None and ex.is_amp:
        canonical = amp_to_canonical_guess(fetched)
    canonical = canonical or fetched
    urls: dict[str, str] = {canonical: "canonical"}
    urls.setdefault(listed_url, item.hint.via)
    for url in item.redirect_urls:
        urls.setdefault(canonicalize(url), "redirect")
    urls.setdefault(fetched, "amp" if ex.is_amp else "fetched")
    if ex.is_amp and fetched != canonical:  # an AMP page, whatever link reached it
        urls[fetched] = "amp"
    if ex.amp_url and same_site(ex.amp_url, domains):
        urls.setdefault(canonicalize(ex.amp_url), "amp")
    published, published_from = published_time(item)
    return StoredArticle(
        source_id=item.source_id,
        canonical_url=canonical,
        urls=tuple(urls.items()),
        title=ex.title or item.hint.title,
        lead=ex.lead,
        body=ex.body,
        authors=ex.authors,
        topic=item.hint.topic or ex.topic or item.fallback_topic,
        section=ex.section,
        published_at=stamp(published),
        published_local=local_stamp(published),
        published_from=published_from,
        updated_at=stamp(ex.updated),
        updated_local=local_stamp(ex.updated),
        image_url=ex.image_url,
        image_caption=ex.image_caption,
        language=ex.language or item.default_language,
        word_count=ex.word_count,
        content_hash=content_hash(ex.body),
        listed_url=listed_url,
        listed_at=stamp(item.hint.listed_at),
        guid=(item.hint.guid or "").strip()[:2000] or None,
    )


def content_hash(text: str) -> str:
    """A hash of the text that ignores case, spacing and typographic variants."""
    text = unicodedata.normalize("NFKC", text)
    # One C-speed replace per typographic character present: str.translate with a table
    # looked every character up in a dict (1 ms on a long article).
    for char, plain in _QUOTES.items():
        if char in text:
            text = text.replace(char, plain)
    text = " ".join(text.casefold().split())
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _usable_canonical(url: str | None, fetched: str, domains: tuple[str, ...]) -> str | None:
    # Some CMSs point every page's rel=canonical at the home page or at another site;
    # trusting that would fold unrelated articles into one.
    if not url:
        return None
    url = canonicalize(url)
    if urlsplit(url).path in ("", "/") or not same_site(url, domains):
        return None
    return url


def published_time(item: ArticleItem) -> tuple[datetime | None, str | None]:
    """An article's published time and where it came from (`articles.published_from`):
    the page's own ("page"); else the time beside its link, if believable ("listing",
    "feed" or "sitemap"); else the day its URL names ("url": the extraction reads it, at
    midnight in the site's zone); else none, and the store dates it by its first sighting
    ("first-seen")."""
    ex = item.extracted
    if ex.published is not None and ex.origins.get("published") != "url":
        return ex.published, "page"
    listed = _believable(item.hint.listed_at)
    if listed is not None:
        return listed, item.hint.via
    if ex.published is not None:
        return ex.published, "url"
    return None, None


# Two witnesses of an article's date further apart than this disagree (a site's clock, a
# feed that dates an old article today, a URL of another day): a warning of its run.
DATES_APART = timedelta(hours=24)


def date_disagreements(item: ArticleItem) -> list[str]:
    """What the page, its listing (topic page, feed, sitemap) and its URL say of its date,
    when two of them are more than DATES_APART apart. A listing's time may be the article's
    update: it agrees when it is near either the published or the updated time."""
    ex, hint = item.extracted, item.hint
    found = []
    published = ex.published if ex.origins.get("published") != "url" else None
    page_times = [t for t in (published, ex.updated) if t is not None]
    if hint.listed_at is not None and page_times and all(
            abs(hint.listed_at - t) > DATES_APART for t in page_times):
        found.append(f"the page says published {stamp(published or ex.updated)}, "
                     f"the {hint.via} {stamp(hint.listed_at)}")
    midnight = url_date(hint.canonical or hint.url, UTC) or url_date(item.response_url, UTC)
    known = published or hint.listed_at
    if midnight is not None and known is not None:
        # The URL's day is the site's: up to 14 hours off UTC either way.
        if not (midnight - timedelta(hours=14) - DATES_APART <= known
                <= midnight + timedelta(hours=24 + 14) + DATES_APART):
            where = "page" if published else hint.via
            found.append(f"the URL says {midnight.date().isoformat()}, the {where} "
                         f"{stamp(known)}")
    return found


def _believable(listed_at: datetime | None) -> datetime | None:
    """A listing's or feed's time, unless it is in the future (the page's own was refused
    for that; the feed usually carries the same mistake)."""
    if listed_at is not None and in_the_future(listed_at, utc_now()):
        return None
    return listed_at
