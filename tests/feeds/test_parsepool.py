"""Parsing in worker processes gives exactly what parsing in-process gives."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import FeedSpec
from bot.feeds.fetch import FetchResult
from bot.feeds.parsepool import ParsePool, parse_body
from bot.feeds.response import Outcome
from tests.conftest import FEEDS, run_cli, slack_env, write_config
from tests.support.fake_slack import FakeSlack
from tests.support.feed_server import FeedServer

NOW = datetime(2026, 1, 28, 12, 0, tzinfo=UTC)


def _result(name: str, body: bytes) -> FetchResult:
    feed = FeedSpec(name, f"https://example.com/{name}", timedelta(minutes=5), timedelta(days=1),
                    timedelta(0), name.upper())
    return FetchResult(feed, Outcome.OK, NOW, 200, body)


def test_worker_parse_equals_inline_parse() -> None:
    pool = ParsePool(1)
    try:
        pool.warm()
        deadline = time.monotonic() + 60
        res = _result("g", (FEEDS / "guardian.rss").read_bytes())
        job = None
        while job is None and time.monotonic() < deadline:  # workers take a moment to boot
            job = pool.submit(res)
            time.sleep(0.05)
        assert job is not None
        got = pool.result(job, res)
        assert got == parse_body("g", "G", res.body, None, NOW) and len(got.items) == 55
        broken = pool.result(None, _result("x", b"<html>no feed</html>"))
        assert broken.items == [] and broken.problem
    finally:
        pool.close()


@pytest.mark.slow  # a subprocess or real waits
def test_run_once_with_parse_workers_alerts_the_same(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack
) -> None:
    feeds = [{"name": n, "url": feed_server.serve(f"/{n}.rss", (FEEDS / f"{n}.rss").read_bytes())}
             for n in ("chip-news", "guardian", "reddit")]
    config = write_config(tmp_path, feeds, fetch={"parse_workers": 1})
    done = run_cli("run", "--once", "--config", str(config), env=slack_env(fake_slack))
    assert done.returncode == 0, done.stderr
    assert len(fake_slack.state.top_level("#chip-alerts")) == 2
    assert len(fake_slack.state.top_level("#policy")) == 1
