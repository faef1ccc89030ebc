"""Benchmark: `chipwatch backtest` over an archive, start-up included (issue 10's speed target).

Runs `python -m bot backtest ARCHIVE --json` as a fresh process, the way an operator runs it,
and beside it, in turn, a process that only reads the archive (`bot.archive.read_archive`:
decompress, decode, clean every item) — the floor any replay pays. Prints, as medians over
the rounds: wall and CPU seconds, items/s, peak memory, the share of the 30 s budget the
target sets for the dev archive, and the backtest's cost as a multiple of the bare read.

    python bench/backtest_bench.py [ARCHIVE] [--rounds 3]

ARCHIVE defaults to ../shared/data/stream-dev/items.jsonl.gz beside the repository; when it
is absent the benchmark says so and exits 0.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ARCHIVE = ROOT.parent / "shared" / "data" / "stream-dev" / "items.jsonl.gz"
BUDGET = 30.0  # seconds for the dev archive on one core, start-up included
READ_ONLY = ("import sys; from pathlib import Path; from bot.archive import read_archive; "
             "print(sum(1 for _ in read_archive(Path(sys.argv[1]))))")


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """Run `cmd` to the end: (wall s, CPU s, the last line it printed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = done.stdout.strip().splitlines()
    return wall, cpu, lines[-1] if lines else ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("archive", nargs="?", type=Path, default=DEFAULT_ARCHIVE)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if not args.archive.exists():
        print(f"no archive at {args.archive}: nothing to measure")
        return 0
    cmds = {"backtest": [sys.executable, "-m", "bot", "backtest", str(args.archive), "--json"],
            "read": [sys.executable, "-c", READ_ONLY, str(args.archive)]}
    runs: dict[str, list[tuple[float, float]]] = {"backtest": [], "read": []}
    items = 0
    for n in range(args.rounds):
        for name in (("backtest", "read") if n % 2 == 0 else ("read", "backtest")):
            wall, cpu, last = timed(cmds[name])
            runs[name].append((wall, cpu))
            if name == "read":
                items = int(last)
        print(f"round {n + 1}: backtest {runs['backtest'][-1][0]:.1f} s, "
              f"bare read {runs['read'][-1][0]:.1f} s", flush=True)
    wall = statistics.median(w for w, _ in runs["backtest"])
    cpu = statistics.median(c for _, c in runs["backtest"])
    read = statistics.median(w for w, _ in runs["read"])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the backtest's
    print(f"backtest: {items:,} items, median wall {wall:.1f} s, CPU {cpu:.1f} s, "
          f"{items / wall:,.0f} items/s, peak RSS {peak:.0f} MiB")
    print(f"budget: {wall / BUDGET:.2f} of the {BUDGET:.0f} s target "
          f"({'met' if wall <= BUDGET else 'NOT met'})")
    print(f"bare read of the archive: median {read:.1f} s; "
          f"backtest / bare read = {wall / read:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
