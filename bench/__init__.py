"""Veille's benchmarks: `python -m bench` runs them and prints a table (see README)."""

import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path


def median_of(measure: Callable[[Path], float], repeats: int, key: str) -> dict[str, float]:
    """Run `measure` in a fresh temporary folder `repeats` times: median, min and max."""
    figures = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            figures.append(measure(Path(tmp)))
    return {key: statistics.median(figures), "min_s": min(figures), "max_s": max(figures),
            "runs": repeats}
