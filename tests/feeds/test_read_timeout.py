"""A server that takes the request and sends nothing fails at the read timeout (the connect
timeout, at least 5 s), well before the total deadline, and the error says which setting."""

from __future__ import annotations

import socket
from datetime import timedelta

from bot.clock import SYSTEM_CLOCK
from bot.config import FeedSpec
from bot.feeds import FetchLimits, HttpFetcher, Outcome, Validators


def test_a_silent_server_fails_at_the_read_timeout_and_names_it() -> None:
    # Listening without accepting: the kernel completes the connection and takes the
    # request; no answer ever comes.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        limits = FetchLimits(connect_timeout=1, total_timeout=30)
        assert limits.read_timeout == 5.0
        fetcher = HttpFetcher(SYSTEM_CLOCK, limits)
        try:
            feed = FeedSpec("silent", f"http://127.0.0.1:{port}/f.rss", timedelta(minutes=5),
                            timedelta(days=1), timedelta(0), "S")
            result = fetcher.fetch(feed, Validators())
        finally:
            fetcher.close()
    assert result.outcome is Outcome.ERROR
    assert result.error == "no data for 5s (read timeout: fetch.connect_timeout, at least 5s)"


def test_read_timeout_follows_the_connect_timeout_within_the_deadline() -> None:
    assert FetchLimits().read_timeout == 10.0  # the defaults: 10 s connect, 30 s total
    assert FetchLimits(connect_timeout=20, total_timeout=15).read_timeout == 15.0
