"""One batch of polls is one transaction: exact dedup spans its feeds, and a feed that fails
rolls back alone without hiding its items from the feeds after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app import App
from bot.clock import FakeClock
from bot.feeds.fetch import FetchResult
from bot.feeds.parsepool import Parsed
from bot.feeds.response import Outcome
from bot.models import FeedSpec, Item, Match
from bot.pipeline import Fetched, Polled
from tests.conftest import write_config
from tests.service.helpers import H200, build_app

NOW = datetime(2026, 1, 14, 9, 0, tzinfo=UTC)
LINK = "https://news.example/h200"


class FailsOn:
    """Stories that fail for one headline (a bug in a stage) and give every other item its
    own story."""

    def __init__(self, title: str) -> None:
        self.title = title

    def assign(self, item: Item, match: Match) -> tuple[str, int] | None:
        if item.title == self.title:
            raise RuntimeError("a stage broke on this item")
        return item.id, 1


def _polled(feed: str, *items: tuple[str, str]) -> Polled:
    spec = FeedSpec(feed, f"https://{feed}.example/rss", timedelta(minutes=5),
                    timedelta(days=2), timedelta(0), feed)
    got = [Item(id_, feed, title, LINK, "", NOW, NOW, feed) for id_, title in items]
    return Polled(Fetched(spec, 0, FetchResult(spec, Outcome.OK, NOW, 200), 0.0),
                  Parsed(got, None))


def _recorded(app: App) -> list[tuple[str, str]]:
    rows = app.db.read("SELECT id, status FROM items ORDER BY id")
    return [(r["id"], r["status"]) for r in rows]


def test_the_same_link_in_two_feeds_of_one_batch_alerts_once(tmp_path: Path) -> None:
    app = build_app(write_config(tmp_path, []), FakeClock(NOW))
    try:
        reports = app.poller.record([_polled("a", ("a-1", H200)),
                                     _polled("b", ("b-1", H200 + " (wire copy)"))])
        assert [(r.feed, r.new, r.alerts) for r in reports] == [("a", 1, 1), ("b", 0, 0)]
        assert _recorded(app) == [("a-1", "alert")]
    finally:
        app.close()


def test_a_failed_feed_rolls_back_alone_and_the_next_feed_takes_its_link(
    tmp_path: Path,
) -> None:
    app = build_app(write_config(tmp_path, []), FakeClock(NOW))
    broken = H200 + " (breaks a stage)"
    app.poller.stories = FailsOn(broken)
    try:
        reports = app.poller.record([_polled("a", ("a-1", broken)),
                                     _polled("b", ("b-1", H200))])
        # Feed a's item was rolled back with its feed, so b's copy of the link is news.
        assert [(r.feed, r.new, r.alerts) for r in reports] == [("b", 1, 1)]
        assert _recorded(app) == [("b-1", "alert")]
        with app.db.reading() as conn:
            polled = {r["name"] for r in conn.execute("SELECT name FROM feeds")}
        assert polled == {"b"}  # a's fetch is not recorded: it is polled again next time
    finally:
        app.close()
