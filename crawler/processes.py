"""Whether a process that holds something (a crawl run, an alert batch, the ingester's
lock) is still there to hold it. One rule, for every holder: imported by the crawl, the
dispatcher, the ingester and the command line alike, so it imports nothing of theirs."""

from __future__ import annotations

import os
import socket


def this_process() -> str:
    """This process as a holder names it: "host:pid"."""
    return f"{socket.gethostname()}:{os.getpid()}"


def pid_alive(pid: int) -> bool:
    """Whether another process `pid` of this machine exists (this one counts as gone)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def holder_alive(holder: str | None) -> bool:
    """Whether the process a "host:pid" holder names may still be at work: on this host
    we can ask; one on another host is trusted until its lease ends."""
    if not holder:
        return False
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname():
        return True
    return pid.isdigit() and pid_alive(int(pid))
