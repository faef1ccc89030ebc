"""The interactive parts of a parent alert: its buttons, and the lines that show what people
did with it (muted, marked not relevant, escalated). Pure Block Kit, within Slack's limits
(action_id and block_id ≤ 255 characters, value ≤ 2,000, button text ≤ 75)."""

from __future__ import annotations

import re
from typing import Any

from bot.slack.blocks import Message

ACTIONS_BLOCK = "chipwatch_actions"
MARKS_BLOCK = "chipwatch_marks"
MUTE_STORY = "chipwatch_mute_story"
NOT_RELEVANT = "chipwatch_not_relevant"
MUTE_RULE = "chipwatch_mute_rule"
BUTTONS = {MUTE_STORY: "Mute story", NOT_RELEVANT: "Not relevant", MUTE_RULE: "Mute rule 24h"}
VALUE_MAX = 2000
USER_RE = re.compile(r"^[UW][A-Z0-9]{2,20}$")


def _button(action_id: str, value: str) -> dict[str, Any]:
    b: dict[str, Any] = {"type": "button", "action_id": action_id,
                         "text": {"type": "plain_text", "text": BUTTONS[action_id]}}
    if value:
        b["value"] = value
    if action_id == MUTE_RULE:
        b["confirm"] = {
            "title": {"type": "plain_text", "text": "Mute these rules?"},
            "text": {"type": "plain_text",
                     "text": "No alert from the rules behind this one for 24 hours, in any "
                             "channel (admins only)."},
            "confirm": {"type": "plain_text", "text": "Mute 24h"},
            "deny": {"type": "plain_text", "text": "Cancel"}}
    return b


def with_buttons(message: Message, key: str) -> Message:
    """The alert with its Mute story / Not relevant / Mute rule 24h buttons; `key` (the outbox
    key) rides in each button's value when it fits, as a fallback to find the alert."""
    value = key if len(key) <= VALUE_MAX else ""
    block = {"type": "actions", "block_id": ACTIONS_BLOCK,
             "elements": [_button(a, value) for a in BUTTONS]}
    return Message(message.text, [*message.blocks, block])


def mark_lines(muted_by: str | None, irrelevant_by: tuple[str, ...],
               escalated: str | None) -> list[str]:
    """The lines a parent shows; only well-formed Slack user ids are ever rendered."""
    lines = []
    if muted_by and USER_RE.match(muted_by):
        lines.append(f":no_bell: Muted here by <@{muted_by}>")
    users = [f"<@{u}>" for u in irrelevant_by if USER_RE.match(u)]
    if users:
        lines.append(":heavy_multiplication_x: Marked not relevant by " + ", ".join(users[:10]))
    if escalated:
        lines.append(f":chart_with_upwards_trend: {escalated}")
    return lines


def with_marks(message: Message, lines: list[str]) -> Message:
    """The parent's blocks with its marks line set (replacing an older one), above its
    buttons."""
    blocks = [b for b in message.blocks if b.get("block_id") != MARKS_BLOCK]
    if lines:
        mark = {"type": "context", "block_id": MARKS_BLOCK,
                "elements": [{"type": "mrkdwn", "text": line} for line in lines[:10]]}
        at = next((i for i, b in enumerate(blocks) if b.get("block_id") == ACTIONS_BLOCK),
                  len(blocks))
        blocks = [*blocks[:at], mark, *blocks[at:]]
    return Message(message.text, blocks)
