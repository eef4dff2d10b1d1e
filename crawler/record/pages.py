"""Raw article pages, kept in WARC files beside the database (never inside it).

Every article page a crawl fetches is appended, as a WARC `response` record (URL, status,
headers, body, fetch time), to `<pages dir>/YYYY-MM-DD.warc.gz`: one file per UTC day,
each record its own gzip member, so a record is read back from its byte offset alone.
The pages dir is `pages/` beside the database file: Datasette serves the database, not
this folder. A `PageRef` (file name relative to the pages dir, byte offset, WARC-Record-ID)
is what the record stores for each article version (`article_pages`); `veille reextract`
reads the pages back through it. `[crawl] keep_pages` bounds how long day files are kept.

Several crawl processes (one per source, under the daemon) append to the same day file:
each append (one record, compressed beforehand) holds an exclusive `flock` on it, so
records never interleave; an append that fails is cut off again.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import io
import logging
import os
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.clock import stamp, utc_now
from crawler.errors import PageError, PageGone

LOGGER = logging.getLogger(__name__)

# The only names a pointer may hold: a day file of the pages dir, nothing with a path.
DAY_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.warc\.gz$")
# Headers describing a framing the stored body no longer has (the HTTP client removed
# it): kept under another name, so that a WARC reader does not undo it a second time.
_FRAMING_HEADERS = {"transfer-encoding"}
_RENAMED_PREFIX = "X-Veille-Orig-"
# zlib's fast levels (1 to 3) compress the 130 real corpus pages in 40 to 50 % of level
# 6's CPU (2 ms a page instead of 4), for records 12 % larger (18.6 % of the HTML instead
# of 16.5 %): gzip was the largest part of an article's cost outside extraction.
GZIP_LEVEL = 3
# ISA-L's deflate (the `isal` package), where installed, writes the same gzip format in a
# quarter of zlib level 3's CPU: at its level 2, 0.3 ms a median corpus page instead of
# 1.1, records 19.1 % of the HTML instead of 18.6 %. Without it, zlib at GZIP_LEVEL.
try:
    from isal import isal_zlib as _deflate

    _DEFLATE_LEVEL = 2
except ImportError:  # pragma: no cover - depends on the installation
    _deflate = zlib
    _DEFLATE_LEVEL = GZIP_LEVEL
_WRITER = WARCWriter(None, gzip=False)  # makes records (digests, ids); writes none
_INFO = {
    "software": "Veille (crawler/record/pages.py), warcio",
    "format": "WARC File Format 1.1",
    "description": "article pages as fetched: one response per article version, "
                   "bodies after content decoding",
}


def pages_dir(db_path: str | os.PathLike[str]) -> Path:
    """The folder of raw pages for the database at `db_path`: `pages/` beside it."""
    return Path(db_path).parent / "pages"


@dataclass(frozen=True)
class PageRef:
    """Where one response is kept: a day file of the pages dir, an offset, a record id."""

    file: str
    offset: int
    record_id: str


@dataclass(frozen=True)
class Page:
    """A response as fetched: final URL, status, headers (in order, repeats kept), body."""

    url: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    fetched_at: str  # the WARC-Date, UTC ISO 8601

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case ignored), if any."""
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)


class PageArchive:
    """The WARC day files of one pages dir: append a response, read one back, prune."""

    def __init__(self, root: str | os.PathLike[str], clock: Any = utc_now):
        self.root = Path(root)
        self.clock = clock

    @classmethod
    def beside(cls, db_path: str | os.PathLike[str]) -> PageArchive:
        return cls(pages_dir(db_path))

    # -- writing ---------------------------------------------------------------------------

    def write(self, url: str, status: int, headers: Iterable[tuple[str, str]], body: bytes,
              fetched_at: datetime | None = None) -> PageRef:
        """Append one response record to its day's file; return where it is."""
        fetched = (fetched_at or self.clock()).astimezone(UTC)
        name = f"{fetched:%Y-%m-%d}.warc.gz"
        record = _response_record(url, _status_and_headers(status, headers), body, fetched)
        member = _gzip_member(record)  # compressed before the lock is taken
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released when the file is closed
            start = os.lseek(fd, 0, os.SEEK_END)
            try:
                if start == 0:
                    _write_all(fd, _gzip_member(_WRITER.create_warcinfo_record(name, _INFO)))
                offset = os.lseek(fd, 0, os.SEEK_END)
                _write_all(fd, member)
            except BaseException:
                os.ftruncate(fd, start)  # no half record for the next append to follow
                raise
        finally:
            os.close(fd)
        return PageRef(name, offset, record.rec_headers.get_header("WARC-Record-ID"))

    def keep_response(self, response: Any) -> PageRef | None:
        """Keep a Scrapy response (its final URL, status, headers and decoded body).

        A page that cannot be written (disk full...) is logged and not kept: the article
        is stored all the same, without a page to re-extract from.
        """
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, values in response.headers.items() for value in values
        ]
        try:
            return self.write(response.url, response.status, headers, response.body)
        except OSError as exc:
            LOGGER.error("raw page of %s not kept in %s: %s", response.url, self.root, exc)
            return None

    # -- reading ---------------------------------------------------------------------------

    def read(self, ref: PageRef) -> Page:
        """The response `ref` points to.

        Raises:
            PageGone: its day file is no longer there.
            PageError: the pointer is not a day file name, or does not lead to that record.
        """
        if not DAY_FILE.match(ref.file) or ref.offset < 0:
            raise PageError(f"{ref.file!r} at {ref.offset} is not a page pointer")
        try:
            fh = open(self.root / ref.file, "rb")
        except FileNotFoundError:
            raise PageGone(f"{ref.file} is no longer kept in {self.root}") from None
        with fh:
            fh.seek(ref.offset)
            try:
                record = next(iter(ArchiveIterator(fh)), None)
                body = record.raw_stream.read() if record is not None else b""
            except (ArchiveLoadFailed, zlib.error, EOFError, ValueError) as exc:
                raise PageError(f"{ref.file}:{ref.offset} is not the start of a WARC record "
                                f"({type(exc).__name__})") from None
        if record is None:
            raise PageError(f"no record at {ref.file}:{ref.offset}")
        record_id = record.rec_headers.get_header("WARC-Record-ID")
        if record.rec_type != "response" or record_id != ref.record_id:
            raise PageError(f"{ref.file}:{ref.offset} holds a {record.rec_type} record "
                            f"{record_id}, not the response {ref.record_id}")
        http = record.http_headers
        return Page(
            url=record.rec_headers.get_header("WARC-Target-URI"),
            status=int(http.get_statuscode()),
            headers=tuple((k, v) for k, v in http.headers),
            body=body,
            fetched_at=record.rec_headers.get_header("WARC-Date"),
        )

    # -- keep_pages ------------------------------------------------------------------------

    def prune(self, keep: timedelta | None, now: datetime | None = None) -> list[str]:
        """Delete the day files whose whole day is older than `keep` (None: keep all).

        Returns the names deleted. Files that are not day files are left alone.
        """
        if not keep or not self.root.is_dir():
            return []
        cutoff = (now or self.clock()).astimezone(UTC) - keep
        removed = []
        for path in sorted(self.root.iterdir()):
            match = DAY_FILE.match(path.name)
            if not match:
                continue
            try:
                day = date.fromisoformat(match.group(1))
            except ValueError:
                continue
            day_end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
            if day_end <= cutoff:
                try:
                    path.unlink(missing_ok=True)
                except OSError as exc:
                    LOGGER.warning("could not remove old raw pages %s: %s", path, exc)
                    continue
                removed.append(path.name)
        if removed:
            LOGGER.info("raw pages older than %s removed: %s", keep, ", ".join(removed))
        return removed


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _response_record(url: str, http: StatusAndHeaders, body: bytes,
                     fetched: datetime) -> Any:
    """The response record of `body`, its length and digests given to warcio.

    Given no length, warcio copies the body into a temporary file (one on disk past
    512 KB) and computes the payload digest, then computes both digests again when the
    record is written: three SHA-1 passes in 16 KB chunks and two copies. Here each digest
    is one hashlib call over the bytes in hand, and the headers are those warcio would
    write, in its order (a test reads the digests back).
    """
    http.compute_headers_buffer()
    warc = StatusAndHeaders("", [
        ("WARC-Date", stamp(fetched) or ""),
        ("WARC-Type", "response"),
        ("WARC-Record-ID", _WRITER._make_warc_id()),
        ("WARC-Target-URI", url),
        ("WARC-Payload-Digest", _sha1_label(hashlib.sha1(body))),
        ("WARC-Block-Digest", _sha1_label(hashlib.sha1(http.headers_buff + body))),
    ], protocol=_WRITER.warc_version)
    return _WRITER.create_warc_record(url, "response", payload=io.BytesIO(body),
                                      length=len(body), warc_headers=warc, http_headers=http)


def _sha1_label(digest: Any) -> str:
    """A digest as WARC writes it (`sha1:` and base 32), as warcio's Digester does."""
    return "sha1:" + base64.b32encode(digest.digest()).decode("ascii")


class _Deflating:
    """A file-like sink that gzips what is written to it, in memory."""

    def __init__(self) -> None:
        self.compressor = _deflate.compressobj(_DEFLATE_LEVEL, zlib.DEFLATED,
                                               zlib.MAX_WBITS + 16)
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.parts.append(self.compressor.compress(data))

    def flush(self) -> None:
        pass

    def member(self) -> bytes:
        self.parts.append(self.compressor.flush())
        return b"".join(self.parts)


def _gzip_member(record: Any) -> bytes:
    """A WARC record as one gzip member of its own (what `ArchiveIterator` reads from an
    offset), at a fast level (warcio's own writer uses zlib's 9: four times the CPU of 3,
    for records 12 % smaller), compressed as warcio writes it (no uncompressed copy)."""
    sink = _Deflating()
    WARCWriter(sink, gzip=False).write_record(record)
    return sink.member()


def _status_and_headers(status: int, headers: Iterable[tuple[str, str]]) -> StatusAndHeaders:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    kept = [
        (_RENAMED_PREFIX + name if name.lower() in _FRAMING_HEADERS else name, value)
        for name, value in headers
    ]
    return StatusAndHeaders(f"{status} {reason}".strip(), kept, protocol="HTTP/1.1")
