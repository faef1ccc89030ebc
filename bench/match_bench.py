"""Benchmark: rule matching throughput over an archive of feed items (issue 10's hot loop).

Reads the archive (JSON lines, `.gz` or not: title and summary per item), builds each item's
text as the pipeline does (title, newline, summary), then times `bot.rules.engine.match` with
the bundled rules over all of them. Loading and decompressing are timed apart from matching.
Prints items/s (target: matching alone >= 40,000 items/s) and how many items alerted.

    python bench/match_bench.py [ARCHIVE] [--config config/chipwatch.yaml] [--limit N]

ARCHIVE defaults to ../shared/data/stream-dev/items.jsonl.gz beside the repository; when it
is absent the benchmark says so and exits 0.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_ARCHIVE = ROOT.parent / "shared" / "data" / "stream-dev" / "items.jsonl.gz"


def texts(path: Path, limit: int) -> Iterator[str]:
    """Each item's rule text: the title, and the summary on its own line when there is one."""
    opener: IO[str]
    with (gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz"
          else path.open(encoding="utf-8")) as opener:
        for n, line in enumerate(opener):
            if limit and n >= limit:
                return
            row = json.loads(line)
            title, summary = row.get("title") or "", row.get("summary") or ""
            yield f"{title}\n{summary}" if summary else title


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("archive", nargs="?", type=Path, default=DEFAULT_ARCHIVE)
    p.add_argument("--config", type=Path, default=ROOT / "config" / "chipwatch.yaml")
    p.add_argument("--limit", type=int, default=0, help="only the first N items (0: all)")
    args = p.parse_args()
    if not args.archive.exists():
        print(f"match_bench: archive {args.archive} not found; skipped")
        return

    t0 = time.perf_counter()
    from bot.config import load_config
    from bot.rules.engine import match

    config = load_config(args.config, lint=False)
    t1 = time.perf_counter()
    items = list(texts(args.archive, args.limit))
    t2, cpu = time.perf_counter(), time.process_time()
    alerted = 0
    for text in items:
        if match(config.rules, text) is not None:
            alerted += 1
    t3, cpu = time.perf_counter(), time.process_time() - cpu
    rate = len(items) / (t3 - t2)
    print(f"archive: {args.archive} ({len(items):,} items, read in {t2 - t1:.1f} s)")
    print(f"rules: {len(config.rules)} from {args.config} (import + load {t1 - t0:.2f} s)")
    print(f"matching: {t3 - t2:.2f} s, {rate:,.0f} items/s, {alerted:,} items alerted "
          f"(target >= 40,000 items/s)")
    print(f"  CPU {cpu:.2f} s, {len(items) / cpu:,.0f} items per CPU second (the wall figure "
          "drops when other processes share the cores)")


if __name__ == "__main__":
    main()
