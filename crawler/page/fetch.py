"""One page fetched the simple way, for the commands that read a single URL at a user's
request (`veille add`, `veille try`, `veille discover`): urllib, a timeout, a size cap,
never Scrapy. Crawls fetch through Scrapy, with its politeness and retries."""

from __future__ import annotations

import urllib.request
import zlib
from dataclasses import dataclass
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from crawler.errors import BadInputError, DiscoveryError

MAX_BYTES = 10 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Fetched:
    """A page as fetched: the URL asked for, the one answered (after redirects), its
    Content-Type and its body (gunzipped when the file itself was gzip, as sitemaps are)."""

    url: str
    final_url: str
    content_type: str | None
    body: bytes
    truncated: bool = False


def require_http_url(url: str) -> str:
    """`url` if it is an absolute http(s) URL; else a `BadInputError` (exit status 2)
    saying what it lacks: "www.example.com has no scheme: did you mean
    https://www.example.com?"."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError as exc:
        raise BadInputError(f"{url}: not a URL ({exc})") from None
    if parts.scheme in ("http", "https") and parts.hostname:
        return url.strip()
    if "://" not in url:
        # "www.example.com", "example.com/rss", "example.com:8080" (read as a scheme)
        suggestion = "https:" + url.strip() if url.startswith("//") else "https://" + url.strip()
        raise BadInputError(f"{url} has no scheme: did you mean {suggestion}?")
    if parts.scheme not in ("http", "https"):
        raise BadInputError(f"{url}: only http:// and https:// URLs can be fetched")
    raise BadInputError(f"{url}: no host name")


def fetch(url: str, user_agent: str, timeout: float = 30.0,
          max_bytes: int = MAX_BYTES) -> Fetched:
    """GET `url`, following redirects, reading at most `max_bytes`.

    Raises:
        BadInputError: `url` is not an absolute http(s) URL.
        DiscoveryError: the page could not be fetched (an HTTP error status, a host that
            does not answer...): one line naming the URL and the problem.
    """
    url = require_http_url(url)
    request = urllib.request.Request(url, headers={
        "User-Agent": user_agent, "Accept-Encoding": "identity",
    })
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = response.read(max_bytes + 1)
            content_type = response.headers.get("Content-Type")
            final_url = response.geturl()
    except HTTPError as exc:
        raise DiscoveryError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except TimeoutError:
        raise DiscoveryError(f"{url}: no answer within {timeout:g} s") from None
    except URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise DiscoveryError(f"{url}: no answer within {timeout:g} s") from None
        text = getattr(reason, "strerror", None) or str(reason)
        raise DiscoveryError(f"{url}: could not fetch the page: {text}") from None
    except (OSError, ValueError) as exc:  # a connection reset, a malformed answer
        raise DiscoveryError(f"{url}: could not fetch the page: {exc}") from None
    truncated = len(body) > max_bytes
    body = body[:max_bytes]
    if body[:2] == GZIP_MAGIC:
        body, cut = _gunzip(body, max_bytes)
        truncated = truncated or cut
    return Fetched(url, final_url, content_type, body, truncated)


def _gunzip(body: bytes, max_bytes: int) -> tuple[bytes, bool]:
    """A gzip file's content, at most `max_bytes` of it (a gzip bomb stops there)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, max_bytes)
    except zlib.error:
        return body, False  # not gzip after all: read as it is
    return data, bool(inflater.unconsumed_tail)
