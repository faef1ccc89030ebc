"""Dead letters sent somewhere else (`chipwatch outbox requeue --reroute | --to`): the SQL
that reads them with what their item said, moves a row to another channel, or copies it
there. Threads follow a moved parent, so its replies find it. Planning lives in
`bot.requeue`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.store.base import Conn
from bot.store.outbox import State


@dataclass(frozen=True)
class Dead:
    """A dead letter with what is needed to send it elsewhere: its raw payload, and the
    rules, tags and severity recorded for its item (empty and None without an item)."""

    id: int
    key: str
    channel: str
    kind: str
    story_id: str | None
    item_id: str | None
    payload: str
    rules: tuple[str, ...]
    tags: frozenset[str]
    severity: int | None


def dead(conn: Conn, channel: str | None = None) -> list[Dead]:
    """Dead letters, oldest first (a story's parent before its replies); of one channel if
    given."""
    where, params = ("o.state = ?", (State.DEAD,)) if channel is None else (
        "o.state = ? AND o.channel = ?", (State.DEAD, channel))
    rows = conn.execute(
        f"""SELECT o.id, o.key, o.channel, o.kind, o.story_id, o.item_id, o.payload,
                   i.rules, i.tags, i.severity
            FROM outbox o LEFT JOIN items i ON i.id = o.item_id
            WHERE {where} ORDER BY o.id""", params).fetchall()
    return [Dead(r[0], r[1], r[2], r[3], r[4], r[5], r[6], tuple(json.loads(r[7] or "[]")),
                 frozenset(json.loads(r[8] or "[]")), r[9]) for r in rows]


def key_taken(conn: Conn, key: str) -> bool:
    """Whether a row with this key exists (that message is, or was, on its way)."""
    return conn.execute("SELECT 1 FROM outbox WHERE key = ?", (key,)).fetchone() is not None


def has_parent(conn: Conn, story_id: str, channel: str) -> bool:
    """Whether the story has a parent alert in the channel (sent or on its way)."""
    return conn.execute("SELECT 1 FROM threads WHERE story_id = ? AND channel = ?",
                        (story_id, channel)).fetchone() is not None


_FRESH = ("state = 'pending', attempts = 0, error = NULL, ts = NULL, channel_id = NULL, "
          "sent_at = NULL, maybe_sent = 0, next_attempt = ?")


def revive(conn: Conn, row_id: int, now: datetime) -> None:
    """Send a dead letter again where it was going, from scratch."""
    conn.execute(f"UPDATE outbox SET {_FRESH} WHERE id = ?", (now.isoformat(), row_id))


def move(conn: Conn, row: Dead, channel: str, key: str, payload: str, now: datetime) -> None:
    """Send a dead letter to `channel` instead, from scratch; a parent alert takes its
    story's thread there with it."""
    conn.execute(f"UPDATE outbox SET channel = ?, key = ?, payload = ?, {_FRESH} WHERE id = ?",
                 (channel, key, payload, now.isoformat(), row.id))
    if row.kind == "alert" and row.story_id is not None:
        conn.execute("UPDATE threads SET channel = ? WHERE story_id = ? AND channel = ? "
                     "AND outbox_id = ?", (channel, row.story_id, row.channel, row.id))
        conn.execute("INSERT INTO threads (story_id, channel, outbox_id) VALUES (?, ?, ?) "
                     "ON CONFLICT DO NOTHING", (row.story_id, channel, row.id))


def copy(conn: Conn, row: Dead, channel: str, key: str, payload: str, now: datetime) -> None:
    """Queue a dead letter's message in another channel as well (a new pending row); a
    parent alert becomes its story's parent there."""
    new: Any = conn.execute(
        """INSERT INTO outbox (key, channel, kind, story_id, item_id, payload, next_attempt,
               created) SELECT ?, ?, kind, story_id, item_id, ?, ?, created FROM outbox
           WHERE id = ? RETURNING id""",
        (key, channel, payload, now.isoformat(), row.id)).fetchone()
    if row.kind == "alert" and row.story_id is not None:
        conn.execute("INSERT INTO threads (story_id, channel, outbox_id) VALUES (?, ?, ?) "
                     "ON CONFLICT DO NOTHING", (row.story_id, channel, int(new[0])))
