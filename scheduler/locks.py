"""One crawl per source at a time, across processes: cron invocations, the daemon's crawl
processes and hand-run `veille crawl` all take the same per-source lock.

The locks are `flock`s on files beside the database (`<db>.locks/<source>.lock`): the
kernel releases them when the holding process ends, however it ends, so a killed crawl
never leaves a source locked.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO

LOGGER = logging.getLogger(__name__)


class SourceLocks:
    """The locks this process holds; released on `release()` or when the process ends."""

    def __init__(self, db_path: str | os.PathLike[str]):
        self.folder = Path(f"{db_path}.locks")
        self.held: dict[str, IO[str]] = {}

    def acquire(self, source_ids: Iterable[str]) -> tuple[list[str], dict[str, str]]:
        """Lock each source that no other process holds.

        Returns the sources locked, and for the others who holds them ("pid 1234").
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        got, busy = [], {}
        for source_id in source_ids:
            handle = open(self.folder / f"{source_id}.lock", "a+")  # noqa: SIM115 (held open)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                busy[source_id] = f"pid {handle.read().strip() or '?'}"
                handle.close()
                continue
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            self.held[source_id] = handle
            got.append(source_id)
        return got, busy

    def release(self) -> None:
        for handle in self.held.values():
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
        self.held.clear()

    def __enter__(self) -> SourceLocks:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
