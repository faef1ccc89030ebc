"""Console alerts (no Slack token): readable, and feed text cannot drive the terminal."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from bot.app import App
from bot.clock import FakeClock
from bot.config import load_config
from bot.config.live import LiveConfig
from bot.feeds import HttpFetcher
from bot.models import Item, Match, RuleHit, Severity
from bot.slack.blocks import alert_message, reply_message
from bot.slack.notifier import ConsoleNotifier
from bot.store import SqliteStore
from tests.conftest import write_config
from tests.support.feed_server import FeedServer
from tests.support.util import poll, rss

NOW = datetime(2026, 1, 28, 12, 0, tzinfo=UTC)


def test_console_output_is_plain_and_inert() -> None:
    item = Item("i", "f", "Chips \x1b[2J\x1b]0;pwned\x07 & <!channel> \u202egnp.exe", "https://x.com/a",
                "Summary with a bell\x07 and A&amp;B", NOW, NOW, "Wire & Co")
    match = Match((RuleHit("r", ("chips",)),), frozenset({"exports"}), Severity.HIGH)
    out = io.StringIO()
    console = ConsoleNotifier(out)
    console.post("#a", alert_message(item, match), "k1")
    console.post("#b", alert_message(item, match), "k2")
    text = out.getvalue()
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "Chips [2J]0;pwned & <!channel> gnp.exe" in text  # shown as text, unescaped
    assert "Wire & Co · 2026-01-28 12:00 UTC · HIGH · #exports" in text
    assert text.count("Chips") == 1 and "… also to #b" in text


def test_console_thread_replies_show_the_link_not_slack_markup() -> None:
    item = Item("i2", "f", "Later report & more", "https://x.com/b?a=1&b=2", "", NOW, NOW, "Desk")
    out = io.StringIO()
    ConsoleNotifier(out).post("#a", reply_message(item), "k", thread_ts="console.1")
    text = out.getvalue()
    assert "<" not in text and "|" not in text
    assert "Desk: Later report & more" in text and "https://x.com/b?a=1&b=2" in text


def test_the_console_is_not_throttled_like_slack(tmp_path: Path, feed_server: FeedServer) -> None:
    """Slack's one message per second per channel is Slack's limit, not a terminal's: 120
    alerts print at once, even with the configured Slack pace."""
    clock = FakeClock()
    items = [{"title": f"China approves H200 imports for buyer {n}",
              "link": f"https://e.com/{n}"} for n in range(120)]
    url = feed_server.serve("/f.rss", rss(items))
    config = load_config(write_config(tmp_path, [{"name": "f", "url": url}],
                                      slack={"per_channel_interval": "1s"},
                                      dedup={"enabled": False}))
    out = io.StringIO()
    app = App(LiveConfig(config), SqliteStore.open(config.settings.state_path), HttpFetcher(clock),
              ConsoleNotifier(out), clock)
    try:
        report = poll(app, config.feeds[0], force=True)
        assert report is not None and report.alerts == 120
        assert app.sender.drain(max_wait=0).sent == 240  # two channels each, no waiting
        text = out.getvalue()
        assert text.count("China approves H200") == text.count("also to #chip-firehose") == 120
    finally:
        app.close()
