"""Feed health notices end to end: fail → one notice, still failing → none, recover → one;
the same for a feed gone silent. Time moves on a fake clock; HTTP and Slack are loopback."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.clock import FakeClock
from tests.conftest import slack_env, write_config
from tests.service.helpers import build_app
from tests.support.fake_slack import FakeSlack
from tests.support.feed_server import FeedServer
from tests.support.util import Entry, poll, rss


def _ops(slack: FakeSlack) -> list[str]:
    return [str(m["text"]) for m in slack.state.top_level("#ops")]


def _poll(app: App, name: str) -> None:
    feed = next(f for f in app.config.feeds if f.name == name)
    poll(app, feed, force=True)
    app.sender.drain(max_wait=0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_failing_feed_gets_one_notice_and_one_recovery(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    url = feed_server.serve("/f.rss", rss([("Quiet news", None, clock.now())]))
    config = write_config(tmp_path, [{"name": "wire", "url": url}], ops_channel="#ops",
                          feed_health={"failing_after": "30m"})
    app = build_app(config, clock, slack_env(fake_slack))
    try:
        _poll(app, "wire")
        feed_server.paths["/f.rss"].status = 500
        for _ in range(3):  # failing since the first of these, 20 minutes by the last
            clock.advance(timedelta(minutes=10))
            _poll(app, "wire")
        assert _ops(fake_slack) == []
        clock.advance(timedelta(minutes=11))
        _poll(app, "wire")
        assert len(_ops(fake_slack)) == 1
        assert "wire is failing" in _ops(fake_slack)[0] and "HTTP 500" in _ops(fake_slack)[0]
        for _ in range(5):  # still failing: nothing more
            clock.advance(timedelta(minutes=20))
            _poll(app, "wire")
        assert len(_ops(fake_slack)) == 1

        feed_server.paths["/f.rss"].status = 200
        clock.advance(timedelta(minutes=5))
        _poll(app, "wire")
        assert len(_ops(fake_slack)) == 2 and "wire recovered" in _ops(fake_slack)[1]
        clock.advance(timedelta(minutes=5))
        _poll(app, "wire")
        assert len(_ops(fake_slack)) == 2
    finally:
        app.close()

    # The open/closed state survives a restart: a new app on the same file stays quiet.
    again = build_app(config, clock, slack_env(fake_slack))
    try:
        _poll(again, "wire")
        assert len(_ops(fake_slack)) == 2
    finally:
        again.close()


def test_silent_feed_is_noticed_against_its_own_cadence(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    start = clock.now()
    hourly: list[Entry] = [(f"Hourly bulletin {i}", None, start - timedelta(hours=i))
                          for i in range(12)]
    url = feed_server.serve("/hourly.rss", rss(hourly))
    config = write_config(tmp_path, [{"name": "hourly", "url": url}], ops_channel="#ops",
                          feed_health={"silent_factor": 4, "silent_min": "2h"})
    app = build_app(config, clock, slack_env(fake_slack))
    try:
        _poll(app, "hourly")
        for _ in range(3):  # quiet for 3h: more than silent_min, less than 4 times 1h
            clock.advance(timedelta(hours=1))
            _poll(app, "hourly")
        assert _ops(fake_slack) == []
        clock.advance(timedelta(hours=1, minutes=1))
        _poll(app, "hourly")
        assert len(_ops(fake_slack)) == 1
        assert "hourly is silent" in _ops(fake_slack)[0] and "usually every 60m" in _ops(
            fake_slack)[0]
        for _ in range(4):
            clock.advance(timedelta(hours=2))
            _poll(app, "hourly")
        assert len(_ops(fake_slack)) == 1

        back: Entry = ("Hourly bulletin back", None, clock.now())
        feed_server.serve("/hourly.rss", rss([back, *hourly]))
        clock.advance(timedelta(minutes=1))
        _poll(app, "hourly")
        assert len(_ops(fake_slack)) == 2 and "hourly recovered" in _ops(fake_slack)[1]
    finally:
        app.close()


def test_without_an_ops_channel_notices_are_only_logged(
    tmp_path: Path, feed_server: FeedServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    url = feed_server.serve("/down.rss", b"x", status=502)
    config = write_config(tmp_path, [{"name": "down", "url": url}],
                          feed_health={"failing_after": "1m"})
    app = build_app(config, clock)
    try:
        _poll(app, "down")
        clock.advance(120)
        _poll(app, "down")
        with app.db.lock:
            rows = app.db.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        assert rows == 0
        assert [r for r in caplog.records if r.getMessage().startswith("feed_failing feed=down")]
    finally:
        app.close()
