"""JSON for what crosses Redis: Scrapy requests and extracted articles.

scrapy-redis pickles requests by default; whoever can write to the Redis server could
then run code in every worker. This codec is JSON with a few tagged types instead, and it
decodes only the dataclasses listed in `_DATACLASSES`:

- bytes (request headers and bodies) as base64, `{"$b": "..."}`;
- datetimes, `{"$dt": "2026-11-24T10:00:00+01:00"}`;
- tuples, `{"$t": [...]}` (JSON would turn them into lists);
- dicts with keys that are not strings (Scrapy's header dicts), `{"$d": [[k, v], ...]}`;
- the listed dataclasses, `{"$dc": "ListingHint", "v": {...}}`;
- MinHash signatures (numpy uint32 arrays), `{"$u32": "<base64, little-endian>"}`.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import datetime
from typing import Any

import numpy as np

from crawler.clock import exact_text, from_exact_text
from crawler.crawl.items import FetchErrorItem
from crawler.errors import WireError
from crawler.page.fingerprints import Fingerprint
from crawler.page.links import HttpValidators, Link
from crawler.page.listing import ListingHint
from crawler.page.matching import Match
from crawler.record.article import StoredArticle
from crawler.record.store import TextAnalysis

_DATACLASSES: dict[str, type] = {
    cls.__name__: cls for cls in (
        ListingHint, HttpValidators, StoredArticle, FetchErrorItem, TextAnalysis, Fingerprint,
        Match, Link,
    )
}


def dumps(value: Any) -> bytes:
    return json.dumps(_encode(value), separators=(",", ":"), ensure_ascii=False).encode()


def loads(data: bytes | str) -> Any:
    try:
        return _decode(json.loads(data))
    except (ValueError, TypeError, KeyError) as exc:
        raise WireError(f"undecodable message: {exc}") from None


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, bytes):
        return {"$b": base64.b64encode(value).decode("ascii")}
    if isinstance(value, np.ndarray) and value.dtype == np.uint32:
        return {"$u32": base64.b64encode(value.astype("<u4").tobytes()).decode("ascii")}
    if isinstance(value, datetime):
        return {"$dt": exact_text(value)}
    if isinstance(value, tuple):
        return {"$t": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: _encode(v) for k, v in value.items()}
        return {"$d": [[_encode(k), _encode(v)] for k, v in value.items()]}
    name = type(value).__name__
    if dataclasses.is_dataclass(value) and _DATACLASSES.get(name) is type(value):
        fields = {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"$dc": name, "v": fields}
    raise TypeError(f"cannot send a {name} through Redis: {value!r}")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "$b" in value:
        return base64.b64decode(value["$b"])
    if "$u32" in value:
        return np.frombuffer(base64.b64decode(value["$u32"]), dtype="<u4").astype(np.uint32)
    if "$dt" in value:
        return from_exact_text(value["$dt"])
    if "$t" in value:
        return tuple(_decode(v) for v in value["$t"])
    if "$d" in value:
        return {_decode(k): _decode(v) for k, v in value["$d"]}
    if "$dc" in value:
        cls = _DATACLASSES[value["$dc"]]
        return cls(**{k: _decode(v) for k, v in value["v"].items()})
    return {k: _decode(v) for k, v in value.items()}
