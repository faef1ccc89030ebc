"""What a parent alert shows about the actions taken on it, kept in step with the store: the
lines are rebuilt from the state on every change and queued as a parent update (blocks kept),
so a later "N sources" update never drops them."""

from __future__ import annotations

from datetime import datetime

from bot.config.settings import EscalateSettings
from bot.slack.blocks import Message
from bot.slack.buttons import mark_lines, with_marks
from bot.store import actions, outbox
from bot.store.base import Conn


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def escalation_line(sources: int, escalate: EscalateSettings | None) -> str:
    """How an escalated parent says so."""
    line = f"Escalated: {sources} sources"
    if escalate is not None:
        line += f" within {_span(escalate.within.total_seconds())}"
        if escalate.severity is not None:
            line += f" · severity raised to {escalate.severity.label.upper()}"
    return line


def apply_marks(conn: Conn, message: Message, story_id: str, channel: str,
                escalate: EscalateSettings | None) -> Message:
    """`message` (a parent's content) with the marks the store holds for it."""
    pm = actions.parent_marks(conn, story_id, channel)
    line = escalation_line(pm.escalated, escalate) if pm.escalated else None
    return with_marks(message, mark_lines(pm.muted_by, pm.irrelevant_by, line))


def refresh_parent(conn: Conn, story_id: str, channel: str, reason: str,
                   now: datetime, escalate: EscalateSettings | None,
                   *, even_if_muted: bool = False) -> bool:
    """Queue an update of the story's parent in `channel` showing its current marks (not in
    a channel where the story is muted, unless this is the mute itself). False when there is
    no parent there."""
    base = actions.latest_message(conn, story_id, channel)
    if base is None:
        return False
    if not even_if_muted and actions.story_muted(conn, story_id, channel):
        return False
    outbox.enqueue(conn, f"marks|{story_id}|{channel}|{reason}", channel, outbox.Kind.UPDATE,
                   apply_marks(conn, base, story_id, channel, escalate), now, story_id)
    return True
