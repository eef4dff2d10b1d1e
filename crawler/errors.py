"""Every error Veille explains itself, in one hierarchy: each message names the file,
source, page or server and the problem, in one line; `exit_code` is what `veille` exits
with when one ends a command (crawler/cli/main.py turns them into messages, in one place).

0 is success; 1 a failure of the work (a source, a delivery, Redis); 2 an input Veille
cannot use (a configuration or database file, an option); 3 a crawl that was partial
(crawler/cli/crawl.py). This module imports nothing of Veille: every layer may raise these.
"""

from __future__ import annotations


class VeilleError(Exception):
    """An error with a one-line message a user can act on."""

    exit_code = 1


class BadInputError(VeilleError):
    """An input that cannot be used, as a bad option cannot: exit status 2."""

    exit_code = 2


class ConfigError(BadInputError, ValueError):
    """The configuration file cannot be used; the message names the file, source and problem."""


class ReadOnlyDatabaseError(BadInputError):
    """The database cannot be written here, or, opened read-only, cannot be read as it is."""


class ServeError(BadInputError):
    """The database cannot be served (missing file, unreadable metadata)."""


class BadLink(VeilleError, ValueError):
    """A link of a feed, sitemap or listing that cannot be an article page's URL."""


class DiscoveryError(VeilleError):
    """The page could not be fetched or read."""


class PageGone(VeilleError, LookupError):
    """The page's day file is no longer kept (removed by `keep_pages`, or by hand)."""


class PageError(VeilleError, ValueError):
    """A pointer that does not lead to a readable response record."""


class DeliveryError(VeilleError):
    """A channel could not deliver; `permanent` when retrying cannot help (bad config)."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class ClusterError(VeilleError):
    """Redis cannot be reached or holds something Veille cannot use."""


class WireError(VeilleError, ValueError):
    """A message that is not valid Veille JSON (corrupt, or written by something else)."""
