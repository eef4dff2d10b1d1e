"""Idle poll on the demo site: once everything is stored, what does a poll with nothing new
cost? Requests reaching the site, and CPU seconds of the `veille crawl` process, both for
all 8 sources in one process (cron mode) and for one source in its own process (what the
daemon runs per poll)."""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from crawler.demo import demo_site, render_demo_config


def _cpu_of(command: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure_once(workdir: Path) -> dict[str, float]:
    with demo_site() as site:
        config = render_demo_config(site.origin, workdir / "veille.toml")
        base = [sys.executable, "-m", "crawler", "--config", str(config),
                "--db", str(workdir / "veille.db"), "crawl", "--no-progress", "--quiet"]
        subprocess.run(base, check=True, capture_output=True)
        site.reset_hits()
        all_cpu = _cpu_of(base)
        all_requests = sum(site.hits.values())
        articles = site.requests_under("/levant/2026") + site.requests_under("/monitor/2026")
        site.reset_hits()
        one_cpu = _cpu_of([*base, "--source", "levant-karabakh"])
        one_requests = sum(site.hits.values())
    return {"all_sources_requests": all_requests, "article_requests": articles,
            "all_sources_cpu_s": all_cpu, "cpu_per_source_s": all_cpu / 8,
            "one_source_process_cpu_s": one_cpu, "one_source_requests": one_requests}


def run(repeats: int = 3) -> dict[str, float]:
    runs = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(measure_once(Path(tmp)))
    result = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    cpu = [r["cpu_per_source_s"] for r in runs]
    return {"cpu_per_source_s": result.pop("cpu_per_source_s"), "min_s": min(cpu),
            "max_s": max(cpu), "runs": repeats, **result}


if __name__ == "__main__":
    print(run())
