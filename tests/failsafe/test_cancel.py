"""A stop cancels fetches in flight (in-process): the fetch returns at once, the poll cycle
ends between batches, and a feed cut short is not recorded as failing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from bot.app import App
from bot.clock import SYSTEM_CLOCK
from bot.feeds.fetch import HttpFetcher, Validators
from bot.feeds.response import Outcome
from bot.models import FeedSpec
from tests.conftest import write_config
from tests.failsafe.test_stop import Stall
from tests.service.helpers import H200, build_app
from tests.support.feed_server import FeedServer
from tests.support.util import rss, wait_for


def _feed(url: str) -> FeedSpec:
    return FeedSpec("slow", url, timedelta(minutes=1), timedelta(days=1), timedelta(0), "slow")


def _once(ready: Callable[[], bool], act: Callable[[], None]) -> threading.Thread:
    """Call `act` from a thread as soon as `ready()` holds: the stop lands at the moment the
    test means (a fetch stalled in flight), however slow the machine is."""
    def run() -> None:
        if wait_for(ready, timeout=60, every=0.02):
            act()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_stop_cancels_a_stalled_fetch(feed_server: FeedServer) -> None:
    stall = Stall()
    url = feed_server.serve("/slow.rss", b"", behaviour=stall)
    stop = threading.Event()
    fetcher = HttpFetcher(SYSTEM_CLOCK, stop=stop)  # a 30 s total deadline
    try:
        _once(stall.arrived.is_set, stop.set)
        result = fetcher.fetch(_feed(url), Validators())
        answered = stall.release.is_set()
    finally:
        stall.release.set()
        fetcher.close()
    # The server never answered, so only the stop (not the deadline) can have ended it.
    assert not answered
    assert result.outcome is Outcome.ERROR and result.error == "cancelled: the bot is stopping"


def test_a_stop_ends_the_poll_cycle_and_records_no_failure(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    stall = Stall()
    fast = feed_server.serve("/fast.rss", rss([H200]))
    slow = feed_server.serve("/slow.rss", b"", behaviour=stall)
    config = write_config(tmp_path, [{"name": "fast", "url": fast},
                                     {"name": "slow", "url": slow}])
    built = build_app(config, SYSTEM_CLOCK)
    stop = threading.Event()  # wired as App.build does: one event stops all and cancels
    fetcher = HttpFetcher(SYSTEM_CLOCK, stop=stop)
    app = App(built.live, built.db, fetcher, built.notifier, SYSTEM_CLOCK, stop=stop)
    built.fetcher.close()  # type: ignore[attr-defined]
    deadline = fetcher.limits.total_timeout

    def fast_recorded() -> bool:
        return stall.arrived.is_set() and bool(
            app.db.read("SELECT 1 FROM feeds WHERE name = 'fast' AND last_success IS NOT NULL"))

    try:
        _once(fast_recorded, app.stop.set)  # the slow fetch is stalled, the fast one is in
        started = SYSTEM_CLOCK.monotonic()
        reports = app.poller.poll_all(app.config.feeds, force=True)
        took = SYSTEM_CLOCK.monotonic() - started
        rows = dict(app.db.read("SELECT name, errors FROM feeds"))
    finally:
        stall.release.set()
        app.close()
    assert took < deadline  # the cycle did not wait out the stalled fetch's deadline
    assert [r.feed for r in reports] == ["fast"]
    assert rows == {"fast": 0}  # the slow feed's turn was not spent, nor counted as an error
