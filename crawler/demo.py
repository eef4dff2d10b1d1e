"""A static news-site server on 127.0.0.1 for the demo and the tests.

It serves a folder of files (edition 1) with later "editions" layered over it, follows
a `_redirects` file, writes the server's origin where a file says ``{{ORIGIN}}``, answers
conditional requests (ETag, Last-Modified, 304) like a real server, and counts every
request so that tests can tell what a crawl fetched.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from email.message import Message
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from crawler.config.model import SHIPPED_DATA
from crawler.errors import BadInputError

LOGGER = logging.getLogger(__name__)

DEMO_DIR = SHIPPED_DATA / "demo"
PLACEHOLDER = b"{{ORIGIN}}"
CONTENT_TYPES = {
    ".html": "text/html", ".htm": "text/html", ".xml": "application/xml",
    ".rss": "application/rss+xml", ".atom": "application/atom+xml", ".txt": "text/plain",
    ".json": "application/json", ".gz": "application/gzip",
}


class _Server(ThreadingHTTPServer):
    # A crawl of many sources connects to the site all at once: with the default listen
    # backlog of 5, 2,000 sources lost their SYNs and timed out waiting for the server.
    request_queue_size = 1024


class SiteServer:
    """Serves `root`, with `editions` (folders of replacement files) applied up to `edition`.

    Usage::

        with SiteServer(DEMO_DIR / "site", [DEMO_DIR / "edition-2"]) as site:
            site.origin         # "http://127.0.0.1:PORT"
            site.edition = 2    # the site as it is a few hours later
            site.hits["/levant/rss/dernieres-infos.xml"]
            site.not_modified["/levant/rss/dernieres-infos.xml"]  # of those, answered 304
            site.conditional = False  # a server that ignores If-None-Match/If-Modified-Since
    """

    def __init__(self, root: Path, editions: list[Path] | None = None):
        self.layers = [Path(root), *(Path(p) for p in editions or [])]
        self.edition = 1
        self.hits: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.conditional = True
        self.overrides: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.before_response: Callable[[str], None] | None = None
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def start(self) -> SiteServer:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def requests_under(self, prefix: str) -> int:
        """How many requests were made for paths starting with `prefix`."""
        with self._lock:
            return sum(n for path, n in self.hits.items() if path.startswith(prefix))

    def reset_hits(self) -> None:
        with self._lock:
            self.hits.clear()
            self.not_modified.clear()

    # -- serving -------------------------------------------------------------------------

    def resolve(self, path: str) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for a request path (query string ignored)."""
        if path in self.overrides:
            return self.overrides[path]
        redirect = self._redirect(path)
        if redirect:
            target, status = redirect
            return status, {"Location": self.origin + target}, b""
        for layer in reversed(self.layers[: self.edition]):
            file = self._file(layer, path)
            if file is not None:
                body = file.read_bytes().replace(PLACEHOLDER, self.origin.encode())
                headers = {
                    "Content-Type": CONTENT_TYPES.get(file.suffix, "application/octet-stream"),
                    "Last-Modified": formatdate(file.stat().st_mtime, usegmt=True),
                    # Of the bytes served, after the origin is written in.
                    "ETag": f'"{hashlib.sha256(body).hexdigest()[:32]}"',
                }
                return 200, headers, body
        return 404, {"Content-Type": "text/html"}, b"<html><body>Not found</body></html>"

    def _file(self, layer: Path, path: str) -> Path | None:
        relative = unquote(path).lstrip("/")
        candidate = (layer / relative).resolve()
        if not candidate.is_relative_to(layer.resolve()):
            return None
        if candidate.is_dir():
            candidate = candidate / "index.html"
        return candidate if candidate.is_file() else None

    def _redirect(self, path: str) -> tuple[str, int] | None:
        for layer in reversed(self.layers[: self.edition]):
            rules = layer / "_redirects"
            if not rules.is_file():
                continue
            for line in rules.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 2 and not line.startswith("#") and parts[0] == path:
                    return parts[1], int(parts[2]) if len(parts) > 2 else 301
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                path = urlsplit(self.path).path
                with site._lock:
                    site.hits[path] += 1
                if site.before_response is not None:
                    site.before_response(path)
                status, headers, body = site.resolve(path)
                if status == 200 and site.conditional and _not_modified(self.headers, headers):
                    with site._lock:
                        site.not_modified[path] += 1
                    self.send_response(304, HTTPStatus(304).phrase)
                    for name in ("ETag", "Last-Modified"):
                        if name in headers:
                            self.send_header(name, headers[name])
                    self.end_headers()
                    return
                self.send_response(status, HTTPStatus(status).phrase)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                LOGGER.debug("demo site: " + format, *args)

        return Handler


def _not_modified(request: Message, headers: dict[str, str]) -> bool:
    """Whether a GET with these request headers gets a 304 (If-None-Match, when sent,
    decides alone, as RFC 9110 says)."""
    if_none_match = request.get("If-None-Match")
    if if_none_match is not None:
        etag = headers.get("ETag")
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return etag is not None and ("*" in tags or etag.removeprefix("W/") in tags)
    since, modified = request.get("If-Modified-Since"), headers.get("Last-Modified")
    if since is None or modified is None:
        return False
    try:
        return parsedate_to_datetime(modified) <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False


class HookReceiver:
    """A webhook receiver on 127.0.0.1 for the demo: checks signatures, keeps each delivery.

    It answers 200 to a delivery it has already seen (same Idempotency-Key) without keeping
    it twice, as a receiver should.
    """

    def __init__(self, secret: str):
        self.secret = secret
        self.deliveries: dict[str, dict] = {}  # Idempotency-Key -> JSON document
        self.arrived: dict[str, float] = {}  # Idempotency-Key -> time.monotonic() of arrival
        self.received = threading.Condition()
        self.bad_signatures = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> HookReceiver:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        from crawler.alerts.channels.webhook import SIGNATURE_HEADER, verify_signature

        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if not verify_signature(receiver.secret, body, self.headers[SIGNATURE_HEADER]):
                    with receiver._lock:
                        receiver.bad_signatures += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                key = self.headers["Idempotency-Key"]
                with receiver._lock:
                    receiver.deliveries.setdefault(key, json.loads(body))
                    receiver.arrived.setdefault(key, time.monotonic())
                with receiver.received:
                    receiver.received.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                LOGGER.debug("demo webhook: " + format, *args)

        return Handler


def demo_site() -> SiteServer:
    """The bundled demo site (data/demo), not yet started."""
    return SiteServer(DEMO_DIR / "site", [DEMO_DIR / "edition-2"])


# The file that marks a folder `veille demo` made: only such a folder is emptied again.
MARKER = ".veille-demo"


def prepare_output(out: Path) -> Path:
    """`out` ready for a demo: created, or emptied if an earlier demo made it (it holds
    MARKER). An existing folder the demo did not make is never touched unless it is empty:
    `-o data` must not delete a newsroom's configuration and database."""
    if out.is_dir() and (out / MARKER).is_file():
        shutil.rmtree(out)
    elif out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BadInputError(
            f"{out}: exists and was not made by `veille demo` (no {MARKER} file in it); "
            "choose another --output, or remove it yourself")
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("Made by `veille demo`, which empties this folder when it "
                              "runs again.\n", encoding="utf-8")
    return out


def render_demo_config(origin: str, dest: Path, hooks: str = "http://127.0.0.1:9") -> Path:
    """Write data/demo/veille.toml to `dest` with the live site's (and receiver's) origin."""
    text = (DEMO_DIR / "veille.toml").read_text(encoding="utf-8")
    dest.write_text(text.replace("{site}", origin).replace("{hooks}", hooks), encoding="utf-8")
    return dest
