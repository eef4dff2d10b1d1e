"""`python -m bench.warc_size`: disk and CPU that keeping raw pages costs (crawler/record/pages.py).

Writes each real page of ../shared/corpus/readability/*/source.html once through
`PageArchive.write`, with the response headers a news site typically sends, and reports
the size of its gzip WARC record and the CPU to write it; then what a month of a source
publishing 50 articles a day takes (one record per article fetched).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.corpus import CORPUS
from crawler.record.pages import PageArchive

HEADERS = [
    ("Content-Type", "text/html; charset=utf-8"), ("Date", "Fri, 20 Nov 2026 08:15:00 GMT"),
    ("Server", "nginx"), ("Cache-Control", "max-age=60"),
    ("Etag", '"5be0d5300a6a78fbfcf72e11d69b2689"'),
    ("Last-Modified", "Fri, 20 Nov 2026 08:10:00 GMT"), ("Vary", "Accept-Encoding"),
]


def measure(corpus: Path) -> dict[str, float]:
    pages = sorted(corpus.glob("*/source.html"))
    if not pages:
        raise SystemExit(f"no */source.html under {corpus}")
    day = datetime(2026, 11, 20, tzinfo=UTC)
    sizes, cpu, raw = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        archive = PageArchive(folder)
        for page in pages:
            body = page.read_bytes()
            started = time.process_time()
            ref = archive.write(f"https://example.org/{page.parent.name}", 200, HEADERS, body, day)
            cpu.append(time.process_time() - started)
            sizes.append((Path(folder) / ref.file).stat().st_size - ref.offset)
            raw.append(len(body))
    return {
        "pages": len(pages),
        "html_median_kib": statistics.median(raw) / 1024,
        "record_median_kib": statistics.median(sizes) / 1024,
        "record_mean_kib": statistics.mean(sizes) / 1024,
        "record_p90_kib": sorted(sizes)[int(0.9 * len(sizes))] / 1024,
        "write_cpu_median_ms": statistics.median(cpu) * 1000,
        "month_mb_median": statistics.median(sizes) * 50 * 30 / 1e6,
        "month_mb_mean": statistics.mean(sizes) * 50 * 30 / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    result = measure(parser.parse_args().corpus)
    print(f"{result['pages']} pages, HTML median {result['html_median_kib']:.1f} KiB")
    print(f"gzip WARC record: median {result['record_median_kib']:.1f} KiB, mean "
          f"{result['record_mean_kib']:.1f} KiB, p90 {result['record_p90_kib']:.1f} KiB; "
          f"{result['write_cpu_median_ms']:.1f} ms CPU to write (median)")
    print(f"50 articles a day for 30 days: {result['month_mb_median']:.0f} MB at the median "
          f"page, {result['month_mb_mean']:.0f} MB at the mean")


if __name__ == "__main__":
    main()
