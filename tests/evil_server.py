"""A hostile web server on 127.0.0.1 for the hostile-input suite: each path misbehaves in
its own way (endless bodies, a connection cut mid-document, a drip of one byte at a time,
no answer at all, gzip bombs, XML entity attacks, redirect traps, lies in the headers),
beside good article pages that must all end up in the record.

Article pages `/a/<case>/<n>.html` are generated: a headline and about 120 words of text
made from a fixed word list, different for every page (the text is this file's own).
"""

from __future__ import annotations

import gzip
import random
import socketserver
import sys
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

WORDS = (
    "ceasefire observers village border convoy ministry council envoy talks river bridge "
    "shelter hospital fuel winter harvest refugees drone artillery mountain pass road "
    "corridor mediators statement evening morning delegation humanitarian supplies water "
    "school market mayor governor clinic volunteers checkpoint airport railway station "
    "negotiators agreement district valley province reporters witnesses families returned "
    "damaged repaired announced confirmed denied postponed reopened crossed gathered"
).split()

Route = Callable[["EvilHandler"], None]


def article_text(case: str, n: int) -> tuple[str, str]:
    """(headline, body) of article `n` of `case`: unlike any other page's text."""
    rng = random.Random(f"{case}/{n}")
    title = f"{case.replace('-', ' ').title()} report {n}: " + " ".join(rng.sample(WORDS, 5))
    sentences = []
    for _ in range(10):
        words = rng.sample(WORDS, 12)
        sentences.append(" ".join(words).capitalize() + ".")
    return title, " ".join(sentences)


def article_page(case: str, n: int, published: datetime) -> bytes:
    title, body = article_text(case, n)
    paragraphs = "".join(f"<p>{escape(body[i:i + 400])}</p>" for i in range(0, len(body), 400))
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>"
        f'<meta property="article:published_time" content="{published.isoformat()}">'
        f"</head><body><article><h1>{escape(title)}</h1>{paragraphs}</article>"
        f"</body></html>"
    ).encode()


class EvilHandler(BaseHTTPRequestHandler):
    server: EvilServer
    protocol_version = "HTTP/1.0"

    def log_message(self, *args: object) -> None:  # quiet: the test reads the record
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = urlsplit(self.path).path
        self.server.count(path)
        route = self.server.routes.get(path)
        if route is not None:
            route(self)
        elif path.startswith("/a/") and path.endswith(".html"):
            case, _, n = path[3:-5].rpartition("/")
            self.send(200, article_page(case, int(n), self.server.published),
                      "text/html; charset=utf-8")
        elif path == "/robots.txt":
            self.send(200, b"User-agent: *\nAllow: /\n", "text/plain")
        else:
            self.send(404, b"<html><body>Not found</body></html>", "text/html")

    def send(self, status: int, body: bytes, content_type: str,
             headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def stream(self, head: bytes, chunk: bytes, headers: dict[str, str],
               limit: int = 64 << 20) -> None:
        """`head` then `chunk` again and again until the client goes (or `limit` bytes:
        a crawler that never stops reading fails its test, not the machine)."""
        self.send_response(200)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        sent = 0
        try:
            self.wfile.write(head)
            while sent < limit and not self.server.closing.is_set():
                self.wfile.write(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.server.streamed[urlsplit(self.path).path] = sent

    def drip(self, content_type: str) -> None:
        """Headers, then one byte at a time, for ever (until the server closes)."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.end_headers()
        try:
            while not self.server.closing.wait(0.2):
                self.wfile.write(b" ")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def hold(self) -> None:
        """Read the request, answer nothing until the server closes."""
        self.server.closing.wait()
        self.close_connection = True

    def cut(self, body: bytes, declared: int, content_type: str) -> None:
        """A Content-Length of `declared` bytes, `body` sent, then the connection closed."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(declared))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True

    def raw(self, data: bytes) -> None:
        """Bytes that are no HTTP answer."""
        self.wfile.write(data)
        self.close_connection = True


class EvilServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), EvilHandler)
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.streamed: dict[str, int] = {}
        self.closing = threading.Event()
        self.published = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up mid-answer is what the attacks expect: not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def count(self, path: str) -> None:
        with self._lock:
            self.hits[path] += 1

    def __enter__(self) -> EvilServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.closing.set()
        self.shutdown()
        self.server_close()


class ConnectionCounter(socketserver.ThreadingTCPServer):
    """A TCP listener on 127.0.0.1 that only counts the connections made to it (an FTP
    server, as far as a crawler that should never dial it can tell)."""

    daemon_threads = True

    def __init__(self) -> None:
        self.connections = 0

        counter = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                counter.connections += 1
                self.request.sendall(b"220 not a real FTP server\r\n")

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def port(self) -> int:
        return self.server_address[1]


def gzip_bomb(size: int) -> bytes:
    """`size` bytes of zeros, gzipped (a few KB on the wire)."""
    return gzip.compress(b"\0" * size, compresslevel=9)
