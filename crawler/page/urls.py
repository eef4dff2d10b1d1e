"""URL canonicalization: one spelling per article page, whatever link reached it."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url, url_query_cleaner

from crawler.errors import BadLink

# Exact query parameters that only track where a click came from.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid", "mc_cid",
    "mc_eid", "xtor", "xtref", "_ga", "_gl", "ocid", "cmpid", "ito", "icid", "ns_mchannel",
    "ns_source", "ns_campaign", "ns_linkname", "ns_fee", "smid", "partner", "ref_src",
    "amp", "outputtype",
})
# Parameters that ask for the page's AMP rendering when they hold "amp" (?output=amp,
# ?format=amp): the same article, under its own URL once canonical.
AMP_VALUED_PARAMS = frozenset({"output", "format", "view"})
# Parameter prefixes that only track (utm_source, at_medium, pk_campaign, ...).
TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_", "hsa_", "oly_", "vero_", "__twitter")

_DEFAULT_PORTS = {"http": 80, "https": 443}
# AMP spellings in a path: /amp/..., /.../amp, /....amp.html
_AMP_SEGMENT = re.compile(r"(^|/)amp(?=/|$)")
_AMP_SUFFIX = re.compile(r"\.amp(\.html?)?$")


def tracking_params(url: str) -> list[str]:
    """The query parameter names of `url` that only track, as spelled in the URL."""
    pairs = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    return sorted({
        name for name, value in pairs
        if name.lower() in TRACKING_PARAMS or name.lower().startswith(TRACKING_PREFIXES)
        or (name.lower() in AMP_VALUED_PARAMS and value.lower() == "amp")
    })


def canonicalize(url: str) -> str:
    """The canonical spelling of an article URL.

    Lower-case scheme and host, no default port, no fragment, no tracking parameters (nor
    the ones that only ask for the AMP rendering: ?amp, ?outputType=amp, ?output=amp),
    the remaining query sorted (w3lib's `canonicalize_url` does the sorting and the
    percent-encoding; it keeps utm_* and the default port, hence the steps around it).
    """
    url = url.strip()
    params = tracking_params(url)
    if params:
        url = url_query_cleaner(url, params, remove=True, keep_fragments=False)
    url = canonicalize_url(url, keep_fragments=False)
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        netloc = f"{netloc}:{parts.port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    path = parts.path or "/"
    return urlunsplit((parts.scheme, netloc, path, parts.query, ""))


def amp_to_canonical_guess(url: str) -> str | None:
    """The likely non-AMP URL of an AMP-looking URL, or None if it does not look like AMP.

    Only a guess for links seen in listings; the AMP page's own rel=canonical is the
    authority once it has been fetched.
    """
    parts = urlsplit(url)
    path = parts.path
    new_path = _AMP_SUFFIX.sub(lambda m: m.group(1) or "", path)
    new_path = _AMP_SEGMENT.sub(r"\1", new_path).replace("//", "/")
    if new_path.endswith("/") and not path.endswith("/"):
        new_path = new_path.rstrip("/")
    if new_path == path:
        return None
    return urlunsplit((parts.scheme, parts.netloc, new_path or "/", parts.query, ""))


def same_site(url: str, domains: tuple[str, ...]) -> bool:
    """Whether `url`'s host is one of `domains` or a subdomain of one."""
    host = (urlsplit(url).hostname or "").lower()
    return any(host == d or host.endswith("." + d) for d in (d.lower() for d in domains))


def entry_url(link: str, base: str) -> str:
    """The absolute http(s) URL of an entry's `link`, resolved against the document it is
    listed in (`base`). Raises BadLink as `entry_link` does."""
    return entry_link(link, base)[0]


def entry_link(link: str, base: str) -> tuple[str, str]:
    """An entry's `link` resolved against the document it is listed in (`base`): its
    absolute http(s) URL, and that URL canonical (`canonicalize`, done here once).

    Raises:
        BadLink: the link is not http(s) (`javascript:`, `mailto:`, `tel:`, `ftp:`...),
            has no host, or is malformed (an unclosed IPv6 bracket, a port out of range).
    """
    link = link.strip()
    try:
        given = urlsplit(link)
        url = urljoin(base, link)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise BadLink(f"not an http(s) link: {_shown(link)}")
        if not link or not parts.hostname or (given.scheme and not given.netloc):
            raise BadLink(f"link without a host: {_shown(link)}")
        parts.port  # noqa: B018 - raises ValueError on a port out of range
        canonical = canonicalize(url)
    except BadLink:
        raise
    except ValueError as exc:
        raise BadLink(f"malformed link {_shown(link)} ({exc})") from None
    return url, canonical


def _shown(link: str) -> str:
    """A link as a message shows it: one line, at most 120 characters."""
    link = " ".join(link.split())
    return repr(link if len(link) <= 120 else link[:117] + "...")
