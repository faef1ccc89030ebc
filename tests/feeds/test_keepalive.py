"""Connections are kept between fetches of one origin (issue 9, defect 4): a 304 used to
close its connection (its empty body was never read), so every feed of a host paid for a
new connection on every poll — a TLS handshake each on the internet."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from bot.clock import SYSTEM_CLOCK
from bot.config import FeedSpec
from bot.feeds import HttpFetcher, Outcome, Validators
from tests.support.feed_server import FeedServer

BODY = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>a</title><guid>a</guid></item></channel></rss>")


def _feed(name: str, url: str) -> FeedSpec:
    return FeedSpec(name, url, timedelta(minutes=5), timedelta(days=1), timedelta(0), name)


def _count_connections(server: FeedServer) -> list[int]:
    """A counter of accepted connections (each is handed to `process_request` once)."""
    count = [0]
    accept = server.server.process_request
    lock = threading.Lock()

    def counted(request: Any, address: Any) -> None:
        with lock:
            count[0] += 1
        accept(request, address)

    server.server.process_request = counted  # type: ignore[method-assign]
    return count


def test_304s_and_errors_keep_the_connection(feed_server: FeedServer) -> None:
    connections = _count_connections(feed_server)
    feeds = [_feed(f"f{i}", feed_server.serve(f"/f{i}.xml", BODY)) for i in range(5)]
    missing = _feed("gone", feed_server.url("/missing.xml"))
    fetcher = HttpFetcher(SYSTEM_CLOCK)
    try:
        first = [fetcher.fetch(f, Validators()) for f in feeds]
        assert [r.outcome for r in first] == [Outcome.OK] * 5
        for _ in range(3):
            again = [fetcher.fetch(f, r.validators) for f, r in zip(feeds, first, strict=True)]
            assert [r.outcome for r in again] == [Outcome.NOT_MODIFIED] * 5
            assert fetcher.fetch(missing, Validators()).status == 404
    finally:
        fetcher.close()
    assert sum(feed_server.requests.values()) == 5 + 3 * 6
    assert connections[0] == 1  # one after another: one connection does it all


def test_idle_origins_beyond_the_cap_are_closed() -> None:
    servers = [FeedServer() for _ in range(4)]
    for s in servers:
        s.__enter__()
    try:
        counts = [_count_connections(s) for s in servers]
        feeds = [_feed(f"f{i}", s.serve("/f.xml", BODY)) for i, s in enumerate(servers)]
        fetcher = HttpFetcher(SYSTEM_CLOCK, max_origins=2)
        try:
            for _ in range(2):
                assert all(fetcher.fetch(f, Validators()).outcome is Outcome.OK for f in feeds)
            assert len(fetcher._origins) == 2  # the two most recently used
        finally:
            fetcher.close()
        # round-robin over four origins with room for two: each reconnects every time
        assert [c[0] for c in counts] == [2, 2, 2, 2]
    finally:
        for s in servers:
            s.__exit__(None, None, None)
