"""Idle poll on the demo site: once everything is stored, what does a poll with nothing new
cost? Requests reaching the site, and CPU seconds of the `veille crawl` process, both for
all 8 sources in one process (cron mode) and for one source in its own process (what the
daemon runs per poll)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench import in_fresh_dirs, summarize
from bench.usage import run_measured, veille
from crawler.demo import demo_site, render_demo_config


def measure_once(workdir: Path) -> dict[str, float]:
    with demo_site() as site:
        config = render_demo_config(site.origin, workdir / "veille.toml")
        base = veille(config, workdir / "veille.db", "crawl", "--no-progress", "--quiet")
        subprocess.run(base, check=True, capture_output=True)
        site.reset_hits()
        all_cpu = run_measured(base).cpu_s
        all_requests = sum(site.hits.values())
        articles = site.requests_under("/levant/2026") + site.requests_under("/monitor/2026")
        site.reset_hits()
        one_cpu = run_measured([*base, "--source", "levant-karabakh"]).cpu_s
        one_requests = sum(site.hits.values())
    return {"all_sources_requests": all_requests, "article_requests": articles,
            "all_sources_cpu_s": all_cpu, "cpu_per_source_s": all_cpu / 8,
            "one_source_process_cpu_s": one_cpu, "one_source_requests": one_requests}


def run(repeats: int = 3) -> dict[str, float]:
    return summarize(in_fresh_dirs(measure_once, repeats), "cpu_per_source_s")


if __name__ == "__main__":
    print(run())
