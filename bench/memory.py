"""Peak resident memory: of the 1,000-article cold crawl of real pages (bench/cold_crawl.py's
run, reused when it ran in this process; target under 250 MB), and of the daemon over
simulated polls.

The daemon (`veille run`) polls the 100-source idle site of bench/polls.py with every source
due each second and 4 poll processes at once, until it has run DAEMON_POLLS polls: 300, half
an hour of the default 10-minute schedule for 100 sources, compressed into minutes (about two
polls a second on 2 cores: each poll is a fresh Python + Scrapy process). Its own RSS
is read from /proc while it runs (after the first 50 polls and at the end: growth would be a
leak); its children's peaks are sampled from /proc, and the largest resident set of the
daemon and every poll it reaped is read exactly with wait4 when it exits (bench/usage.py).

    python -m bench.memory --polls 200
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench import RESULTS, cold_crawl, polls
from bench.usage import launch, read_result, veille

DAEMON_POLLS = 300
WARM_POLLS = 50
SCHEDULE = '[schedule]\nevery = "1s"\ndispatch_every = "5s"\nprocesses = 4\n'


def _status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError):
        pass
    return found


def daemon_memory(polls_wanted: int = DAEMON_POLLS) -> dict[str, float]:
    polled = polls.shared()
    db = polled.fresh_db("daemon.db")
    config = polled.site.write_config(polled.workdir / "daemon.toml", polled.server.origin,
                                      extra=SCHEDULE)
    polled.server.reset_hits()
    result = polled.workdir / "daemon-usage.json"
    started = time.monotonic()
    launcher = launch(veille(config, db, "run"), str(result), stdout=subprocess.DEVNULL,
                      stderr=subprocess.PIPE, text=True)
    done, warm = threading.Event(), threading.Event()
    counts = {"ok": 0, "failed": 0}
    errors: list[str] = []

    def read() -> None:
        assert launcher.stderr is not None
        in_error = False
        for line in launcher.stderr:
            if " INFO veille.daemon: " in line and ": ok in " in line:
                counts["ok"] += 1
            elif " ERROR veille.daemon: " in line:
                counts["failed"] += 1
                in_error = True
            elif line[:4].isdigit():
                in_error = False
            if in_error:
                errors.append(line.rstrip())
            if counts["ok"] + counts["failed"] >= WARM_POLLS:
                warm.set()
            if counts["ok"] + counts["failed"] >= polls_wanted:
                done.set()

    threading.Thread(target=read, daemon=True).start()
    child_peak_kb, warm_rss_kb = 0, 0
    limit = started + 60 + polls_wanted * 3  # far more than 2 polls a second needs
    try:
        daemon = _daemon_pid(launcher)
        while not done.is_set() and launcher.poll() is None:
            if time.monotonic() > limit:
                raise RuntimeError(f"the daemon ran {counts} polls in "
                                   f"{time.monotonic() - started:.0f} s")
            for child in _children(daemon):
                child_peak_kb = max(child_peak_kb, _status_kb(child, "VmHWM"))
            if warm.is_set() and not warm_rss_kb:
                warm_rss_kb = _status_kb(daemon, "VmRSS")
            time.sleep(0.05)
        end_rss_kb = _status_kb(daemon, "VmRSS")
        daemon_peak_kb = _status_kb(daemon, "VmHWM")
        seconds = time.monotonic() - started
    finally:
        launcher.send_signal(signal.SIGTERM)
        launcher.wait()
    _, tree_peak_mb, code = read_result(str(result))
    if errors:
        log = RESULTS / "memory-daemon-errors.log"
        log.parent.mkdir(exist_ok=True)
        log.write_text("\n".join(errors) + "\n")
        print(f"[memory] {counts['failed']} poll(s) logged an error: {log}", file=sys.stderr)
    if code != 0:
        raise RuntimeError(f"the daemon exited with {code}")
    return {
        "daemon_peak_rss_mb": daemon_peak_kb / 1024,
        "daemon_rss_after_warmup_mb": warm_rss_kb / 1024,
        "daemon_rss_at_end_mb": end_rss_kb / 1024,
        # wait4: the largest of the daemon and every poll process it reaped.
        "max_rss_daemon_or_child_mb": tree_peak_mb,
        "child_peak_rss_sampled_mb": child_peak_kb / 1024,
        "polls": counts["ok"],
        "failed_polls": counts["failed"],
        "polls_per_s": (counts["ok"] + counts["failed"]) / seconds,
        "seconds": seconds,
        "requests_per_poll": sum(polled.server.hits.values()) / max(1, counts["ok"]),
        "article_requests": polled.article_requests(),
    }


def _daemon_pid(launcher: subprocess.Popen) -> int:
    for _ in range(200):
        children = _children(launcher.pid)
        if children:
            return children[0]
        time.sleep(0.05)
    raise RuntimeError("the daemon did not start")


def run(repeats: int = 3, polls_wanted: int = DAEMON_POLLS) -> dict[str, float]:
    """One daemon run whatever `repeats` (it is long, and its peak is a maximum anyway)."""
    crawl = cold_crawl.LAST or cold_crawl.run(1)
    crawl_peak, crawl_runs = crawl["peak_rss_mb_max"], crawl["runs"]
    daemon = daemon_memory(polls_wanted)
    return {"crawl_peak_rss_mb": crawl_peak, "min_s": crawl_peak, "max_s": crawl_peak,
            "runs": 1, "crawl_runs": crawl_runs, **daemon}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--polls", type=int, default=DAEMON_POLLS)
    args = parser.parse_args()
    print(json.dumps(run(1, args.polls), indent=2))
