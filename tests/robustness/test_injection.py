"""Feed text cannot ping, disguise links, format, reorder or overflow a Slack message.

Hostile titles and summaries go through the real adapter, rules and Block Kit rendering, and
are posted through slack_sdk to the fake Slack, which rejects blocks the way Slack does.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import App
from bot.clock import SYSTEM_CLOCK
from bot.config import load_config
from bot.config.live import LiveConfig
from bot.feeds import HttpFetcher
from bot.models import Item, Match, RuleHit, Severity
from bot.slack.blocks import alert_message, reply_message, with_sources
from bot.slack.notifier import SlackNotifier
from bot.store import SqliteStore, outbox
from tests.conftest import TOKEN, write_config
from tests.support.fake_slack import FakeSlack, validate_blocks
from tests.support.feed_server import FeedServer
from tests.support.util import rss

PINGS = ["<!channel>", "<!here>", "<!everyone>", "<@U123>", "<#C999>", "<!subteam^S1>"]
DISGUISE = "<http://evil.example|Reuters>"
INVISIBLE = "\u200b\u200d\u2060\ufeff\u202e\u2066\u00ad"
HOSTILE_TITLES = [
    f"China H200 imports {p} approved" for p in PINGS] + [
    f"China H200 imports approved {DISGUISE} *bold* _it_ ~x~ `code` ```block```",
    f"China H2{INVISIBLE}00 imports approved gnp.exe\u202eexe.png",
    "China H200 imports approved " + "A" * 100_000,
    "China H200 imports approved & <b>tags</b> &lt;!channel&gt; &amp;lt;!here&amp;gt;",
]
BAD_LINKS = ["javascript:alert(1)", "data:text/html,<script>x</script>", "vbscript:x",
             "file:///etc/passwd", "https://e.com/a|Reuters", "https://e.com/<!channel>",
             "https://e.com/\u202eexe", " JAVASCRIPT:alert(1)", "//evil.example/x"]
MATCH = Match((RuleHit("r", ("H200",)),), frozenset({"h200", "china"}), Severity.HIGH)
WHEN = datetime(2026, 1, 28, 9, tzinfo=UTC)


def _item(title: str, link: str = "https://e.com/ok", summary: str = "") -> Item:
    return Item("id", "f", title, link, summary, WHEN, WHEN, "Wire")


def _assert_inert(payload: object) -> None:
    text = json.dumps(payload, ensure_ascii=False)
    for raw in [*PINGS, "<http://evil", "javascript:", "vbscript:", "data:text"]:
        assert raw not in text, raw
    assert not any(c in text for c in INVISIBLE)


@pytest.mark.parametrize("title", HOSTILE_TITLES, ids=range(len(HOSTILE_TITLES)))
def test_rendered_messages_are_inert_and_within_limits(title: str) -> None:
    item = _item(title, summary=title * 3)
    for message in (alert_message(item, MATCH), reply_message(item),
                    with_sources(alert_message(item, MATCH), 3, WHEN)):
        assert validate_blocks(message.blocks) is None
        assert len(message.text) <= 3000
        _assert_inert(message.blocks)
        _assert_inert(message.text)
        for block in message.blocks:
            if block["type"] == "header":
                assert block["text"]["type"] == "plain_text" and len(block["text"]["text"]) <= 150
            if block["type"] == "section":  # feed text never in mrkdwn
                assert block["text"]["type"] == "plain_text"


@pytest.mark.parametrize("link", BAD_LINKS)
def test_only_plain_http_links_are_posted(link: str) -> None:
    item = _item("China H200 imports approved", link=link)
    for message in (alert_message(item, MATCH), reply_message(item)):
        assert not any(b["type"] == "actions" for b in message.blocks)
        assert "Read the article" not in json.dumps(message.blocks)


def test_a_good_link_survives_with_its_query(tmp_path: Path) -> None:
    link = "https://e.com/a?x=1&y=2"
    alert = alert_message(_item("China H200 imports", link=link), MATCH)
    assert alert.blocks[-1]["elements"][0]["url"] == link
    reply = reply_message(_item("China H200 imports", link=link))
    assert reply.blocks[-1]["elements"][0]["text"] == (
        "<https://e.com/a?x=1&amp;y=2|Read the article>")


def test_hostile_feed_end_to_end_through_slack_sdk(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack
) -> None:
    items = [{"title": html.escape(t), "link": BAD_LINKS[i % len(BAD_LINKS)]
              if i % 2 else f"https://e.com/{i}", "guid": f"h{i}",
              "summary": html.escape(t[:5000] + " " + " ".join(PINGS))}
             for i, t in enumerate(HOSTILE_TITLES)]
    url = feed_server.serve("/h.rss", rss(items))
    config = load_config(write_config(tmp_path, [{"name": "h", "url": url}],
                                      slack_url=fake_slack.base_url, dedup={"enabled": False}))
    app = App(LiveConfig(config), SqliteStore.open(config.settings.state_path),
              HttpFetcher(SYSTEM_CLOCK),
              SlackNotifier(TOKEN, fake_slack.base_url, 5))
    try:
        reports = app.run_once()
        with app.db.lock:
            counts = outbox.counts(app.db.conn)
    finally:
        app.close()
    # The adapter strips markup, so some titles become equal and fold (same-title dedup).
    alerts = reports[0].alerts
    assert alerts == reports[0].new >= len(HOSTILE_TITLES) - 4
    assert counts == {"sent": 2 * alerts}  # none refused as invalid_blocks
    messages = [m for ms in fake_slack.state.messages.values() for m in ms]
    assert len(messages) == 2 * alerts
    for m in messages:
        _assert_inert({"text": m["text"], "blocks": m["blocks"]})
        for b in m["blocks"]:
            for e in b.get("elements", []):
                assert e.get("url", "https://").startswith(("https://", "http://"))
    shown = json.dumps([m["blocks"] for m in messages], ensure_ascii=False)
    assert "&lt;!channel&gt;" in shown  # text that spelled out a ping is shown, escaped
