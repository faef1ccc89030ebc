"""The HTTP fetcher against a loopback server: conditional GET, limits, failures as results."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import SYSTEM_CLOCK
from bot.config import FeedSpec
from bot.feeds import FetchLimits, HttpFetcher, Outcome, Validators
from tests.conftest import FEEDS
from tests.support.feed_server import FeedServer


@pytest.fixture
def fetchers() -> Iterator[list[HttpFetcher]]:
    """Fetchers made by a test, closed after it (their pools hold sockets)."""
    made: list[HttpFetcher] = []
    yield made
    for f in made:
        f.close()


def _keep(made: list[HttpFetcher], fetcher: HttpFetcher) -> HttpFetcher:
    made.append(fetcher)
    return fetcher


def _feed(url: str) -> FeedSpec:
    return FeedSpec("f", url, timedelta(minutes=5), timedelta(days=1), timedelta(0), "F")


def test_conditional_get_and_user_agent(
    feed_server: FeedServer, fetchers: list[HttpFetcher]
) -> None:
    url = feed_server.serve("/g.rss", (FEEDS / "guardian.rss").read_bytes())
    fetcher = _keep(fetchers, HttpFetcher(SYSTEM_CLOCK))
    first = fetcher.fetch(_feed(url), Validators())
    assert first.outcome is Outcome.OK and first.body.startswith(b"<?xml")
    assert first.validators.etag
    second = fetcher.fetch(_feed(url), first.validators)
    assert second.outcome is Outcome.NOT_MODIFIED and second.body == b""
    assert feed_server.not_modified["/g.rss"] == 1
    assert all(ua.startswith("chipwatch/") for ua in feed_server.user_agents)


def test_gzip_is_decoded_and_the_cap_counts_decoded_bytes(
    feed_server: FeedServer, fetchers: list[HttpFetcher]
) -> None:
    raw = (FEEDS / "guardian.rss").read_bytes()
    url = feed_server.serve("/z.rss", gzip.compress(raw), headers={"Content-Encoding": "gzip"})
    assert _keep(fetchers, HttpFetcher(SYSTEM_CLOCK)).fetch(_feed(url), Validators()).body == raw
    small = HttpFetcher(SYSTEM_CLOCK, FetchLimits(max_bytes=len(raw) - 1))
    capped = small.fetch(_feed(url), Validators())
    assert capped.outcome is Outcome.ERROR and "over" in (capped.error or "")


def test_failures_come_back_as_results(
    feed_server: FeedServer, fetchers: list[HttpFetcher]
) -> None:
    limits = FetchLimits(connect_timeout=2, total_timeout=5)
    fetcher = _keep(fetchers, HttpFetcher(SYSTEM_CLOCK, limits))
    missing = fetcher.fetch(_feed(feed_server.url("/nope")), Validators())
    assert missing.outcome is Outcome.ERROR and missing.error == "HTTP 404"
    gone = feed_server.serve("/gone", b"", status=410)
    assert fetcher.fetch(_feed(gone), Validators()).outcome is Outcome.GONE
    busy = feed_server.serve("/busy", b"", status=429, headers={"Retry-After": "120"})
    limited = fetcher.fetch(_feed(busy), Validators())
    assert limited.outcome is Outcome.RATE_LIMITED and limited.retry_after == 120
    refused = fetcher.fetch(_feed("http://127.0.0.1:9/feed"), Validators())
    assert refused.outcome is Outcome.ERROR and refused.error


def test_file_urls_are_feeds_too(tmp_path: Path, fetchers: list[HttpFetcher]) -> None:
    path = tmp_path / "f.rss"
    path.write_bytes((FEEDS / "heise.atom").read_bytes())
    fetcher = _keep(fetchers, HttpFetcher(SYSTEM_CLOCK))
    first = fetcher.fetch(_feed(path.as_uri()), Validators())
    assert first.outcome is Outcome.OK and first.validators.last_modified
    assert fetcher.fetch(_feed(path.as_uri()), first.validators).outcome is Outcome.NOT_MODIFIED
    gone = fetcher.fetch(_feed((tmp_path / "missing.rss").as_uri()), Validators())
    assert gone.outcome is Outcome.ERROR and "cannot read" in (gone.error or "")
