"""Buttons on parent alerts, end to end: the real SocketModeClient against the fake Socket
Mode server, the fake Web API, the real state file."""

from __future__ import annotations

import json

import pytest

from bot.cli import main
from bot.models import Item, Match, RuleHit, Severity
from bot.slack.blocks import alert_message
from bot.slack.buttons import (
    MUTE_RULE,
    MUTE_STORY,
    NOT_RELEVANT,
    mark_lines,
    with_buttons,
    with_marks,
)
from tests.slack.conftest import ADMIN, ENTITY, H200, MEMBER, NOW, USER, TwoWay
from tests.support.fake_slack import validate_blocks
from tests.support.fake_socket import button

pytestmark = pytest.mark.slow  # Socket Mode end to end over a real websocket on loopback


def _press(w: TwoWay, channel: str, action: str, user: str) -> str:
    parent = w.parent(channel)
    cid = w.slack.state.channel_id(channel)
    button_value = next(e.get("value", "") for b in parent["blocks"]
                        if b.get("block_id") == "chipwatch_actions" for e in b["elements"])
    eid, ack, _ = w.send("interactive", button(user, cid, parent["ts"], action, button_value))
    assert ack == {"envelope_id": eid}
    return eid


def test_parent_carries_valid_buttons_and_mute_story_stops_its_thread(two_way: TwoWay) -> None:
    w = two_way
    w.start({"wire-a": H200[:1]})
    parent = w.parent("#chip-alerts")
    assert validate_blocks(parent["blocks"]) is None
    ids = [e["action_id"] for b in parent["blocks"] if b.get("block_id") == "chipwatch_actions"
           for e in b["elements"]]
    assert ids == [MUTE_STORY, NOT_RELEVANT, MUTE_RULE]

    _press(w, "#chip-alerts", MUTE_STORY, USER)
    w.deliver()
    muted = w.parent("#chip-alerts")
    assert f"Muted here by <@{USER}>" in w.blocks(muted)
    assert validate_blocks(muted["blocks"]) is None
    assert [e["user"] for e in w.ephemeral(1)] == [USER]
    audit = [m["text"] for m in w.slack.state.top_level("#ops")]
    assert len(audit) == 1 and f"<@{USER}> muted the story" in audit[0]

    # Later reports of the story: nothing more in the muted channel, the firehose goes on.
    w.start({"wire-a": H200[:1], "wire-b": H200[1:2], "wire-c": H200[2:]}, socket=False)
    assert w.slack.state.replies("#chip-alerts", muted["ts"]) == []
    assert "sources · latest" not in w.blocks(w.parent("#chip-alerts"))
    firehose = w.parent("#chip-firehose")
    assert len(w.slack.state.replies("#chip-firehose", firehose["ts"])) == 2


def test_not_relevant_is_recorded_with_item_rules_and_user(two_way: TwoWay) -> None:
    w = two_way
    w.start({"wire-a": H200[:1]})
    _press(w, "#chip-firehose", NOT_RELEVANT, USER)
    w.deliver()
    marks = w.rows("SELECT item_id, channel, user_id, rules, title FROM feedback")
    assert len(marks) == 1
    _, channel, user, rules, title = marks[0]
    assert (channel, user, title) == ("#chip-firehose", USER, H200[0][0])
    assert "china-nvidia-imports" in rules
    assert f"Marked not relevant by <@{USER}>" in w.blocks(w.parent("#chip-firehose"))
    assert "Marked not relevant" not in w.blocks(w.parent("#chip-alerts"))  # that channel only

    # A later source-count update keeps the mark on the parent.
    w.start({"wire-a": H200[:1], "wire-b": H200[1:2]}, socket=False)
    updated = w.blocks(w.parent("#chip-firehose"))
    assert "2 sources · latest" in updated and "Marked not relevant" in updated


def test_mute_rule_is_for_admins_only(two_way: TwoWay) -> None:
    w = two_way
    w.start({"wire-a": H200[:1]})
    _press(w, "#chip-alerts", MUTE_RULE, USER)
    assert w.rows("SELECT * FROM rule_mutes") == []
    assert "Only chipwatch admins" in w.ephemeral(1)[-1]["text"]
    assert w.rows("SELECT outcome FROM slack_actions") == [("refused",)]

    _press(w, "#chip-alerts", MUTE_RULE, MEMBER)  # an admin through the SADMINS user group
    assert w.rows("SELECT rule_id, user_id FROM rule_mutes") == [
        ("china-nvidia-imports", MEMBER)]
    w.deliver()
    audit = [m["text"] for m in w.slack.state.top_level("#ops")]
    assert len(audit) == 2 and "refused: not an admin" in audit[0]
    assert f"<@{MEMBER}> muted rules china-nvidia-imports" in audit[1]

    # A user listed in slack.admins is an admin without being in a listed group.
    assert ADMIN not in w.slack.state.groups["SADMINS"]
    _press(w, "#chip-firehose", MUTE_RULE, ADMIN)
    assert w.rows("SELECT outcome FROM slack_actions WHERE user_id = ?", ADMIN) == [
        ("applied",)]

    # A new development fired only by the muted rule does not alert; another rule still does.
    other = ("Chinese customs approve H200 imports for Alibaba data centers",
             "https://e.example.com/alibaba-h200-customs")
    w.start({"wire-a": H200[:1], "wire-d": [other, ENTITY]}, socket=False)
    assert w.rows("SELECT status FROM items WHERE title LIKE '%Alibaba%'") == [("alert",)]
    assert w.rows("SELECT o.kind FROM outbox o JOIN items i ON i.id = o.item_id "
                  "WHERE i.title LIKE '%Alibaba%'") == []  # neither a parent nor a reply
    assert len(w.slack.state.top_level("#policy")) == 1  # the entity-list alert


def test_feedback_export_and_replay_show_the_marks(two_way: TwoWay,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    w = two_way
    w.start({"wire-a": H200[:1]})
    _press(w, "#chip-alerts", NOT_RELEVANT, USER)
    config = str(w.tmp / "chipwatch.yaml")
    w.stop()
    assert main(["feedback", "export", "--config", config]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t")[:3] == ["marked_at", "rules", "title"]
    assert len(lines) == 2
    row = lines[1].split("\t")
    assert row[1] == "china-nvidia-imports" and row[2] == H200[0][0] and row[6] == USER

    assert main(["replay", "--since", "3650d", "--config", config, "--json"]) == 0
    stories = json.loads(capsys.readouterr().out)["stories"]
    marked = [s for s in stories if s["marked_not_relevant_rules"]]
    assert [s["marked_not_relevant_rules"] for s in marked] == [["china-nvidia-imports"]]


def test_buttons_fit_block_kit_limits() -> None:
    item = Item("i" * 5000, "f", "T" * 400, "https://x.example/" + "p" * 100, "s" * 5000,
                NOW, NOW, "SRC")
    m = Match((RuleHit("r", ("t",)),), frozenset({"a"}), Severity.HIGH)
    for key in ("alert|short|#c", "alert|" + "k" * 3000 + "|#c"):
        msg = with_marks(with_buttons(alert_message(item, m), key),
                         mark_lines("U1AAAA", tuple(f"U{i}AAAA" for i in range(30)), "E"))
        assert validate_blocks(msg.blocks) is None and len(msg.blocks) <= 50
        for b in msg.blocks:
            for e in b.get("elements", []):
                assert len(e.get("action_id", "")) <= 255 and len(e.get("value", "")) <= 2000
                assert len(e.get("text", "")) <= 3000
    assert mark_lines("<!channel>", ("U1; <!here>",), None) == []  # only real user ids
