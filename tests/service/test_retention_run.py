"""Retention as the bot runs it: after each `run --once` (cron) and in the scheduled loop;
and an item a feed still serves after its row is gone does not alert again (it is older
than the feed's max_age by then, since `state.keep` is at least every max_age)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import SYSTEM_CLOCK, FakeClock
from bot.models import Item
from bot.runtime.loop import Follower
from bot.store import items as item_store
from bot.store import open_store
from tests.conftest import run_cli, slack_env, write_config
from tests.service.helpers import H200, build_app
from tests.support.fake_slack import FakeSlack
from tests.support.feed_server import FeedServer
from tests.support.util import rss, wait_for

START = datetime(2026, 1, 28, 12, 0, tzinfo=UTC)
RETAIN = {"defaults": {"interval": "1m", "max_age": "1d", "jitter": "0s"}}


def _config(tmp_path: Path, feeds: list[dict[str, str]], slack_url: str | None = None) -> Path:
    state = {"path": str(tmp_path / "state" / "chipwatch.db"), "keep": "90d"}
    return write_config(tmp_path, feeds, slack_url, state=state, **RETAIN)


def _old_rows(path: Path, days: int, n: int = 50) -> None:
    """Items first seen `days` ago (as a bot that ran back then would have left them)."""
    db = open_store(None, path)
    when = SYSTEM_CLOCK.now() - timedelta(days=days)
    try:
        with db.tx() as conn:
            for i in range(n):
                item = Item(f"old-{i}", f"feed-{i % 2}", f"Old {i}", f"https://o.example/{i}",
                            "s", when, when, "O")
                item_store.insert(conn, item, None, "old", None)
    finally:
        db.close()


def _count(path: Path, where: str = "1 = 1") -> int:
    db = open_store(None, path)
    try:
        return int(db.read(f"SELECT COUNT(*) FROM items WHERE {where}")[0][0])
    finally:
        db.close()


def test_an_item_served_after_its_row_is_gone_does_not_alert_again(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack
) -> None:
    clock = FakeClock(START)
    entry = {"title": H200, "link": "https://a.example/h200", "guid": "h200",
             "date": "Wed, 28 Jan 2026 11:00:00 GMT"}
    url = feed_server.serve("/wire.rss", rss([entry]))
    config = _config(tmp_path, [{"name": "wire", "url": url}], fake_slack.base_url)
    app = build_app(config, clock, slack_env(fake_slack))
    try:
        app.run_once()
        assert len(fake_slack.state.top_level("#chip-alerts")) == 1
        clock.advance(timedelta(days=100))  # past state.keep (90d)
        app.run_once()  # the same document (304); retention forgets the item and its story
        assert app.db.read("SELECT COUNT(*) FROM items")[0][0] == 0
        assert app.db.read("SELECT COUNT(*) FROM story_stories")[0][0] == 0
        # The feed still serves it, now beside a new entry: the item is seen afresh, 100 days
        # after it was published, past max_age (1d): recorded, never alerted.
        feed_server.serve("/wire.rss", rss([entry, "Quarterly results of some company"]))
        clock.advance(timedelta(hours=1))
        app.run_once()
        assert [tuple(r) for r in app.db.read("SELECT status FROM items WHERE title = ?",
                                                  (H200,))] == [("old",)]
    finally:
        app.close()
    assert len(fake_slack.state.top_level("#chip-alerts")) == 1
    assert all(m.get("thread_ts") is None for m in fake_slack.state.messages.get(
        fake_slack.state.channel_id("#chip-alerts"), []))


def test_run_once_forgets_old_rows_and_status_says_when(tmp_path: Path,
                                                        feed_server: FeedServer) -> None:
    url = feed_server.serve("/wire.rss", rss(["Quarterly results of some company"]))
    config = _config(tmp_path, [{"name": "wire", "url": url}])
    state = tmp_path / "state" / "chipwatch.db"
    _old_rows(state, days=120)
    ran = run_cli("run", "--once", "--config", str(config))
    assert ran.returncode == 0, ran.stderr
    assert "retention_done" in ran.stderr and "removed=50" in ran.stderr, ran.stderr
    assert _count(state) == 1  # the one item the feed serves now
    shown = run_cli("status", "--config", str(config))
    assert "keep 90d; retention ran" in shown.stdout and "(removed 50)" in shown.stdout, \
        shown.stdout


@pytest.mark.slow  # the leader's real duties: scheduler, processor, sender
def test_the_scheduled_loop_runs_retention(tmp_path: Path, feed_server: FeedServer) -> None:
    url = feed_server.serve("/wire.rss", rss(["Quarterly results of some company"]))
    config = _config(tmp_path, [{"name": "wire", "url": url}])
    state = tmp_path / "state" / "chipwatch.db"
    _old_rows(state, days=120)
    app = build_app(config, SYSTEM_CLOCK)
    follower = Follower(app)
    try:
        follower.step()  # leads: the scheduler starts its jobs, retention among them
        assert wait_for(lambda: app.db.read(
            "SELECT COUNT(*) FROM items WHERE id LIKE 'old-%'")[0][0] == 0)
        assert wait_for(lambda: bool(app.db.read("SELECT ran FROM retention")))
    finally:
        follower.close()
        app.close()
