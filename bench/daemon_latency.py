"""Publication to alert with the daemon running: the demo site, `veille run` polling every
source every 2 seconds, and the clock from edition 2 going live (one new Karabakh story)
to that story's webhook arriving at the demo receiver. Expect about half the interval plus
one poll and one dispatch."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

from bench import median_of
from bench.alert_latency import NEW_STORY, webhook_demo
from bench.usage import veille

INTERVAL = "2s"


def measure_once(workdir: Path) -> float:
    with webhook_demo(workdir) as (site, hooks, config, env):
        with open(config, "a", encoding="utf-8") as fh:
            fh.write(f'\n[schedule]\nevery = "{INTERVAL}"\ndispatch_every = "1s"\n')
        daemon = subprocess.Popen(veille(config, workdir / "veille.db", "run"), env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        polls: dict[str, int] = {}
        settled = threading.Event()

        def read() -> None:
            for line in daemon.stderr:
                if ": ok in " in line:
                    source = line.split(" INFO veille.daemon: ")[-1].split(":")[0]
                    polls[source] = polls.get(source, 0) + 1
                    if len(polls) == 8 and min(polls.values()) >= 2:
                        settled.set()

        threading.Thread(target=read, daemon=True).start()
        try:
            if not settled.wait(timeout=120):
                raise RuntimeError("the daemon did not poll every source twice")
            site.edition = 2
            started = time.monotonic()

            def arrived() -> list[str]:
                return [k for k, doc in hooks.deliveries.items()
                        if NEW_STORY in doc["alert"]["url"]]

            with hooks.received:
                if not hooks.received.wait_for(arrived, timeout=120):
                    raise RuntimeError("the new story's alert never arrived")
            return hooks.arrived[arrived()[0]] - started
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=60)


def run(repeats: int = 3) -> dict[str, float]:
    """Median and spread of `repeats` measurements, each on a fresh database."""
    return median_of(measure_once, repeats, "daemon_latency_s")


if __name__ == "__main__":
    print(run())
