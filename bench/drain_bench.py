"""Drain benchmark: a backlog of 200 alerts across 4 channels, paced per channel.

Slack allows about one message per second per channel, so 50 alerts per channel cannot go
out faster than 50 s however the sender works: that is the ideal. The sender's pacing is a
per-channel schedule, so its interval can be scaled down (default 0.05 s: ideal 2.5 s) to
measure the ratio to the ideal in seconds rather than a minute; `--interval 1` runs it for
real. The real sender (SQLite outbox in a temp dir, slack_sdk WebClient) posts to the fake
Slack on loopback; `--faults` adds 429s (Retry-After 1) and 503s on the way.

    python bench/drain_bench.py [--alerts 200] [--channels 4] [--interval 0.05] [--faults]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.slackstub import TOKEN, Failure, SlackStub
from bot.clock import SYSTEM_CLOCK
from bot.deliver import Sender
from bot.slack.blocks import Message
from bot.slack.notifier import SlackNotifier
from bot.store import SqliteStore, outbox


def run(alerts: int, channels: int, interval: float, faults: bool) -> dict[str, float]:
    """Fill an outbox, drain it, and return the figures."""
    names = [f"#bench-{c}" for c in range(channels)]
    with tempfile.TemporaryDirectory() as tmp, SlackStub() as slack:
        db = SqliteStore.open(Path(tmp) / "bench.db")
        with db.tx() as conn:
            for i in range(alerts):
                ch = names[i % channels]
                block = {"type": "section", "text": {"type": "plain_text", "text": f"a{i}"}}
                outbox.enqueue(conn, f"alert|{i}|{ch}", ch, "alert",
                               Message(f"alert {i}", [block]), SYSTEM_CLOCK.now(), str(i))
        if faults:
            for ch in names:
                slack.failures.append(Failure(status=429, retry_after=1, channel=ch))
                slack.failures.append(Failure(status=503, error="service_unavailable",
                                              channel=ch))
        sender = Sender(db, SlackNotifier(TOKEN, slack.base_url), SYSTEM_CLOCK, interval)
        started = SYSTEM_CLOCK.monotonic()
        sent = 0
        while sent < alerts:
            report = sender.drain(max_wait=30)
            sent += report.sent
            if not report.sent and not report.failed:
                break
        took = SYSTEM_CLOCK.monotonic() - started
        in_order = all(
            [m["text"] for m in slack.top_level(ch)]
            == [f"alert {i}" for i in range(alerts) if names[i % channels] == ch]
            for ch in names)
        posts = sum(len(v) for v in slack.messages.values())
        db.close()
    per_channel = -(-alerts // channels)
    ideal = per_channel * interval
    return {"sent": sent, "posts": posts, "seconds": took, "ideal": ideal,
            "ratio": took / ideal if ideal else float("nan"), "in_order": float(in_order)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--alerts", type=int, default=200)
    p.add_argument("--channels", type=int, default=4)
    p.add_argument("--interval", type=float, default=0.05,
                   help="per-channel interval in seconds (Slack: 1.0)")
    p.add_argument("--faults", action="store_true", help="inject 429s and 503s")
    a = p.parse_args()
    r = run(a.alerts, a.channels, a.interval, a.faults)
    # The ratio carries over to Slack's 1 s only without faults (their waits are not scaled).
    scale = 1.0 / a.interval if a.interval else 0.0
    print(f"drained {r['sent']:.0f}/{a.alerts} alerts ({r['posts']:.0f} posts) across "
          f"{a.channels} channels at {a.interval:g} s/channel in {r['seconds']:.2f} s; "
          f"ideal {r['ideal']:.2f} s; ratio {r['ratio']:.2f}"
          + (f"; at Slack's 1/s that is {r['ratio'] * 50:.1f} s vs the ideal 50 s"
             if a.alerts == 200 and a.channels == 4 and scale and not a.faults else "")
          + f"; per-channel order kept: {bool(r['in_order'])}")


if __name__ == "__main__":
    main()
