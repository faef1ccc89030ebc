"""Concurrent polling on a slow loopback server: far faster than one at a time, per-host
limits held, conditional GETs answered 304 on the next pass."""

from __future__ import annotations

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from bot.clock import SYSTEM_CLOCK, FakeClock
from bot.models import FeedSpec
from bot.poller import HostSlots, is_due
from bot.store.feeds import FeedState
from tests.conftest import write_config
from tests.service.helpers import build_app
from tests.support.feed_server import FeedServer
from tests.support.util import rss

LATENCY = 0.25
FEEDS = 40


class InFlight:
    """Counts requests being answered at once (a feed server behaviour that never answers)."""

    def __init__(self) -> None:
        self.now = self.peak = 0
        self.lock = threading.Lock()

    def enter(self, _handler: BaseHTTPRequestHandler) -> bool:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        threading.Event().wait(LATENCY)
        with self.lock:
            self.now -= 1
        return False  # go on to the normal answer


@pytest.mark.slow  # a subprocess or real waits
def test_many_slow_feeds_poll_concurrently_then_304(tmp_path: Path) -> None:
    with FeedServer() as server:
        counter = InFlight()
        feeds = []
        for i in range(FEEDS):
            url = server.serve(f"/f{i}.rss", rss([f"Story {i}"]),
                               behaviour=counter.enter)
            feeds.append({"name": f"f{i}", "url": url})
        config = write_config(tmp_path, feeds, fetch={"concurrency": 16, "per_host": 8})
        app = build_app(config, SYSTEM_CLOCK)
        try:
            started = SYSTEM_CLOCK.monotonic()
            reports = app.run_once()
            took = SYSTEM_CLOCK.monotonic() - started
            sequential = FEEDS * LATENCY  # 10 s one at a time
            assert len(reports) == FEEDS and all(r.error is None for r in reports)
            assert took < sequential / 2, f"{took:.1f}s vs {sequential:.0f}s sequential"
            assert 2 <= counter.peak <= 8  # one host: never more than per_host at once

            again = app.run_once()
            assert all(r.outcome.value == "not_modified" for r in again)
            assert sum(server.not_modified.values()) == FEEDS
        finally:
            app.close()


def test_host_slots_are_per_host() -> None:
    slots = HostSlots(1)
    with slots.hold("http://a.example/x"), slots.hold("http://b.example/y"):
        # a second slot on a.example would block: try it from another thread
        got = threading.Event()

        def other() -> None:
            with slots.hold("http://A.example/z"):
                got.set()

        t = threading.Thread(target=other)
        t.start()
        assert not got.wait(0.2)
    t.join(2)
    assert got.is_set()


def test_a_feed_is_due_within_its_jitter_but_not_while_backing_off() -> None:
    clock = FakeClock()
    feed = FeedSpec("f", "http://x/", timedelta(minutes=10), timedelta(days=1),
                    timedelta(seconds=30), "f")
    now = clock.now()
    assert is_due(feed, FeedState(), now)
    assert is_due(feed, FeedState(next_due=now + timedelta(seconds=20)), now)
    assert not is_due(feed, FeedState(next_due=now + timedelta(minutes=30), errors=2), now)
    assert not is_due(feed, FeedState(gone=True), now)


def test_feeds_take_hosts_in_turn() -> None:
    from datetime import timedelta

    from bot.config import FeedSpec
    from bot.poller import by_host_in_turn
    from bot.store.feeds import FeedState

    def feed(host: str, n: int) -> tuple[FeedSpec, FeedState]:
        return (FeedSpec(f"{host}{n}", f"https://{host}/{n}.rss", timedelta(minutes=5),
                         timedelta(days=1), timedelta(0), host), FeedState())

    todo = [feed("a", 1), feed("a", 2), feed("a", 3), feed("b", 1), feed("c", 1), feed("b", 2)]
    order = [f.name for f, _ in by_host_in_turn(todo)]
    assert order == ["a1", "b1", "c1", "a2", "b2", "a3"]
