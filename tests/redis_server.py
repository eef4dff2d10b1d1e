"""A real Redis server on 127.0.0.1 for the scale-out tests (`pytest_plugins`).

One server per test session, on a free port, with nothing saved to disk; each test gets
its own key prefix, so tests never see each other's queues.
"""

from __future__ import annotations

import itertools
import shutil
import socket
import subprocess
from collections.abc import Iterator

import pytest
import redis

_PREFIXES = itertools.count(1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: `.ci/run` installs it (apt-get install "
                    "redis-server); the scale-out tests need a real server")
    port = _free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
         "no", "--protected-mode", "yes"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        for line in server.stdout:
            if "Ready to accept connections" in line:
                break
        else:
            pytest.fail(f"redis-server exited with status {server.wait()}")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stdout.close()


@pytest.fixture
def redis_prefix() -> str:
    return f"t{next(_PREFIXES)}"


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()
