"""Console alerts (no Slack token): readable, and feed text cannot drive the terminal."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from bot.models import Item, Match, RuleHit, Severity
from bot.slack.blocks import alert_message
from bot.slack.notifier import ConsoleNotifier

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
