"""Veille's benchmarks: `python -m bench` runs them and prints a table (see README)."""

import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

RESULTS = Path(__file__).parent / "results"
T = TypeVar("T")


def in_fresh_dirs(measure: Callable[[Path], T], repeats: int) -> list[T]:
    """What `measure` returns, run `repeats` times, each in a new temporary folder."""
    results = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(measure(Path(tmp)))
    return results


def summarize(runs: list[dict[str, float]], key: str) -> dict[str, float]:
    """The median of every figure over `runs`: `key` first, with its min and max."""
    medians = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    values = [r[key] for r in runs]
    return {key: medians.pop(key), "min_s": min(values), "max_s": max(values),
            "runs": len(runs), **medians}


def median_of(measure: Callable[[Path], float], repeats: int, key: str) -> dict[str, float]:
    """Run `measure` in a fresh temporary folder `repeats` times: median, min and max."""
    return summarize([{key: f} for f in in_fresh_dirs(measure, repeats)], key)


def label(n: int) -> str:
    """10000 -> "10k", 1000000 -> "1M": an archive size in file names and figure keys."""
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"
