"""Escalation by velocity: posted once per story when enough outlets report it in time,
linking the parent; never twice, also across restarts; the mention is the config's only."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.config.settings import EscalateSettings
from bot.escalate import message
from bot.models import Severity
from tests.slack.conftest import H200, TwoWay
from tests.support.fake_slack import validate_blocks

FOURTH = ("Nvidia H200 imports approved by China, Reuters reports",
          "https://f.example.com/markets/nvidia-h200-imports-approved-china")


def test_escalates_once_per_story_across_restarts(two_way: TwoWay) -> None:
    w = two_way
    w.extra = {"escalate": {"sources": 3, "within": "2h", "channel": "#escalations",
                            "severity": "critical", "mention": "here"}}
    w.start({"wire-a": H200[:1], "wire-b": H200[1:2]}, socket=False)
    assert w.slack.state.top_level("#escalations") == []  # two sources: not yet

    w.start({"wire-a": H200[:1], "wire-b": H200[1:2], "wire-c": H200[2:]}, socket=False)
    posts = w.slack.state.top_level("#escalations")
    assert len(posts) == 1
    post = posts[0]
    assert post["text"].startswith("<!here> Escalated: 3 sources within 2h")
    parent = w.parent("#chip-alerts")
    link = f"https://fake.slack.com/archives/{w.slack.state.channel_id('#chip-alerts')}/p" \
        + parent["ts"].replace(".", "")
    assert link in json.dumps(post["blocks"]) and "severity CRITICAL" in json.dumps(post)
    assert validate_blocks(post["blocks"]) is None
    for channel in ("#chip-alerts", "#chip-firehose"):
        assert "Escalated: 3 sources within 2h · severity raised to CRITICAL" in w.blocks(
            w.parent(channel))

    w.start({"wire-a": H200[:1], "wire-b": H200[1:2], "wire-c": H200[2:], "wire-d": [FOURTH]},
            socket=False)  # a restart, and the story keeps growing
    assert len(w.slack.state.top_level("#escalations")) == 1
    assert w.rows("SELECT sources, state FROM escalations") == [(3, "queued")]
    assert w.rows("SELECT COUNT(*) FROM outbox WHERE key LIKE 'escalate|%'") == [(1,)]


def test_escalation_post_is_inert_and_mentions_only_from_config() -> None:
    settings = EscalateSettings(3, timedelta(hours=2), "#esc", None, None)
    hostile = ("<!channel> Nvidia <http://evil.example|Reuters> H200 *approved*",
               "javascript:alert(1)", "X", int(Severity.HIGH))
    msg = message(settings, 4, hostile, "javascript:alert(1)", "#chip-alerts")
    text = json.dumps(msg.blocks) + msg.text
    assert "<!channel>" not in text and "<http://evil" not in text
    assert "javascript:" not in json.dumps(msg.blocks[2])  # no link but http(s)
    assert "alert in #chip-alerts" in json.dumps(msg.blocks[2])
    assert "<!" not in msg.text  # no mention configured: none at all
    assert validate_blocks(msg.blocks) is None
