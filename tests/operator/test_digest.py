"""Digest routes, driven with an injected clock: periods, grouping, durability, delivery."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app import App
from bot.clock import FakeClock
from bot.config import load_config
from bot.digest import add_entry, flush, period_end
from bot.models import Item, Match, RuleHit, Severity
from bot.route import Route
from bot.store import SqliteStore
from tests.conftest import FEEDS, slack_env, write_config
from tests.support.fake_slack import FakeSlack

T0 = datetime(2026, 1, 28, 12, 10, tzinfo=UTC)


def _item(n: int, title: str, source: str) -> Item:
    return Item(f"id{n}", "wire", title, f"https://news.example.com/{n}", "", T0, T0, source)


def _match(severity: Severity = Severity.HIGH) -> Match:
    return Match((RuleHit("r", ("chip",)),), frozenset({"chips"}), severity)


def test_period_ends() -> None:
    hourly = Route("#d", mode="digest", every=timedelta(hours=1))
    assert period_end(hourly, T0) == datetime(2026, 1, 28, 12, 0, tzinfo=UTC)
    berlin = Route("#d", mode="digest", at="09:00", timezone="Europe/Berlin")
    # 08:59 in Berlin (winter, UTC+1): the last 09:00 was yesterday's.
    assert period_end(berlin, datetime(2026, 1, 28, 7, 59, tzinfo=UTC)) == \
        datetime(2026, 1, 27, 8, 0, tzinfo=UTC)
    assert period_end(berlin, datetime(2026, 1, 28, 8, 0, tzinfo=UTC)) == \
        datetime(2026, 1, 28, 8, 0, tzinfo=UTC)
    # Summer time (UTC+2): still 09:00 local.
    assert period_end(berlin, datetime(2026, 7, 1, 7, 30, tzinfo=UTC)) == \
        datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    weekly = Route("#d", mode="digest", every=timedelta(days=7), at="09:00")
    end = period_end(weekly, T0)
    assert end <= T0 and end.hour == 9 and T0 - end < timedelta(days=7)
    assert period_end(weekly, end + timedelta(days=6)) == end


def test_one_message_per_period_grouped_by_story_never_repeated(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = SqliteStore.open(path)
    route = Route("#digest", mode="digest", every=timedelta(hours=1))
    with db.tx() as conn:
        add_entry(conn, "#digest", _item(1, "US bans chip exports", "Wire A"), _match(),
                  "story-1", T0)
        add_entry(conn, "#digest", _item(2, "US bans chip exports, sources", "Wire B"),
                  _match(), "story-1", T0 + timedelta(minutes=5))
        add_entry(conn, "#digest", _item(3, "<!channel> tariff on chips", "Wire C"),
                  _match(Severity.CRITICAL), "story-2", T0 + timedelta(minutes=20))
        add_entry(conn, "#digest", _item(1, "duplicate", "Wire A"), _match(), "story-1", T0)
    assert flush(db, [route], T0 + timedelta(minutes=49)) == 0  # 12:59: period still open
    assert flush(db, [route], T0 + timedelta(minutes=50)) == 1  # 13:00
    assert flush(db, [route], T0 + timedelta(minutes=55)) == 0
    db.close()
    db = SqliteStore.open(path)  # a restart neither loses nor repeats it
    assert flush(db, [route], T0 + timedelta(hours=3)) == 0
    rows = db.read("SELECT * FROM outbox")
    assert len(rows) == 1 and rows[0]["kind"] == "digest" and rows[0]["channel"] == "#digest"
    payload = json.loads(rows[0]["payload"])
    text = json.dumps(payload["blocks"], ensure_ascii=False)
    assert payload["text"] == "Digest for #digest · 28 Jan 12:00 to 13:00 UTC: 3 alerts in 2 " \
                              "stories"
    assert "+1 more report: Wire B" in text
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text
    assert "<https://news.example.com/1|US bans chip exports>" in text
    # The critical story comes first.
    assert text.index("tariff on chips") < text.index("US bans chip exports")
    db.close()


def test_digest_route_through_the_app_and_fake_slack(tmp_path: Path) -> None:
    routes = [{"channel": "#chip-alerts", "tags": ["nvidia"], "continue": True},
              {"channel": "#digest", "mode": "digest", "at": "13:00",
               "timezone": "Europe/Berlin"}]
    clock = FakeClock(T0)  # 13:10 in Berlin: the first period closes tomorrow 13:00
    with FakeSlack() as slack:
        config = load_config(write_config(
            tmp_path, [{"name": "chip", "url": str(FEEDS / "chip-news.rss")}], routes=routes))
        app = App.build(config, env=slack_env(slack), clock=clock)
        try:
            app.run_once()
            assert slack.state.top_level("#chip-alerts")  # immediate routes unchanged
            assert slack.state.top_level("#digest") == []
            clock.advance(timedelta(hours=23, minutes=49))  # 12:59 Berlin, next day
            app.run_once()
            assert slack.state.top_level("#digest") == []
            clock.advance(timedelta(minutes=1))
            app.run_once()
            digests = slack.state.top_level("#digest")
            assert len(digests) == 1
            assert digests[0]["text"].startswith("Digest for #digest · 28 Jan 13:00 to "
                                                 "29 Jan 13:00 CET:")
            blocks = str(digests[0]["blocks"])
            assert "entity list" in blocks and "first imports" in blocks
            assert "Chipotle" not in blocks
            clock.advance(timedelta(days=1))
            app.run_once()
            assert len(slack.state.top_level("#digest")) == 1  # nothing new: no message
        finally:
            app.close()
