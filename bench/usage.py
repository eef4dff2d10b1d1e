"""What a child process cost: its CPU seconds, wall time and peak resident memory.

The command runs under a small launcher (`python -m bench.usage RESULT -- COMMAND...`) that
forks it, forwards SIGTERM/SIGINT to it, and writes its rusage (wait4: the command and the
children it reaped) to RESULT. The launcher is there for the memory figure: on Linux a
process's ru_maxrss includes the peak of the process it was forked from, up to its exec
(and Python spawns children with vfork), so a command started straight from the benchmark
process would report at least the benchmark process's own peak.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Usage:
    """A finished child: CPU (user + system) and wall seconds, peak RSS, output."""

    cpu_s: float
    wall_s: float
    max_rss_mb: float  # the largest of the command and the children it waited for
    returncode: int
    stdout: str
    stderr: str


def launch(command: list[str], result: str, **popen: object) -> subprocess.Popen:
    """Start `command` under the launcher, which writes its usage to the file `result`."""
    return subprocess.Popen([sys.executable, "-m", "bench.usage", result, "--", *command],
                            **popen)  # type: ignore[call-overload]


def read_result(result: str) -> tuple[float, float, int]:
    """(CPU seconds, peak RSS in MB, exit code) that the launcher wrote."""
    with open(result, encoding="utf-8") as fh:
        data = json.load(fh)
    return data["cpu_s"], data["max_rss_kb"] / 1024, data["returncode"]


def collect(command: list[str], result: str, wall: float, stdout: str, stderr: str = "",
            check: bool = True) -> Usage:
    """The usage of a finished `launch`: what the launcher wrote to `result`, the wall time
    and output given. Fails if `check` and the command exited non-zero."""
    cpu, rss, code = read_result(result)
    usage = Usage(cpu, wall, rss, code, stdout, stderr)
    if check and code != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {code}:\n"
                           f"{stdout[-2000:]}\n{stderr[-2000:]}")
    return usage


def run_measured(command: list[str], env: dict[str, str] | None = None,
                 check: bool = True) -> Usage:
    """Run `command` to completion and measure it."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(suffix=".json") as result:
        started = time.monotonic()
        launcher = launch(command, result.name, stdout=out, stderr=err, env=env)
        launcher.wait()
        wall = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return collect(command, result.name, wall, out.read().decode(errors="replace"),
                       err.read().decode(errors="replace"), check)


def veille(config: os.PathLike[str] | str, db: os.PathLike[str] | str, *args: str) -> list[str]:
    """The command line of `veille --config C --db D ARGS...` (as `python -m crawler`)."""
    return [sys.executable, "-m", "crawler", "--config", str(config), "--db", str(db), *args]


def _launcher(result: str, command: list[str]) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)

    def forward(signum: int, frame: object) -> None:
        os.kill(pid, signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    while True:
        try:
            _, status, rusage = os.wait4(pid, 0)
            break
        except InterruptedError:
            continue
    code = os.waitstatus_to_exitcode(status)
    with open(result, "w", encoding="utf-8") as fh:
        json.dump({"cpu_s": rusage.ru_utime + rusage.ru_stime, "max_rss_kb": rusage.ru_maxrss,
                   "returncode": code}, fh)
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit("usage: python -m bench.usage RESULT -- COMMAND...")
    sys.exit(_launcher(sys.argv[1], sys.argv[3:]))
