"""A loopback feed server for the benchmarks: many feeds across many ports, fixed latency.

Run as a subprocess (`python bench/feedserver.py --feeds 1000 ...`) so that its CPU does not
compete with the process being timed. It prints one JSON line on start-up (feed URLs and the
control URL), then serves until killed. Each port stands for one publisher ("host"), so
per-host limits in the poller apply as they would on the internet.

Feeds are RSS 2.0 with `--items` entries, an ETag per version, 304 on `If-None-Match`, and
keep-alive (HTTP/1.1). The control endpoint (on its own port, no latency):
    POST /change?fraction=F&seed=S   add one new item to a seeded F of the feeds
         ...&alerting=K              instead add K new chip-trade items (the bundled rules
                                     alert on them) to each of those feeds
    POST /add?feed=I&title=T         add one new item with this title to feed I
    GET  /stats                      requests, 200s and 304s since the last reset
    POST /reset                      zero the counters
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import parse_qs, urlsplit

WORDS = [
    "market", "shares", "trade", "talks", "minister", "energy", "grid", "weather", "storm",
    "football", "league", "election", "vote", "budget", "housing", "rates", "bank",
    "inflation", "court", "ruling", "festival", "film", "museum", "airline", "airport",
    "rail", "strike", "union", "climate", "summit", "ocean", "forest", "health", "hospital",
    "vaccine", "school", "teachers", "students", "software", "startup", "funding", "city",
    "council", "harbour", "port", "shipping", "freight", "retail", "sales", "quarter",
    "profit", "outlook",
]
T0 = datetime(2026, 1, 28, 8, 0, tzinfo=UTC)
# Chip-trade headlines that the bundled rules alert on (bench/poll_bench.py checks that they
# did): actor, action, object, destination.
ACTORS = ["US", "Washington", "Commerce Department", "Japan", "Netherlands", "South Korea",
          "Beijing", "China", "EU", "Taiwan", "Britain", "India"]
ACTIONS = ["tightens export controls on", "restricts exports of", "bans exports of",
           "imposes tariffs on imports of", "approves imports of", "curbs shipments of",
           "adds export licence requirement for", "blocks sales of"]
OBJECTS = ["Nvidia H20 AI chips", "advanced chipmaking equipment", "AMD MI308 accelerators",
           "high-bandwidth memory chips", "ASML lithography machines", "SMIC chips",
           "Huawei Ascend 910 processors", "Micron memory chips", "semiconductor tools"]
DESTINATIONS = ["to China", "to Russia", "to Chinese buyers", "to Iran", "to Huawei"]


def _title(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(9)).capitalize()


def _chip_title(rng: random.Random) -> str:
    """A chip-trade development; the made-up company keeps story dedup from folding every
    one of them into a single thread."""
    co = "".join(rng.choice("BCDFGHKLMNPRSTVZ") + rng.choice("aeiou") for _ in range(3))
    parts = " ".join(rng.choice(part) for part in (ACTORS, ACTIONS, OBJECTS, DESTINATIONS))
    return f"{parts} in blow to {co.capitalize()} Tech"


@dataclass
class Feed:
    """One feed's items (newest first) and its rendered document."""

    index: int
    items: list[tuple[str, str, str, datetime]] = field(default_factory=list)
    body: bytes = b""
    etag: str = ""
    serial: int = 0

    def add(self, title: str, summary: str, when: datetime, keep: int) -> None:
        self.serial += 1
        guid = f"urn:bench:{self.index}:{self.serial}"
        self.items.insert(0, (guid, title, summary, when))
        del self.items[keep:]
        self.render()

    def render(self) -> None:
        parts = [f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
                 f"<title>Bench feed {self.index}</title><link>https://pub{self.index}.example/"
                 f"</link><description>bench</description>"]
        for guid, title, summary, when in self.items:
            parts.append(
                f"<item><title>{title}</title><link>https://pub{self.index}.example/"
                f"{guid.rsplit(':', 1)[-1]}</link><guid isPermaLink=\"false\">{guid}</guid>"
                f"<pubDate>{format_datetime(when, usegmt=True)}</pubDate>"
                f"<description>{summary}</description></item>")
        parts.append("</channel></rss>\n")
        self.body = "".join(parts).encode()
        self.etag = '"' + hashlib.sha1(self.body).hexdigest()[:16] + '"'


class Bench:
    """The server's state: feeds, counters, latency."""

    def __init__(self, feeds: int, items: int, latency: float) -> None:
        self.latency = latency
        self.keep = items
        self.feeds = []
        for i in range(feeds):
            rng = random.Random(i)
            feed = Feed(i)
            for j in range(items):
                when = T0 - timedelta(minutes=30 * (items - j))
                feed.add(_title(rng), " ".join(rng.choice(WORDS) for _ in range(40)), when,
                         items)
            self.feeds.append(feed)
        self.counts = {"requests": 0, "ok": 0, "not_modified": 0}
        self.added: dict[str, float] = {}  # title -> wall time it appeared (latency bench)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     control: bool) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip()
                           for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                length = int(headers.get("content-length") or 0)
                if length:
                    await reader.readexactly(length)
                if control:
                    status, body, extra = self.control(method, target)
                else:
                    await asyncio.sleep(self.latency)
                    status, body, extra = self.serve(target, headers)
                out = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", *extra, "", ""]
                writer.write("\r\n".join(out).encode() + body)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    def serve(self, target: str, headers: dict[str, str]) -> tuple[int, bytes, list[str]]:
        self.counts["requests"] += 1
        try:
            feed = self.feeds[int(target.strip("/").split("/")[-1].split(".")[0])]
        except (ValueError, IndexError):
            return 404, b"not found", []
        if headers.get("if-none-match") == feed.etag:
            self.counts["not_modified"] += 1
            return 304, b"", [f"ETag: {feed.etag}"]
        self.counts["ok"] += 1
        return 200, feed.body, [f"ETag: {feed.etag}",
                                "Content-Type: application/rss+xml; charset=utf-8"]

    def control(self, method: str, target: str) -> tuple[int, bytes, list[str]]:
        url = urlsplit(target)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        now = datetime.now(UTC)  # bench tooling, not bot code: the bot's clock rule is moot
        if url.path == "/change":
            rng = random.Random(int(q.get("seed", "1")))
            picked = rng.sample(range(len(self.feeds)),
                                round(len(self.feeds) * float(q["fraction"])))
            alerting = int(q.get("alerting", "0"))
            for i in picked:
                if not alerting:
                    self.feeds[i].add(_title(rng) + f" update {i}",
                                      " ".join(rng.choice(WORDS) for _ in range(40)), now,
                                      self.keep)
                for _ in range(alerting):
                    title = _chip_title(rng)
                    self.feeds[i].add(title, f"{title}, officials said. " + " ".join(
                        rng.choice(WORDS) for _ in range(30)), now, self.keep)
            return 200, json.dumps(picked).encode(), []
        if url.path == "/add":
            self.feeds[int(q["feed"])].add(q["title"], q["title"], now, self.keep)
            self.added[q["title"]] = time.time()
            return 200, json.dumps({"at": self.added[q["title"]]}).encode(), []
        if url.path == "/stats":
            return 200, json.dumps(self.counts).encode(), []
        if url.path == "/reset":
            self.counts = dict.fromkeys(self.counts, 0)
            return 200, b"{}", []
        return 404, b"", []


async def main(args: argparse.Namespace) -> None:
    bench = Bench(args.feeds, args.items, args.latency)
    servers = []
    ports = []
    for _ in range(args.hosts):
        srv = await asyncio.start_server(lambda r, w: bench.handle(r, w, False), "127.0.0.1", 0,
                                         backlog=512)
        servers.append(srv)
        ports.append(srv.sockets[0].getsockname()[1])
    ctl = await asyncio.start_server(lambda r, w: bench.handle(r, w, True), "127.0.0.1", 0)
    urls = [f"http://127.0.0.1:{ports[i % len(ports)]}/feed/{i}.rss" for i in range(args.feeds)]
    print(json.dumps({"urls": urls, "control": f"http://127.0.0.1:"
                      f"{ctl.sockets[0].getsockname()[1]}"}), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--feeds", type=int, default=1000)
    p.add_argument("--items", type=int, default=50)
    p.add_argument("--latency", type=float, default=0.05)
    p.add_argument("--hosts", type=int, default=100, help="ports, one per publisher")
    try:
        asyncio.run(main(p.parse_args()))
    except KeyboardInterrupt:
        sys.exit(0)
