"""(c) Latency from an item appearing on the feed server to its post reaching the fake Slack.

`chipwatch run` (on schedule) polls every feed (10 items each, 50 ms server latency) each
`interval` seconds; distinct headlines matching the bundled rules are added to random feeds
2-5 s apart, and a watcher records when each one's first post reaches the fake Slack
(bench/slackstub.py, driven by the real slack_sdk client). The interval is scaled down from
60 s to keep the bench short; the figure that does not scale with it is `p95 -
interval`.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from bench.harness import PYTHON, ROOT, env, start_server, write_config
from bench.slackstub import TOKEN, SlackStub

TEMPLATES = (
    "China approves imports of Nvidia H200 chips for {co}",
    "US adds {co} and other Chinese chipmakers to the entity list",
    "Customs in {city} seize smuggled Nvidia GPUs bound for {co}",
    "Commerce Department tightens export controls on ASML lithography tools to {co}",
    "Beijing bans Micron memory chips from {co} data centres",
    "Netherlands revokes export licences for chipmaking machines sold to {co}",
    "Japan restricts exports of photoresist to {co} amid chip curbs",
    "South Korea probes smuggling of HBM chips to {co} via {city}",
)
CITIES = ("Shenzhen", "Singapore", "Hong Kong", "Kuala Lumpur", "Dubai", "Taipei", "Xiamen")


def headline(rng: random.Random, n: int) -> str:
    """A distinct alerting headline (mostly a new story each) carrying a unique token; the
    made-up company name keeps story dedup from folding them all into one thread."""
    co = "".join(rng.choice("BCDFGHKLMNPRSTVZ") + rng.choice("aeiou") for _ in range(3))
    text = TEMPLATES[n % len(TEMPLATES)].format(co=co.capitalize() + " Tech",
                                                city=rng.choice(CITIES))
    return f"{text}, ref Q{n}X"


def _watch(slack: SlackStub, seen: dict[str, float], stop: threading.Event) -> None:
    """Record when a post carrying each `ref Q<n>X` token first arrives."""
    done = 0
    while not stop.wait(0.02):
        with slack.lock:
            calls = slack.calls[done:]
            done += len(calls)
        for method, args, at in calls:
            text = str(args.get("text") or "")
            if method == "chat.postMessage" and " ref Q" in text:
                token = text.split(" ref Q", 1)[1].split("X", 1)[0]
                seen.setdefault(token, at)


def measure(interval: float, count: int, feeds: int, seed: int = 6) -> None:
    server = start_server(feeds, 10, 0.05)
    rng = random.Random(seed)
    with SlackStub() as slack, tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), server.urls, defaults={
            "interval": f"{interval:g}s", "max_age": "1d", "jitter": f"{interval / 20:g}s"},
            slack={"per_channel_interval": "1s"})
        log = Path(tmp) / "bot.log"  # a file, not a pipe: a full pipe would stall the bot
        with log.open("w") as err_file:
            proc = subprocess.Popen(
                [PYTHON, "-m", "bot", "--log-level", os.environ.get("BENCH_LOG", "warning"),
                 "--log-format", "json", "run", "--config", str(config)],
                env=env({"SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": slack.base_url}),
                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err_file, text=True)
        seen: dict[str, float] = {}
        stop = threading.Event()
        watcher = threading.Thread(target=_watch, args=(slack, seen, stop), daemon=True)
        watcher.start()
        added: dict[str, float] = {}
        try:
            while server.call("/stats", "GET")["requests"] < 2 * feeds:  # first cycle done
                time.sleep(0.5)
            for n in range(count):
                time.sleep(rng.uniform(2.0, 5.0))
                title = headline(rng, n)
                feed = rng.randrange(feeds)
                added[str(n)] = server.call(f"/add?feed={feed}&title={title.replace(' ', '+')}"
                                            .replace(",", "%2C"))["at"]
            end = time.time() + interval * 1.5 + 10
            while len(seen) < count and time.time() < end:
                time.sleep(0.2)
        finally:
            stop.set()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
            server.stop()
            err = log.read_text()
            if os.environ.get("BENCH_KEEP_LOG"):
                Path(os.environ["BENCH_KEEP_LOG"]).write_text(err)
    lat = sorted(seen[k] - added[k] for k in added if k in seen)
    missing = count - len(lat)
    if len(lat) < 2:
        raise SystemExit(f"too few posts arrived ({len(lat)}/{count}):\n{err[-3000:]}")
    p50 = statistics.median(lat)
    p95 = statistics.quantiles(lat, n=20, method="inclusive")[18]
    print(f"\n(c) latency, item on the server -> post on the fake Slack, {feeds} feeds polled "
          f"every {interval:g} s (scaled down from 60 s; jitter {interval / 20:g} s), "
          f"{len(lat)}/{count} items")
    print(f"  p50 {p50:5.2f} s   p95 {p95:5.2f} s   max {lat[-1]:5.2f} s"
          f"   ({missing} never arrived)")
    print(f"  p95 / interval = {p95 / interval:.2f}   p95 - interval = {p95 - interval:+.2f} s"
          f"   (target p95 <= interval + 2 s: {'met' if p95 <= interval + 2 else 'NOT met'})")
