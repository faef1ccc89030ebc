"""Benchmark: the HTML backtest report (issue 19's target: the dev stream's report written
in at most 5 s beyond the backtest itself, and at most 5 MB).

Runs the backtest once in this process (the dev archive with its labels, the bundled
config), then writes the report `--rounds` times, as `backtest --html` does (labels, missed
developments explained), and prints the median seconds and the size against the targets.

    python bench/report_bench.py [ARCHIVE] [--labels LABELS.tsv] [--rounds 5]

ARCHIVE defaults to ../shared/data/stream-dev/items.jsonl.gz beside the repository; when it
is absent the benchmark says so and exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "stream-dev"
SECONDS, BYTES = 5.0, 5_000_000


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("archive", nargs="?", type=Path, default=DATA / "items.jsonl.gz")
    p.add_argument("--labels", type=Path, default=DATA / "labels.tsv")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    if not args.archive.exists():
        print(f"no archive at {args.archive}: nothing to measure")
        return 0
    from bot.commands.backtest import _score
    from bot.commands.backtest_html import Report, write
    from bot.commands.backtest_run import replay
    from bot.config import load_config, resolve_path
    from bot.scoring import read_labels

    config = load_config(resolve_path(None), lint=False)
    labels = read_labels(args.labels) if args.labels.exists() else None
    started = time.perf_counter()
    out = replay(config, args.archive, None, None,
                 keep_ids=labels.development.keys() if labels else ())
    backtest = time.perf_counter() - started
    score = _score(labels, out.sent) if labels else None
    times, size = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            size = write(Path(tmp) / "report.html",
                         Report(out, None, labels, score, config, str(args.archive)))
            times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    print(f"backtest {out.seen:,} items, {len(out.sent)} messages in {backtest:.1f} s")
    print(f"report: median {median:.3f} s over {args.rounds} rounds (target ≤ {SECONDS:.0f} s: "
          f"{median / SECONDS:.1%}), {size / 1e6:.3f} MB (target ≤ {BYTES / 1e6:.0f} MB: "
          f"{size / BYTES:.1%})")
    return 0 if median <= SECONDS and size <= BYTES else 1


if __name__ == "__main__":
    sys.exit(main())
