"""What people did from Slack, in the state file: the action log (one row per Socket Mode
envelope, so a redelivered envelope is applied once), story and rule mutes, Not-relevant
marks and escalations. All of this module's SQL lives here."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime

from bot.slack.blocks import Message
from bot.store.base import Conn
from bot.store.outbox import OutboxRow, _row


@dataclass(frozen=True)
class Logged:
    """An envelope already handled: what became of it and what the user was told."""

    id: int
    outcome: str
    response: str


@dataclass(frozen=True)
class Mark:
    """One Not-relevant mark, with the item and the rules it came from."""

    item_id: str
    story_id: str | None
    channel: str
    user_id: str
    rules: tuple[str, ...]
    title: str
    link: str
    source: str
    created: datetime


@dataclass(frozen=True)
class ParentMarks:
    """What a parent alert shows about the actions taken on it."""

    muted_by: str | None
    irrelevant_by: tuple[str, ...]
    escalated: int | None  # distinct sources when it escalated


def logged(conn: Conn, envelope_id: str) -> Logged | None:
    """The earlier handling of this envelope, if any."""
    r = conn.execute("SELECT id, outcome, response FROM slack_actions WHERE envelope_id = ?",
                     (envelope_id,)).fetchone()
    return Logged(r[0], r[1], r[2]) if r else None


def log_action(conn: Conn, envelope_id: str, kind: str, user_id: str,
               channel_id: str | None, target: str | None, now: datetime) -> int:
    """Start the log row of an envelope (in the transaction that applies it); its id."""
    row = conn.execute(
        """INSERT INTO slack_actions (envelope_id, kind, user_id, channel_id, target, outcome,
               received) VALUES (?, ?, ?, ?, ?, 'applied', ?) RETURNING id""",
        (envelope_id, kind, user_id, channel_id, target, now.isoformat())).fetchone()
    return int(row[0])


def finish_action(conn: Conn, action_id: int, outcome: str,
                  response: str) -> None:
    conn.execute("UPDATE slack_actions SET outcome = ?, response = ? WHERE id = ?",
                 (outcome, response, action_id))


def parent_by_message(conn: Conn, channel_id: str, ts: str) -> OutboxRow | None:
    """The parent alert Slack shows at (channel id, ts), with its story as now merged."""
    r = conn.execute(
        """SELECT o.*, COALESCE(t.story_id, o.story_id) AS live_story FROM outbox o
           LEFT JOIN threads t ON t.outbox_id = o.id
           WHERE o.channel_id = ? AND o.ts = ? AND o.kind = 'alert'""",
        (channel_id, ts)).fetchone()
    if r is None:
        return None
    return replace(_row(r), story_id=r["live_story"])


def latest_message(conn: Conn, story_id: str, channel: str) -> Message | None:
    """The parent's newest content in a channel: its last update, else the alert itself."""
    r = conn.execute(
        """SELECT payload FROM outbox WHERE story_id IN (?, (SELECT o.story_id FROM threads t
               JOIN outbox o ON o.id = t.outbox_id WHERE t.story_id = ? AND t.channel = ?))
           AND channel = ? AND kind IN ('alert', 'update') ORDER BY id DESC LIMIT 1""",
        (story_id, story_id, channel, channel)).fetchone()
    if r is None:
        return None
    payload = json.loads(r[0])
    return Message(payload["text"], payload["blocks"])


def item_rules(conn: Conn, item_id: str) -> tuple[tuple[str, ...], str, str, str]:
    """An item's fired rules, title, link and source."""
    r = conn.execute("SELECT rules, title, link, source FROM items WHERE id = ?",
                     (item_id,)).fetchone()
    if r is None:
        return (), "", "", ""
    return tuple(json.loads(r[0] or "[]")), r[1], r[2], r[3]


def mute_story(conn: Conn, story_id: str, channel: str, user_id: str,
               action_id: int, now: datetime) -> bool:
    """Mute a story in a channel; False if it already was."""
    cur = conn.execute(
        """INSERT INTO story_mutes (story_id, channel, user_id, action_id, created)
           VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
        (story_id, channel, user_id, action_id, now.isoformat()))
    return cur.rowcount > 0


def story_muted(conn: Conn, story_id: str, channel: str) -> bool:
    return conn.execute("SELECT 1 FROM story_mutes WHERE story_id = ? AND channel = ?",
                        (story_id, channel)).fetchone() is not None


def story_mutes(conn: Conn, limit: int = 20) -> list[tuple[str, str, str, str]]:
    """Recent story mutes: (story id, channel, user id, created)."""
    return [tuple(r) for r in conn.execute(
        "SELECT story_id, channel, user_id, created FROM story_mutes ORDER BY created DESC "
        "LIMIT ?", (limit,))]


def mute_rule(conn: Conn, rule_id: str, until: datetime, user_id: str,
              action_id: int, now: datetime) -> None:
    conn.execute(
        """INSERT INTO rule_mutes (rule_id, until, user_id, action_id, created)
           VALUES (?, ?, ?, ?, ?) ON CONFLICT (rule_id) DO UPDATE SET until = excluded.until,
           user_id = excluded.user_id, action_id = excluded.action_id,
           created = excluded.created""", (rule_id, until.isoformat(), user_id, action_id,
                                        now.isoformat()))


def unmute_rule(conn: Conn, rule_id: str) -> bool:
    return conn.execute("DELETE FROM rule_mutes WHERE rule_id = ?", (rule_id,)).rowcount > 0


def muted_rules(conn: Conn, now: datetime) -> dict[str, tuple[datetime, str]]:
    """Rules muted from Slack at `now`: rule id → (until, who)."""
    return {r[0]: (datetime.fromisoformat(r[1]), r[2]) for r in conn.execute(
        "SELECT rule_id, until, user_id FROM rule_mutes WHERE until > ? ORDER BY rule_id",
        (now.isoformat(),))}


def add_mark(conn: Conn, mark: Mark, action_id: int) -> bool:
    """Record a Not-relevant mark; False if this user already marked this item here."""
    cur = conn.execute(
        """INSERT INTO feedback (item_id, story_id, channel, user_id, rules, title,
               link, source, action_id, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT DO NOTHING""",
        (mark.item_id, mark.story_id, mark.channel, mark.user_id, json.dumps(mark.rules),
         mark.title, mark.link, mark.source, action_id, mark.created.isoformat()))
    return cur.rowcount > 0


def marks(conn: Conn, limit: int | None = None) -> list[Mark]:
    """Not-relevant marks, newest first."""
    sql = ("SELECT item_id, story_id, channel, user_id, rules, title, link, source, created "
           "FROM feedback ORDER BY id DESC")
    rows = conn.execute(sql + " LIMIT ?", (limit,)) if limit else conn.execute(sql)
    return [Mark(r[0], r[1], r[2], r[3], tuple(json.loads(r[4])), r[5], r[6], r[7],
                 datetime.fromisoformat(r[8])) for r in rows]


def parent_marks(conn: Conn, story_id: str, channel: str) -> ParentMarks:
    """What the parent of `story_id` in `channel` should show."""
    muted = conn.execute("SELECT user_id FROM story_mutes WHERE story_id = ? AND channel = ?",
                         (story_id, channel)).fetchone()
    users = tuple(r[0] for r in conn.execute(
        "SELECT user_id FROM feedback WHERE story_id = ? AND channel = ? GROUP BY user_id "
        "ORDER BY MIN(id)",
        (story_id, channel)))
    esc = conn.execute("SELECT sources FROM escalations WHERE story_id = ?",
                       (story_id,)).fetchone()
    return ParentMarks(muted[0] if muted else None, users, esc[0] if esc else None)


def distinct_sources(conn: Conn, story_id: str, since: datetime) -> int:
    """Distinct outlets that reported a story (or stories merged into it) since `since`."""
    r = conn.execute(
        """SELECT COUNT(DISTINCT source) FROM items WHERE published >= ? AND status = 'alert'
           AND (story_id = ? OR story_id IN
                (SELECT id FROM story_stories WHERE merged_into = ?))""",
        (since.isoformat(), story_id, story_id)).fetchone()
    return int(r[0])


def escalate(conn: Conn, story_id: str, sources: int, now: datetime) -> bool:
    """Record that a story escalated; False if it already had (once per story, ever)."""
    cur = conn.execute(
        "INSERT INTO escalations (story_id, sources, reached) VALUES (?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        (story_id, sources, now.isoformat()))
    return cur.rowcount > 0


def pending_escalations(conn: Conn) -> list[tuple[str, int, datetime]]:
    """Escalations not yet queued for posting: (story id, sources, reached)."""
    return [(r[0], r[1], datetime.fromisoformat(r[2])) for r in conn.execute(
        "SELECT story_id, sources, reached FROM escalations WHERE state = 'pending' "
        "ORDER BY reached")]


def escalation_queued(conn: Conn, story_id: str, now: datetime) -> None:
    conn.execute("UPDATE escalations SET state = 'queued', queued = ? WHERE story_id = ?",
                 (now.isoformat(), story_id))


def story_parents(conn: Conn, story_id: str) -> list[tuple[str, str, str | None,
                                                                        str | None, int]]:
    """A story's parent alerts: (channel, state, channel id, ts, outbox id), oldest first."""
    return [tuple(r) for r in conn.execute(
        """SELECT o.channel, o.state, o.channel_id, o.ts, o.id FROM threads t
           JOIN outbox o ON o.id = t.outbox_id WHERE t.story_id = ? ORDER BY o.id""",
        (story_id,))]


def story_item(conn: Conn, story_id: str) -> tuple[str, str, str, int] | None:
    """A story's first alerting item: (title, link, source, severity)."""
    r = conn.execute(
        """SELECT title, link, source, COALESCE(severity, 0) FROM items
           WHERE story_id = ? AND status = 'alert' ORDER BY fetched, published LIMIT 1""",
        (story_id,)).fetchone()
    return (r[0], r[1], r[2], r[3]) if r else None


def marked_rules(conn: Conn) -> list[tuple[str, str]]:
    """Per Not-relevant mark: its item's story (else the item) and the rules (JSON list)."""
    return [(r[0], r[1]) for r in conn.execute(
        "SELECT COALESCE(i.story_id, f.item_id), f.rules FROM feedback f "
        "LEFT JOIN items i ON i.id = f.item_id")]
