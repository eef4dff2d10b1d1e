"""Adding sources to a configuration file as its author wrote it.

The file is never rewritten: each new `[[source]]` table, written by tomlkit (a TOML
library that round-trips), is appended after the file's last byte, so its comments,
order and layout stay exactly as they were. The whole result is checked before it
replaces the file, by `load_config` itself: a result that would not load is refused and
the file left untouched. For `veille add` and `veille sources import`.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT

from crawler.config.model import Config, load_config, parse_config
from crawler.config.validation import SLUG
from crawler.errors import ConfigError

MAX_ID_CHARS = 48
# Host labels that say nothing of the site ("www.", "m.").
_BLAND_LABELS = {"www", "www1", "www2", "www3", "m", "mobile", "amp"}
# Second-level labels of country domains ("co.uk", "com.au"): dropped with the top level.
_GENERIC_SLD = {"co", "com", "org", "net", "gov", "ac", "edu", "gouv", "or", "ne"}
_FILE_SUFFIX = re.compile(r"\.(xml|rss|atom|rdf|json|html?|php|aspx?|jsp|cfm|gz)$")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Added:
    """What was (or, in a dry run, would be) appended, and the configuration it makes."""

    text: str  # the TOML appended, blank line first
    config: Config
    written: bool


def derive_id(url: str, taken: Iterable[str] = ()) -> str:
    """A source id from the URL's host and path, unique among `taken`.

    "https://www.lorientlejour.com/rss/dernieres-infos.xml" gives
    "lorientlejour-rss-dernieres-infos"; if that id is taken, "-2", "-3"... is added.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if re.fullmatch(r"[\d.]+|[0-9a-f:]+", host):  # an IP address: every part of it
        labels = [label for label in re.split(r"[.:]", host) if label]
    else:
        labels = [label for label in host.split(".") if label and label not in _BLAND_LABELS]
        if len(labels) > 1:
            labels.pop()  # the top-level domain
        if len(labels) > 1 and labels[-1] in _GENERIC_SLD:
            labels.pop()
    segments = []
    for segment in parts.path.split("/"):
        segment = _FILE_SUFFIX.sub("", _FILE_SUFFIX.sub("", segment.lower()))  # .xml.gz
        if segment and segment not in ("index", "default"):
            segments.append(segment)
    words = _slug(" ".join([*labels, *segments])) or "source"
    base = _shorten(words, MAX_ID_CHARS)
    taken = set(taken)
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        candidate = f"{_shorten(base, MAX_ID_CHARS - len(str(number)) - 1)}-{number}"
    assert SLUG.match(candidate), candidate
    return candidate


def url_key(url: str) -> str:
    """A source URL as compared for duplicates: scheme and host in lower case, no default
    port, no fragment. Raises ValueError for a URL that cannot be split (a bad port)."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    port = parts.port if parts.port not in (None, 80, 443) else None
    netloc = f"{host}:{port}" if port else host
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme.lower()}://{netloc}{parts.path or '/'}{query}"


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")


def _shorten(slug: str, limit: int) -> str:
    if len(slug) <= limit:
        return slug
    cut = slug[:limit]
    return (cut.rsplit("-", 1)[0] if "-" in cut else cut).strip("-")


def source_table(entry: Mapping[str, Any]) -> str:
    """One `[[source]]` table as tomlkit writes it, keys in the order given (None left
    out)."""
    document = tomlkit.document()
    tables = tomlkit.aot()
    table = tomlkit.table()
    for key, value in entry.items():
        if value is not None:
            table.add(key, value)
    tables.append(table)
    document.append("source", tables)
    return tomlkit.dumps(document)


def append_sources(path: str | os.PathLike[str], entries: Sequence[Mapping[str, Any]],
                   *, dry_run: bool = False, comment: str | None = None) -> Added:
    """Append a `[[source]]` table per entry to the configuration file at `path`.

    The file must load as it is (`load_config`); the result must load too, or nothing is
    written. Written atomically (a file beside it, then renamed over it, keeping its
    permissions); a symbolic link is followed, not replaced. With `dry_run`, checked but
    not written. `comment`, a line put above the new tables ("# added by ...").

    Raises:
        ConfigError: the file cannot be read or loaded, has its sources in a form tables
            cannot be appended to, cannot be written, or would not load with the new
            sources (the message says which source and why).
    """
    path = Path(path)
    load_config(path)  # the file as it is must be usable: its own error otherwise
    text = path.read_bytes().decode("utf-8")
    try:
        document = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise ConfigError(f"{path}: cannot be edited: {exc}") from None
    if "source" in document and not isinstance(document["source"], AoT):
        raise ConfigError(f"{path}: its sources are an inline array (source = [...]): "
                          "add [[source]] tables by hand")
    newline = "\r\n" if "\r\n" in text else "\n"
    block = "\n".join(source_table(entry) for entry in entries)
    if comment:
        block = f"# {comment}\n{block}"
    if text.strip():
        block = "\n" + block
        if not text.endswith("\n"):
            block = "\n" + block
    block = block.replace("\n", newline)
    new_text = text + block
    try:
        config = parse_config(tomllib.loads(new_text), path)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: the new sources would make it invalid TOML: "
                          f"{exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"not added: {exc}") from None
    if not dry_run:
        _replace(path, new_text)
    return Added(block, config, written=not dry_run)


def _replace(path: Path, text: str) -> None:
    """Write `text` beside `path`, then put it in place in one step."""
    target = path.resolve()
    try:
        handle = tempfile.NamedTemporaryFile(
            "wb", dir=target.parent, prefix=f".{target.name}.", suffix=".tmp", delete=False)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be written: {exc.strerror or exc}") from None
    temporary = Path(handle.name)
    try:
        with handle:
            handle.write(text.encode("utf-8"))
        shutil.copymode(target, temporary)
        os.replace(temporary, target)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be written: {exc.strerror or exc}") from None
    finally:
        temporary.unlink(missing_ok=True)
