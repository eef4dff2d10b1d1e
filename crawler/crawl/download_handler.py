"""Scrapy's HTTP/1.1 download handler, with a close that holds under load.

`HTTP11DownloadHandler.close` (Scrapy 2.19) waits for the connection pool to close, and
fires the same Deferred itself after one second in case the pool never answers. When the
pool answers and the one-second call falls due in the same turn of a busy event loop (a
crawl of 2,000 sources closing together), the coroutine has not yet resumed to cancel
that call: the Deferred is fired twice, and Twisted prints an `AlreadyCalledError`
traceback at the end of an otherwise clean crawl. Here the late call checks first.
"""

from __future__ import annotations

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred


class HTTPDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's handler for http and https; only its `close` differs."""

    async def close(self) -> None:
        from twisted.internet import reactor

        closed: Deferred[None] = self._pool.closeCachedConnections()

        def give_up() -> None:  # the pool never answered: stop waiting (Scrapy #2653)
            if not closed.called:
                closed.callback(())  # its callbacks read a list of results, as Scrapy's

        late = reactor.callLater(self._disconnect_timeout, give_up)
        try:
            await maybe_deferred_to_future(closed)
        finally:
            if late.active():
                late.cancel()
