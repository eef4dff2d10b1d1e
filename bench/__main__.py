"""`python -m bench`: run the benchmarks, print a table, write it as JSON to bench/results/."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from importlib.metadata import version

from bench import (
    RESULTS,
    alert_latency,
    archive,
    article_cost,
    clustering,
    cold_crawl,
    daemon_latency,
    extraction,
    idle_poll,
    memory,
    overlap,
    polls,
    scale_out,
    search,
)

BENCHMARKS = {
    "alert_latency": ("Alert latency: demo story online -> webhook delivered (one poll + send)",
                      alert_latency.run),
    "clustering": ("Story clustering: seconds per new article, 1,000,000 articles stored",
                   clustering.run),
    "daemon_latency": ("Daemon polling every 2 s: story online -> webhook delivered",
                       daemon_latency.run),
    "extraction": ("Extraction on the 130 real pages of ../shared/corpus/readability: body F1 "
                   "beside trafilatura's modes, CPU per page, metadata", extraction.run),
    "idle_poll": ("Idle poll of the demo's 8 sources: CPU seconds per source (one process)",
                  idle_poll.run),
    "cold_crawl": ("Cold crawl of 1,000 articles made from the real corpus pages (10 feeds) "
                   "beside bare Scrapy + trafilatura: CPU s per article", cold_crawl.run),
    "cold_crawl_130": ("Cold crawl of the 130 real corpus pages as they are (5 feeds): CPU s "
                       "per article", cold_crawl.run_corpus),
    "idle_poll_100": ("Idle poll of 100 synthetic sources, one process: CPU s per source",
                      polls.run_idle),
    "incr_poll_100": ("100 sources, 1 new article each, one process: CPU s per source",
                      polls.run_incremental),
    "article_cost": ("CPU per article outside download and extraction, 1,000,000 stored, "
                     "130 real pages (ms)", article_cost.run),
    "archive": ("Archive growth: ms to store an article at 1,000,000 (min/max over sizes, ms)",
                archive.run),
    "memory": ("Peak RSS (MB) of the 1,000-article real-page crawl; daemon over 300 idle polls",
               memory.run),
    "overlap": ("6 overlapping sources of one site (listing, 4 topic listings, feed), 150 "
                "real-page articles: article fetches per stored article", overlap.run),
    "search": ("Ranked full-text search (/veille/search), 1,000,000 articles: median and "
               "worst ms over 5 queries, beside bm25 over every match", search.run),
    "scale_out": ("Scale-out over Redis, 1,000 articles: articles/s end to end, 3 workers + "
                  "ingester", scale_out.run),
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], metavar="NAME",
                        help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (median kept)")
    args = parser.parse_args()
    machine = {
        "python": platform.python_version(), "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "versions": {p: version(p) for p in ("scrapy", "sqlite-utils", "feedparser",
                                             "trafilatura", "datasette")},
    }
    results = {}
    for name in args.names or BENCHMARKS:
        title, run = BENCHMARKS[name]
        results[name] = {"title": title, **run(args.repeats)}
    print(f"Python {machine['python']} on {machine['platform']}, {machine['cpus']} CPUs")
    print(f"{'benchmark':<16} {'figure':<18} {'median':>10} {'min':>10} {'max':>10}")
    for name, figures in results.items():
        key = next(k for k in figures if k not in ("title", "min_s", "max_s", "runs"))
        print(f"{name:<16} {key:<18} {figures[key]:>10.3f} {figures['min_s']:>10.3f} "
              f"{figures['max_s']:>10.3f}")
        extra = {k: v for k, v in figures.items()
                 if k not in ("title", key, "min_s", "max_s", "runs")}
        if extra:
            print(" " * 17 + ", ".join(f"{k} {v:.3g}" for k, v in extra.items()))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"machine": machine, "results": results}, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
