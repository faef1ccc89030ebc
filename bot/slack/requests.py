"""What arrives over Socket Mode, made plain: a button press on a parent alert or a
`/chipwatch` command. Pure parsing of Slack's payloads; anything else is None (acked and
ignored)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.slack.buttons import BUTTONS, MUTE_RULE

COMMAND = "/chipwatch"
ADMIN_COMMANDS = frozenset({"mute", "unmute"})


@dataclass(frozen=True)
class ButtonPress:
    """Someone pressed one of our buttons on the message at (channel_id, message_ts)."""

    user: str
    channel_id: str
    message_ts: str
    action_id: str
    value: str

    @property
    def kind(self) -> str:
        return self.action_id.removeprefix("chipwatch_")

    @property
    def needs_admin(self) -> bool:
        return self.action_id == MUTE_RULE


@dataclass(frozen=True)
class Command:
    """`/chipwatch WORDS` typed by `user` in `channel_id`."""

    user: str
    channel_id: str
    text: str

    @property
    def verb(self) -> str:
        words = self.text.split()
        return words[0].lower() if words else "help"

    @property
    def args(self) -> list[str]:
        return self.text.split()[1:]

    @property
    def kind(self) -> str:
        return f"command:{self.verb}"

    @property
    def needs_admin(self) -> bool:
        return self.verb in ADMIN_COMMANDS


Request = ButtonPress | Command


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def parse(envelope_type: str, payload: dict[str, Any]) -> Request | None:
    """The request in an envelope's payload, or None when it is not one of ours."""
    if envelope_type == "slash_commands" and payload.get("command") == COMMAND:
        user = _s(payload.get("user_id"))
        return Command(user, _s(payload.get("channel_id")), _s(payload.get("text"))) \
            if user else None
    if envelope_type != "interactive" or payload.get("type") != "block_actions":
        return None
    acts = payload.get("actions") or []
    act = acts[0] if acts and isinstance(acts[0], dict) else {}
    if act.get("action_id") not in BUTTONS:
        return None  # e.g. the "Read the article" link button
    container = payload.get("container") or {}
    message = payload.get("message") or {}
    user = _s((payload.get("user") or {}).get("id"))
    channel = _s((payload.get("channel") or {}).get("id")) or _s(container.get("channel_id"))
    ts = _s(container.get("message_ts")) or _s(message.get("ts"))
    if not (user and channel and ts):
        return None
    return ButtonPress(user, channel, ts, act["action_id"], _s(act.get("value")))
