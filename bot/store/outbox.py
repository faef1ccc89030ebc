"""The durable outbox: one row per message to Slack, written with the items that caused it.

A row is `pending` until sent, `inflight` while a send is under way (a crash leaves it so,
and start-up checks Slack before re-sending), `sent` with Slack's ts once Slack said ok, or
`dead` after a permanent error (`bot.requeue` sends dead letters again). `maybe_sent` marks a
pending row whose last send got no clear answer: Slack may hold it. Parents of story threads
are found through `threads`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.slack.blocks import Message
from bot.store.base import Conn


class Kind(StrEnum):
    """What a row posts: a story's parent alert, a reply in its thread, an update of the
    parent's source count, a digest, or an ops notice."""

    ALERT = "alert"
    REPLY = "reply"
    UPDATE = "update"
    DIGEST = "digest"
    NOTICE = "notice"

    @property
    def threaded(self) -> bool:
        """Whether the row needs its story's parent ts (a reply, an update)."""
        return self in (Kind.REPLY, Kind.UPDATE)


class State(StrEnum):
    """Where a row is in its life (stored as these strings)."""

    PENDING = "pending"
    INFLIGHT = "inflight"
    SENT = "sent"
    DEAD = "dead"


@dataclass(frozen=True)
class OutboxRow:
    """One message waiting (or done)."""

    id: int
    key: str
    channel: str
    kind: Kind
    story_id: str | None
    item_id: str | None
    message: Message
    attempts: int
    created: datetime
    ts: str | None = None
    channel_id: str | None = None
    thread_ts: str | None = None  # the parent's ts, for replies and updates
    error: str | None = None  # why the last attempt failed
    maybe_sent: bool = False  # the last attempt got no clear answer: Slack may have it


def _row(r: Any, thread_ts: str | None = None) -> OutboxRow:
    payload = json.loads(r["payload"])
    return OutboxRow(r["id"], r["key"], r["channel"], Kind(r["kind"]), r["story_id"],
                     r["item_id"], Message(payload["text"], payload["blocks"]), r["attempts"],
                     datetime.fromisoformat(r["created"]), r["ts"], r["channel_id"], thread_ts,
                     r["error"], bool(r["maybe_sent"]))


# Rows in one state with, for replies and updates, their parent's ts (None while unsent).
_WITH_PARENT = """SELECT o.*, p.ts AS parent_ts FROM outbox o
    LEFT JOIN threads t ON t.story_id = o.story_id AND t.channel = o.channel
    LEFT JOIN outbox p ON p.id = t.outbox_id AND o.kind IN ('reply', 'update')
    WHERE o.state = ? ORDER BY o.id"""


def enqueue(conn: Conn, key: str, channel: str, kind: Kind, message: Message,
            now: datetime, story_id: str | None = None, item_id: str | None = None) -> int | None:
    """Add a row unless one with this key exists; returns the new row id or None."""
    row = conn.execute(
        """INSERT INTO outbox (key, channel, kind, story_id, item_id, payload,
               next_attempt, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT DO NOTHING RETURNING id""",
        (key, channel, kind, story_id, item_id,
         json.dumps({"text": message.text, "blocks": message.blocks}), now.isoformat(),
         now.isoformat()),
    ).fetchone()
    return int(row[0]) if row else None


def parent(conn: Conn, story_id: str, channel: str) -> OutboxRow | None:
    """The parent alert row of a story in a channel, if there is one."""
    r = conn.execute(
        """SELECT o.* FROM threads t JOIN outbox o ON o.id = t.outbox_id
           WHERE t.story_id = ? AND t.channel = ?""", (story_id, channel)).fetchone()
    return _row(r) if r else None


def set_parent(conn: Conn, story_id: str, channel: str, outbox_id: int) -> None:
    conn.execute("INSERT INTO threads (story_id, channel, outbox_id) VALUES (?, ?, ?) "
                 "ON CONFLICT (story_id, channel) DO UPDATE SET outbox_id = excluded.outbox_id",
                 (story_id, channel, outbox_id))


def pending(conn: Conn) -> list[tuple[OutboxRow, datetime]]:
    """Every pending row with its next attempt time, oldest first; replies and updates
    carry their parent's ts (None while the parent is unsent)."""
    rows = conn.execute(_WITH_PARENT, (State.PENDING,)).fetchall()
    return [(_row(r, r["parent_ts"]), datetime.fromisoformat(r["next_attempt"])) for r in rows]


def parent_channel_id(conn: Conn, row: OutboxRow) -> str | None:
    r = conn.execute(
        """SELECT p.channel_id FROM threads t JOIN outbox p ON p.id = t.outbox_id
           WHERE t.story_id = ? AND t.channel = ?""", (row.story_id, row.channel)).fetchone()
    return r[0] if r else None


def mark(conn: Conn, row_id: int, state: State, *, now: datetime,
         ts: str | None = None, channel_id: str | None = None, error: str | None = None,
         next_attempt: datetime | None = None, maybe_sent: bool | None = None,
         attempt: bool = True) -> None:
    """Move a row to `state`, recording what Slack answered or why it failed; a move to
    pending or dead counts an attempt unless `attempt` is False (nothing was tried)."""
    conn.execute(
        """UPDATE outbox SET state = ?, ts = COALESCE(?, ts),
               channel_id = COALESCE(?, channel_id), error = ?,
               attempts = attempts + CASE WHEN ? AND ? IN ('pending', 'dead') THEN 1 ELSE 0 END,
               sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END,
               next_attempt = COALESCE(?, next_attempt),
               maybe_sent = COALESCE(?, maybe_sent)
           WHERE id = ?""",
        (state, ts, channel_id, error, attempt, state, state, now.isoformat(),
         next_attempt.isoformat() if next_attempt else None,
         None if maybe_sent is None else int(maybe_sent), row_id),
    )


def inflight(conn: Conn) -> list[tuple[OutboxRow, datetime]]:
    """Rows a crash left mid-send, each with when its send began; replies and updates carry
    their parent's ts (a reply is looked for in its thread)."""
    rows = conn.execute(_WITH_PARENT, (State.INFLIGHT,)).fetchall()
    return [(_row(r, r["parent_ts"]), datetime.fromisoformat(r["next_attempt"])) for r in rows]


def due_now(conn: Conn, now: datetime) -> int:
    """Make pending rows due now, their backoff forgotten; how many were waiting. (Dead
    letters are sent again through `bot.requeue`.)"""
    return int(conn.execute(
        "UPDATE outbox SET next_attempt = ? WHERE state = ? AND next_attempt > ?",
        (now.isoformat(), State.PENDING, now.isoformat())).rowcount)


def with_item(conn: Conn, key: str) -> Any:
    """The row `key` with what its item said: kind, channel, story_id, item_id, and the
    item's title, rules, tags, severity, link, source and relevance score (None without an
    item); None if no such row."""
    return conn.execute(
        """SELECT o.kind, o.channel, o.story_id, o.item_id, i.title, i.rules, i.tags,
                  i.severity, i.link, i.source, i.relevance
           FROM outbox o LEFT JOIN items i ON i.id = o.item_id
           WHERE o.key = ?""", (key,)).fetchone()


def posted_at(conn: Conn, key: str) -> tuple[str, str] | None:
    """Where the row `key` went in Slack: (channel id, ts), None until it was sent."""
    r = conn.execute("SELECT channel_id, ts FROM outbox WHERE key = ?", (key,)).fetchone()
    return (r[0], r[1]) if r and r[0] and r[1] else None


def known_channel_id(conn: Conn, channel: str) -> str | None:
    """The Slack id of a channel we have posted to before (history lookups need ids)."""
    r = conn.execute("SELECT channel_id FROM outbox WHERE channel = ? AND channel_id IS NOT NULL "
                     "ORDER BY id DESC LIMIT 1", (channel,)).fetchone()
    return r[0] if r else None


def counts(conn: Conn) -> dict[str, int]:
    """Rows per state."""
    return {r[0]: int(r[1]) for r in conn.execute(
        "SELECT state, COUNT(*) FROM outbox GROUP BY state")}


def adopt_threads(conn: Conn, winner: str, losers: tuple[str, ...]) -> None:
    """Stories `losers` were folded into `winner`: in channels where only a loser has a parent
    alert, that parent becomes the winner's, so later reports thread under it."""
    for loser in losers:
        conn.execute(
            """UPDATE threads SET story_id = ? WHERE story_id = ? AND channel NOT IN
               (SELECT channel FROM threads WHERE story_id = ?)""", (winner, loser, winner))


def heads(conn: Conn) -> list[tuple[OutboxRow, datetime]]:
    """The oldest unsent row of each channel where that row is pending, oldest first: only a
    channel's oldest row may be sent, and decoding every waiting message each time one is
    sent made draining a long outbox quadratic. A channel whose oldest unsent row is in
    flight has no head until that row is settled: Slack may hold it, and the rows behind
    it (its replies, which need its ts) must not overtake it."""
    rows = conn.execute(
        """SELECT o.*, p.ts AS parent_ts FROM outbox o
           LEFT JOIN threads t ON t.story_id = o.story_id AND t.channel = o.channel
           LEFT JOIN outbox p ON p.id = t.outbox_id AND o.kind IN ('reply', 'update')
           WHERE o.id IN (SELECT MIN(id) FROM outbox WHERE state IN (?, ?) GROUP BY channel)
             AND o.state = ?
           ORDER BY o.id""", (State.PENDING, State.INFLIGHT, State.PENDING)).fetchall()
    return [(_row(r, r["parent_ts"]), datetime.fromisoformat(r["next_attempt"])) for r in rows]


def all_due(conn: Conn, now: datetime) -> None:
    """Make every pending row due now (a restart, or a new leader, is a retry point)."""
    conn.execute("UPDATE outbox SET next_attempt = ? WHERE state = ?",
                 (now.isoformat(), State.PENDING))


def last_sent(conn: Conn) -> dict[str, datetime]:
    """When each channel last took a message, so a new sender keeps Slack's pace."""
    return {channel: datetime.fromisoformat(when) for channel, when in conn.execute(
        "SELECT channel, MAX(sent_at) FROM outbox WHERE sent_at IS NOT NULL GROUP BY channel")}


def dead_rows(conn: Conn, most: int) -> list[dict[str, Any]]:
    """The latest dead letters: key, channel, kind, attempts, error, created."""
    return [dict(r) for r in conn.execute(
        "SELECT key, channel, kind, attempts, error, created FROM outbox WHERE state = 'dead' "
        "ORDER BY id DESC LIMIT ?", (most,))]


def oldest_pending(conn: Conn) -> str | None:
    """When the oldest pending row was queued (ISO text), None when nothing waits."""
    row = conn.execute("SELECT MIN(created) FROM outbox WHERE state = 'pending'").fetchone()
    return row[0] if row else None


def alerted_channels(conn: Conn) -> dict[str, set[str]]:
    """Channels each story alerted in: its parent alerts and its digest entries."""
    out: dict[str, set[str]] = {}
    for sql in ("SELECT story_id, channel FROM outbox WHERE kind = 'alert'",
                "SELECT story_id, channel FROM digest_entries"):
        for story, channel in conn.execute(sql):
            out.setdefault(story, set()).add(channel)
    return out
