"""Benchmark: the bot's parse → match → dedup → store path versus bare `feedparser.parse`.

Both run side by side in one process on the same feed bytes (the captured feeds in
tests/fixtures/feeds), alternating rounds; the bot's side goes through the real
`Poller.poll_all`, the one way the bot polls (adapter, exact dedup, rules of the bundled
config, story engine, outbox, SQLite file in WAL), with a fresh state file per round so every
item is new. Prints items/s for each and the ratio (target: the bot at >= 0.67x
feedparser's items/s).

    python bench/pipeline_bench.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import feedparser

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.clock import SYSTEM_CLOCK  # noqa: E402
from bot.config import FeedSpec, load_config  # noqa: E402
from bot.config.live import LiveConfig  # noqa: E402
from bot.feeds.fetch import FetchResult, Validators  # noqa: E402
from bot.feeds.response import Outcome  # noqa: E402
from bot.metrics import Metrics  # noqa: E402
from bot.poller import Poller  # noqa: E402
from bot.store import SqliteStore  # noqa: E402
from bot.stories import make_stories  # noqa: E402

FEEDS = ROOT / "tests" / "fixtures" / "feeds"


class BytesFetcher:
    """Hands the pipeline captured bytes, as if the server had answered 200."""

    def __init__(self, bodies: dict[str, bytes]) -> None:
        self.bodies = bodies

    def fetch(self, feed: FeedSpec, validators: Validators) -> FetchResult:
        return FetchResult(feed, Outcome.OK, SYSTEM_CLOCK.now(), 200, self.bodies[feed.name])


def bare(bodies: dict[str, bytes]) -> tuple[float, int]:
    start = time.perf_counter()
    n = sum(len(feedparser.parse(b).entries) for b in bodies.values())
    return time.perf_counter() - start, n


def bot(bodies: dict[str, bytes], tmp: Path, round_: int) -> tuple[float, int]:
    config = load_config(ROOT / "config" / "chipwatch.yaml")
    config = replace(config, feeds=tuple(
        FeedSpec(name, f"bench://{name}", timedelta(minutes=10), timedelta(days=36500),
                 timedelta(0), name) for name in bodies))
    db = SqliteStore.open(tmp / f"round{round_}.db")
    stories = make_stories(config.settings.dedup, db)
    poller = Poller(LiveConfig(config), db, BytesFetcher(bodies), SYSTEM_CLOCK, stories,
                    Metrics())
    start = time.perf_counter()
    n = sum(r.new for r in poller.poll_all(config.feeds, force=True))
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    rounds = ap.parse_args().rounds
    bodies = {p.stem: p.read_bytes() for p in sorted(FEEDS.iterdir())
              if p.suffix in (".rss", ".atom")}
    import logging

    logging.disable(logging.WARNING)
    fp_rates, bot_rates = [], []
    with tempfile.TemporaryDirectory() as tmp:
        bot(bodies, Path(tmp), -1)  # warm-up: imports, regex compilation, page cache
        for r in range(rounds):
            t_fp, n_fp = bare(bodies)
            t_bot, n_bot = bot(bodies, Path(tmp), r)
            fp_rates.append(n_fp / t_fp)
            bot_rates.append(n_bot / t_bot)
    fp, ours = statistics.median(fp_rates), statistics.median(bot_rates)
    print(f"feeds={len(bodies)} entries/round={n_fp} items stored/round={n_bot} rounds={rounds}")
    print(f"feedparser.parse alone:            {fp:9.0f} items/s (median)")
    print(f"parse+match+dedup+store (poll_all):  {ours:9.0f} items/s (median)")
    print(f"ratio bot/feedparser = {ours / fp:.2f}x (target >= 0.67x)")


if __name__ == "__main__":
    main()
