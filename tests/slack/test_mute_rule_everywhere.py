"""An admin's Mute rule 24h, end to end: the button over Socket Mode, then a new headline of
that rule stays out of the digest route too, and `/chipwatch explain` says who muted it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.digest import flush
from bot.slack.buttons import MUTE_RULE
from tests.slack.conftest import ADMIN, H200, USER, TwoWay
from tests.support.fake_socket import button, command

pytestmark = pytest.mark.slow  # Socket Mode end to end over a real websocket on loopback

DIGEST = {"routes": [{"channel": "#chip-alerts", "tags": ["nvidia"], "continue": True},
                     {"channel": "#digest", "mode": "digest", "every": "1h"}]}
LATER = ("Chinese customs clear Nvidia H200 imports for Tencent",
         "https://e.example.com/tencent-h200-customs")


def test_mute_rule_holds_in_digests_and_explain_says_so(two_way: TwoWay) -> None:
    w = two_way
    w.extra = DIGEST
    w.start({"wire-a": H200[:1]})
    parent = w.parent("#chip-alerts")
    cid = w.slack.state.channel_id("#chip-alerts")
    value = next(e.get("value", "") for b in parent["blocks"]
                 if b.get("block_id") == "chipwatch_actions" for e in b["elements"])
    eid, ack, _ = w.send("interactive", button(ADMIN, cid, parent["ts"], MUTE_RULE, value))
    assert ack == {"envelope_id": eid}
    assert w.rows("SELECT rule_id, user_id FROM rule_mutes") == [("china-nvidia-imports", ADMIN)]

    # The digest holding the first alert goes out; then a new development of the muted rule.
    assert w.app is not None
    w.clock.advance(timedelta(hours=1))
    flush(w.app.db, w.app.config.routes, w.clock.now())
    w.deliver()
    assert len(w.slack.state.top_level("#digest")) == 1
    w.start({"wire-a": H200[:1], "wire-d": [LATER]})
    w.clock.advance(timedelta(hours=1))
    flush(w.app.db, w.app.config.routes, w.clock.now())
    w.deliver()
    digests = w.slack.state.top_level("#digest")
    assert "Tencent" not in json.dumps([d["blocks"] for d in digests])
    assert len(digests) == 1  # nothing else waited: no second digest
    assert all("Tencent" not in m["text"] for m in w.slack.state.top_level("#chip-alerts"))

    eid, ack, _ = w.send("slash_commands", command(USER, "CANY", f"explain {LATER[0]}"))
    text = ack["payload"]["text"]
    assert "verdict:  no alert: every rule that fired is muted from Slack" in text
    assert "china-nvidia-imports [high]" in text and f"muted from Slack by {ADMIN} until" in text
