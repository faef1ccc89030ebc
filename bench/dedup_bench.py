"""Per-item story-dedup cost with 1,000 vs 100,000 stored items, in one process.

Synthetic stored items are made from the UCI headlines (shared/data/uci-news-dev.csv, or the
test fixture subset if that is missing): each synthetic story takes a real headline, swaps a
few words for random vocabulary words and adds a made-up name, and gets a few perturbed
re-wordings. All stored items sit inside the dedup window, so all are live. The same probe
items (new reports of stored stories, and unrelated headlines) are then timed against each
engine.

Usage: python bench/dedup_bench.py [--csv PATH] [--probes N]
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.dedup import DedupSettings, StoryEngine, StoryInput  # noqa: E402

DEFAULT_CSV = ROOT.parent / "shared" / "data" / "uci-news-dev.csv"
FALLBACK_CSV = ROOT / "tests" / "fixtures" / "dedup" / "uci-news-subset.csv"
T0 = datetime(2026, 1, 26, tzinfo=UTC)
SPAN = timedelta(hours=70)  # inside the default 72h window, so every stored story is live
ITEMS_PER_STORY = 4


def load_titles(path: Path) -> list[str]:
    """Headlines from a UCI-format CSV."""
    with path.open(newline="", encoding="utf-8") as fh:
        return [row["TITLE"] for row in csv.DictReader(fh)]


class Synth:
    """Makes story seeds and perturbed re-wordings from real headlines."""

    def __init__(self, titles: list[str], rnd: random.Random) -> None:
        self.titles = titles
        self.vocab = sorted({w for t in titles for w in t.split() if w.isalpha()})
        self.rnd = rnd

    def name(self) -> str:
        """A made-up proper name, so synthetic stories are told apart as real ones are."""
        syllables = ["ka", "lo", "mir", "zen", "tar", "vo", "qui", "bra", "del", "nox",
                     "fen", "gar", "hul", "jis", "pem", "rud", "sol", "tiv", "wex", "yor"]
        return "".join(self.rnd.choice(syllables) for _ in range(4)).title()

    def seed(self) -> list[str]:
        words = self.rnd.choice(self.titles).split()
        for _ in range(min(3, len(words))):
            words[self.rnd.randrange(len(words))] = self.rnd.choice(self.vocab)
        words.insert(self.rnd.randrange(len(words) + 1), self.name())
        return words

    def reword(self, words: list[str]) -> str:
        out = list(words)
        for _ in range(2):
            if len(out) > 3 and self.rnd.random() < 0.5:
                del out[self.rnd.randrange(len(out))]
            out.insert(self.rnd.randrange(len(out) + 1), self.rnd.choice(self.vocab))
        return " ".join(out)


def stored_items(synth: Synth, count: int) -> tuple[list[StoryInput], list[list[str]]]:
    """`count` items in count/4 synthetic stories spread over SPAN, and the story seeds."""
    seeds = [synth.seed() for _ in range(max(1, count // ITEMS_PER_STORY))]
    items = []
    step = SPAN / count
    for n in range(count):
        words = seeds[synth.rnd.randrange(len(seeds))]
        items.append(StoryInput(
            id=f"s{n}", title=synth.reword(words), link=f"https://news.example/{n}",
            source=f"src{n % 50}", published=T0 + n * step,
        ))
    return items, seeds


def probes(synth: Synth, seeds: list[list[str]], count: int) -> list[StoryInput]:
    """Half follow-ups of stored stories, half unrelated real headlines, after SPAN."""
    start = T0 + SPAN
    out = []
    for n in range(count):
        title = (synth.reword(synth.rnd.choice(seeds)) if n % 2 == 0
                 else synth.rnd.choice(synth.titles))
        out.append(StoryInput(id=f"p{n}", title=title, link=f"https://probe.example/{n}",
                              source="probe", published=start + timedelta(seconds=n)))
    return out


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(titles: list[str], stored: int, probe_count: int) -> tuple[float, float, int]:
    """Fill an engine with `stored` items, then time the probes; returns (s/item, fill s, live)."""
    synth = Synth(titles, random.Random(stored))
    items, seeds = stored_items(synth, stored)
    engine = StoryEngine(DedupSettings())
    t0 = time.perf_counter()
    for it in items:
        engine.assign(it)
    fill = time.perf_counter() - t0
    batch = probes(Synth(titles, random.Random(7)), seeds, probe_count)
    # Median of per-chunk means: other processes on the machine add bursts of noise.
    chunk = max(1, probe_count // 10)
    means = []
    for start in range(0, probe_count, chunk):
        t0 = time.perf_counter()
        for it in batch[start : start + chunk]:
            engine.assign(it)
        means.append((time.perf_counter() - t0) / len(batch[start : start + chunk]))
    return statistics.median(means), fill, engine.live_stories


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV if DEFAULT_CSV.exists()
                        else FALLBACK_CSV)
    parser.add_argument("--probes", type=int, default=2000)
    parser.add_argument("--large", type=int, default=100_000, help="stored items, big run")
    args = parser.parse_args()
    titles = load_titles(args.csv)
    results = {}
    for stored in (1_000, args.large):
        per_item, fill, live = run(titles, stored, args.probes)
        results[stored] = per_item
        print(f"stored={stored:>7}  live stories={live:>6}  fill={fill:6.1f}s  "
              f"per-item={per_item * 1e3:.3f} ms  peak RSS={peak_rss_mib():.0f} MiB", flush=True)
    ratio = results[args.large] / results[1_000]
    print(f"ratio {args.large}/1000 = {ratio:.2f}x (target <= 2x); "
          f"peak memory at {args.large} (process RSS) = {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
