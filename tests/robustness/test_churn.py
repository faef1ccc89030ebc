"""GUID churn and republish floods: a known feed rewriting its ids, dates or whole content
must not re-alert old stories; genuinely new items among old ones still alert."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.clock import SYSTEM_CLOCK, FakeClock
from bot.config import load_config
from bot.config.live import LiveConfig
from bot.feeds import HttpFetcher
from bot.pipeline import PollReport
from bot.slack.notifier import ConsoleNotifier
from bot.store import SqliteStore, outbox
from tests.conftest import write_config
from tests.support.feed_server import FeedServer
from tests.support.util import poll, rss

N = 12


def _items(n: int = N, start: int = 0, guid: str = "g", host: str = "news.example.com",
           date: str = "Wed, 28 Jan 2026 09:00:00 GMT", prefix: str = "") -> list[dict[str, str]]:
    return [{"title": f"{prefix}China approves H200 imports for buyer {i}",
             "link": f"https://{host}/2026/01/28/buyer-{i}?utm_source=rss",
             "guid": f"{guid}-{i}", "date": date} for i in range(start, start + n)]


@pytest.fixture
def app(tmp_path: Path, feed_server: FeedServer) -> Iterator[App]:
    url = feed_server.serve("/f.rss", rss(_items()))
    config = load_config(write_config(tmp_path, [{"name": "f", "url": url}],
                                      dedup={"enabled": False}))
    app = App(LiveConfig(config), SqliteStore.open(config.settings.state_path),
              HttpFetcher(SYSTEM_CLOCK),
              ConsoleNotifier(io.StringIO()))
    yield app
    app.close()


def _poll(app: App, server: FeedServer, items: list[dict[str, str]]) -> PollReport:
    server.serve("/f.rss", rss(items))
    report = poll(app, app.config.feeds[0], force=True)
    assert report is not None and report.error is None
    return report


def _queued(app: App) -> int:
    with app.db.lock:
        return sum(outbox.counts(app.db.conn).values())


def test_first_poll_of_a_feed_alerts_normally(app: App, feed_server: FeedServer) -> None:
    assert _poll(app, feed_server, _items()).alerts == N  # unknown feed: no churn guard


@pytest.mark.parametrize("rewrite", [
    {"guid": "migrated"},                                         # new GUIDs, same links
    {"date": "Thu, 29 Jan 2026 17:00:00 GMT"},                    # dates rewritten
    {"guid": "cms2", "date": "Fri, 30 Jan 2026 08:00:00 GMT"},    # both
    {"guid": "cms3", "host": "www.news.example.com"},             # new GUIDs and links
], ids=["guids", "dates", "guids+dates", "guids+links"])
def test_rewritten_ids_or_dates_do_not_realert(
    app: App, feed_server: FeedServer, rewrite: dict[str, str]
) -> None:
    _poll(app, feed_server, _items())
    before = _queued(app)
    report = _poll(app, feed_server, _items(**rewrite))
    assert report.new == 0 and report.alerts == 0
    assert _queued(app) == before


def test_whole_feed_turning_new_at_once_is_churn_not_a_flood(
    app: App, feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="chipwatch")
    _poll(app, feed_server, _items())
    before = _queued(app)
    moved = _items(guid="new", host="cdn.example.org", prefix="UPDATED: ")
    report = _poll(app, feed_server, moved)
    assert report.new == N and report.alerts == 0 and _queued(app) == before
    churn = [r.getMessage() for r in caplog.records if r.getMessage().startswith("feed_churn")]
    assert len(churn) == 1 and "feed=f " in churn[0]
    assert _poll(app, feed_server, moved).new == 0  # recorded as seen: quiet from now on


def test_new_items_among_old_ones_still_alert(app: App, feed_server: FeedServer) -> None:
    _poll(app, feed_server, _items())
    report = _poll(app, feed_server, _items(3, start=N) + _items())
    assert report.new == 3 and report.alerts == 3


def test_a_feed_fully_turned_over_while_the_bot_was_down_still_alerts(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    clock = FakeClock()
    url = feed_server.serve("/f.rss", rss(_items()))
    config = load_config(write_config(tmp_path, [{"name": "f", "url": url}],
                                      dedup={"enabled": False}))
    app = App(LiveConfig(config), SqliteStore.open(config.settings.state_path), HttpFetcher(clock),
              ConsoleNotifier(io.StringIO()), clock)
    try:
        assert _poll(app, feed_server, _items()).alerts == N
        clock.advance(timedelta(hours=5))  # down for hours: the feed moved on entirely
        assert _poll(app, feed_server, _items(start=N)).alerts == N
    finally:
        app.close()
