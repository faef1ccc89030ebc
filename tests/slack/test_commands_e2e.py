"""`/chipwatch` end to end over Socket Mode: answers ride in the ack (ephemeral)."""

from __future__ import annotations

import pytest

from tests.slack.conftest import ADMIN, H200, USER, TwoWay
from tests.support.fake_socket import command

pytestmark = pytest.mark.slow  # Socket Mode end to end over a real websocket on loopback


def _ask(w: TwoWay, user: str, text: str) -> str:
    eid, ack, _ = w.send("slash_commands", command(user, "CANY", text))
    assert ack["envelope_id"] == eid and ack["payload"]["response_type"] == "ephemeral"
    return str(ack["payload"]["text"])


def test_every_command(two_way: TwoWay) -> None:
    w = two_way
    w.start({"wire-a": H200[:1]})
    explained = _ask(w, USER, "explain US adds <!channel> chip firms to entity list")
    assert "verdict:  ALERT" in explained and "us-entity-list" in explained
    assert "<!channel>" not in explained and "&lt;!channel&gt;" in explained
    status = _ask(w, USER, "status")
    assert "feeds: 1 configured" in status and "outbox:" in status

    assert "Only chipwatch admins" in _ask(w, USER, "mute us-entity-list 2h")
    assert "No rule `nope`" in _ask(w, ADMIN, "mute nope 2h")
    assert "at most 30d" in _ask(w, ADMIN, "mute us-entity-list 90d")
    assert "Muted `us-entity-list` until 2026-01-28 14:00 UTC" in _ask(
        w, ADMIN, "mute us-entity-list 2h")
    assert "rule us-entity-list until 2026-01-28 14:00 UTC" in _ask(w, USER, "mutes")
    assert "Only chipwatch admins" in _ask(w, USER, "unmute us-entity-list")
    assert _ask(w, ADMIN, "unmute us-entity-list") == "Unmuted `us-entity-list`."
    assert "nothing is muted" in _ask(w, USER, "mutes")
    assert "no not-relevant marks" in _ask(w, USER, "feedback")
    assert "Usage" in _ask(w, USER, "frobnicate")

    w.deliver()
    audit = [m["text"] for m in w.slack.state.top_level("#ops")]
    assert len(audit) == 4  # refused mute, mute, refused unmute, unmute; reads are not audited
    assert "refused" in audit[0] and f"<@{ADMIN}> muted rule `us-entity-list`" in audit[1]
    outcomes = w.rows("SELECT kind, outcome FROM slack_actions ORDER BY id")
    assert ("command:mute", "applied") in outcomes and ("command:mute", "refused") in outcomes
