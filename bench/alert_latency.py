"""Alert latency: from a story's appearance on the demo site to its webhook delivery.

The demo site switches to edition 2 (one new Karabakh story); a `veille crawl --send`
process starts at once, as cron or the daemon would start one, and the clock stops when
the demo's webhook receiver gets the new story's alert. So the figure is the cost of one
poll plus dispatch; in production add the wait until the source's next scheduled poll.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench import median_of
from bench.usage import veille
from crawler.demo import HookReceiver, SiteServer, demo_site, render_demo_config

NEW_STORY = "karabakh-familles-deplacees-visite-cimetiere-stepanakert"


def webhook_config(site_origin: str, hooks_origin: str, dest: Path) -> Path:
    """The demo config, with the Karabakh desk on the webhook instead of an Atom file."""
    path = render_demo_config(site_origin, dest, hooks_origin)
    text = path.read_text(encoding="utf-8").replace(
        '[subscription.feed]\ntitle = "Veille: Nagorny Karabakh"',
        f'[subscription.webhook]\nurl = "{hooks_origin}/desk-caucase"\n'
        'secret_env = "VEILLE_DEMO_WEBHOOK_SECRET"',
    )
    path.write_text(text, encoding="utf-8")
    return path


@contextmanager
def webhook_demo(workdir: Path) -> Iterator[tuple[SiteServer, HookReceiver, Path,
                                                  dict[str, str]]]:
    """The demo site and its webhook receiver, running; the `webhook_config` written in
    `workdir`, and the environment that holds the webhook's secret."""
    secret = secrets.token_hex(8)
    env = {**os.environ, "VEILLE_DEMO_WEBHOOK_SECRET": secret}
    with demo_site() as site, HookReceiver(secret) as hooks:
        yield site, hooks, webhook_config(site.origin, hooks.origin,
                                          workdir / "veille.toml"), env


def measure_once(workdir: Path) -> float:
    """Seconds from edition 2 going live to the new story's webhook arriving."""
    with webhook_demo(workdir) as (site, hooks, config, env):
        command = veille(config, workdir / "veille.db", "crawl", "--no-progress", "--send",
                         "--quiet")
        subprocess.run(command, env=env, check=True, capture_output=True)
        before = set(hooks.deliveries)
        site.edition = 2
        started = time.monotonic()
        subprocess.run(command, env=env, check=True, capture_output=True)
        new = [k for k, doc in hooks.deliveries.items()
               if k not in before and NEW_STORY in doc["alert"]["url"]]
        if len(new) != 1:
            raise RuntimeError(f"expected one alert for the new story, got {len(new)}")
        return hooks.arrived[new[0]] - started


def run(repeats: int = 3) -> dict[str, float]:
    """Median and spread of `repeats` measurements, each on a fresh database."""
    return median_of(measure_once, repeats, "alert_latency_s")


if __name__ == "__main__":
    print(run())
