"""Durable and exact: a redelivered envelope is applied once; a socket refreshed mid-session
loses nothing; actions survive a restart."""

from __future__ import annotations

import time

import pytest

from bot.slack.buttons import MUTE_STORY, NOT_RELEVANT
from tests.slack.conftest import H200, USER, TwoWay
from tests.support.fake_socket import button, command
from tests.support.util import wait_for

pytestmark = pytest.mark.slow  # Socket Mode end to end over a real websocket on loopback


def _payload(w: TwoWay, action: str, channel: str = "#chip-alerts") -> dict[str, object]:
    parent = w.parent(channel)
    return button(USER, w.slack.state.channel_id(channel), parent["ts"], action)


def test_redelivered_envelope_is_applied_once(two_way: TwoWay) -> None:
    w = two_way
    w.start({"wire-a": H200[:1]})
    payload = _payload(w, NOT_RELEVANT)
    eid, _, _ = w.send("interactive", payload)
    w.send("interactive", payload, envelope_id=eid, retry=1)  # Slack thinks the ack was lost
    assert len(w.socket.ack_for(eid)) == 2  # acknowledged each time
    assert w.rows("SELECT COUNT(*) FROM slack_actions") == [(1,)]
    assert w.rows("SELECT COUNT(*) FROM feedback") == [(1,)]
    w.deliver()
    assert len(w.slack.state.top_level("#ops")) == 1
    assert len(w.ephemeral(1)) == 1  # posted after the first ack; none for the redelivery
    edits = w.parent("#chip-alerts").get("edited", 0)
    assert edits == 1

    # A command redelivered answers the same, applied once.
    cmd = command("UADMIN1", "CANY", "mute us-entity-list 2h")
    first, ack1, _ = w.send("slash_commands", cmd)
    _, ack2, _ = w.send("slash_commands", cmd, envelope_id=first, retry=1)
    assert ack1["payload"] == ack2["payload"]
    assert w.rows("SELECT COUNT(*) FROM slack_actions WHERE kind = 'command:mute'") == [(1,)]
    assert len(w.slack.state.ephemeral) == 1  # commands answer in the ack, never ephemeral


def test_refreshed_socket_loses_nothing(two_way: TwoWay) -> None:
    w = two_way
    w.start({"wire-a": H200[:1]})
    opens_before = sum(1 for m, _ in w.slack.state.calls if m == "apps.connections.open")
    payloads = [_payload(w, action, channel) for action, channel in (
        (MUTE_STORY, "#chip-alerts"), (NOT_RELEVANT, "#chip-firehose"),
        (NOT_RELEVANT, "#chip-alerts"))]
    w.socket.disconnect("refresh_requested", close_after=0.2)
    # Envelopes sent while the client moves to a new socket: on the old one (until it
    # closes), in between (no socket: Slack keeps them), or on the new one.
    sent = []
    for payload in payloads:
        sent.append(w.socket.send("interactive", payload))
        time.sleep(0.15)
    assert wait_for(lambda: all(w.socket.ack_for(e) for e in sent), timeout=20)
    assert w.socket.wait_connections(2)
    opens = sum(1 for m, _ in w.slack.state.calls if m == "apps.connections.open")
    assert opens > opens_before  # a fresh URL, as Slack wants
    assert w.rows("SELECT COUNT(*) FROM story_mutes") == [(1,)]
    assert w.rows("SELECT channel FROM feedback ORDER BY channel") == [("#chip-alerts",),
                                                                         ("#chip-firehose",)]
    assert w.rows("SELECT COUNT(*) FROM slack_actions") == [(3,)]

    # A server-side close without warning: the client reconnects and goes on.
    live = w.socket.live
    assert live is not None
    live.close()
    assert w.socket.wait_connections(3)
    eid, _, _ = w.send("slash_commands", command(USER, "CANY", "feedback"))
    assert "china" in w.socket.ack_for(eid)[0]["payload"]["text"].lower()


def test_actions_survive_a_restart(two_way: TwoWay) -> None:
    w = two_way
    w.start({"wire-a": H200[:1]})
    eid, _, _ = w.send("interactive", _payload(w, MUTE_STORY))
    w.start({"wire-a": H200[:1], "wire-b": H200[1:2]})  # a new process on the same state
    assert w.slack.state.replies("#chip-alerts", w.parent("#chip-alerts")["ts"]) == []
    w.send("interactive", _payload(w, MUTE_STORY), envelope_id=eid, retry=2)
    assert w.rows("SELECT COUNT(*) FROM slack_actions") == [(1,)]
