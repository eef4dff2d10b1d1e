"""The demo record the serving tests browse: the demo site crawled twice, then its alerts
sent. Built once per test session (several modules browse it, none writes to it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import PROJECT, veille

from crawler.demo import DEMO_DIR, SiteServer, render_demo_config

BROKEN_FEED = "/gazette/rss.xml"  # answers 404 in the second crawl: a source to look after
_BUILT: dict[str, Path] = {}


def build(tmp: Path) -> Path:
    """The demo site crawled twice into `tmp`/veille.db (the second time with one new and
    one updated article and a feed gone), then its alerts sent."""
    db = tmp / "veille.db"
    with SiteServer(DEMO_DIR / "site", [DEMO_DIR / "edition-2"]) as site:
        config = render_demo_config(site.origin, tmp / "veille.toml")
        first = veille("--config", config, "--db", db, "crawl", "--no-progress")
        assert first.returncode == 0, first.stdout + first.stderr
        site.edition = 2
        site.overrides[BROKEN_FEED] = (404, {"Content-Type": "text/plain"}, b"gone")
        second = veille("--config", config, "--db", db, "crawl", "--no-progress")
        assert second.returncode == 1, second.stdout + second.stderr  # the 404 feed failed
        # VEILLE_DEMO_WEBHOOK_SECRET is not set: the webhook desk's alerts fail at once.
        env = {k: v for k, v in os.environ.items() if k != "VEILLE_DEMO_WEBHOOK_SECRET"}
        sent = subprocess.run([sys.executable, "-m", "crawler", "--config", str(config),
                               "--db", str(db), "alerts", "send"],
                              capture_output=True, text=True, env=env, cwd=PROJECT, timeout=60)
        assert sent.returncode in (0, 1), sent.stdout + sent.stderr
    return db


def demo_record(tmp_path_factory) -> Path:
    """The session's demo record, built by the first test module that asks for it."""
    if "db" not in _BUILT:
        _BUILT["db"] = build(tmp_path_factory.mktemp("serve"))
    return _BUILT["db"]
