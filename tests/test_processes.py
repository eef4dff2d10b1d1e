"""One rule for "is the process that holds this still there" (crawl runs, alert batches,
the ingester's lock): crawler/processes.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from crawler.processes import holder_alive, pid_alive, this_process


def test_a_running_process_is_alive_and_an_ended_one_is_not():
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)
    try:
        assert pid_alive(child.pid)
        assert holder_alive(f"{socket.gethostname()}:{child.pid}")
    finally:
        child.communicate(b"")
    assert not pid_alive(child.pid)
    assert not holder_alive(f"{socket.gethostname()}:{child.pid}")


def test_this_process_counts_as_gone_and_another_host_is_trusted():
    assert this_process() == f"{socket.gethostname()}:{os.getpid()}"
    assert not pid_alive(os.getpid()) and not holder_alive(this_process())
    assert holder_alive("another-host.example:1")
    assert not holder_alive(None) and not holder_alive("")
    assert not holder_alive(f"{socket.gethostname()}:not-a-pid")
