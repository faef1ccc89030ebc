"""Retention's SQL: what `state.keep` lets go, one small batch per call, never what is still
in use.

Each `remove_*` takes the ids of one batch and deletes them, in the caller's transaction, and
returns how many it took (fewer than `limit`: nothing more to take). Items no rule fired on
(`nomatch`, most of what feeds carry) go at the shorter `unmatched` cut-off, except each
feed's newest `FEED_HISTORY` (its cadence, for feed health; a feed document's items, so
none turns new again while it is served). A story is *live* while
it was seen within the cut-off (or was merged into one that was); what a live story needs
stays: its members and index entries, its items, its parent alerts (through `threads`), its
mutes and escalations. Rows not yet sent (pending, in flight, dead letters), alerts waiting
for a digest, escalations not yet posted and rule mutes still in force are never taken.
Timestamps are ISO text in UTC, so comparing text compares times.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from bot.store.base import Conn
from bot.store.stories import _ts

BATCH = 500
FEED_HISTORY = 31  # newest items of each feed kept whatever their age (health.HISTORY + 1)


class Cuts(NamedTuple):
    """The cut-offs: `keep` for everything, `unmatched` for items no rule fired on."""

    keep: datetime
    unmatched: datetime

# Stories still live at the cut-off: seen since, or merged into one seen since. (? = cut)
_LIVE = ("SELECT id FROM story_stories WHERE last_seen >= ? UNION SELECT id FROM "
         "story_stories WHERE merged_into IN (SELECT id FROM story_stories WHERE last_seen >= ?)")


def _ids(conn: Conn, sql: str, params: Sequence[Any]) -> list[Any]:
    return [r[0] for r in conn.execute(sql, tuple(params))]


def _delete(conn: Conn, table: str, key: str, ids: Sequence[Any]) -> None:
    if ids:
        marks = ",".join("?" * len(ids))
        conn.execute(f"DELETE FROM {table} WHERE {key} IN ({marks})", tuple(ids))


def remove_stories(conn: Conn, cuts: Cuts, limit: int = BATCH) -> int:
    """Stories not seen since the cut-off (and not merged into a live one, and with no
    escalation waiting to be posted): with their members, index entries, threads, mutes,
    escalations."""
    ts = _ts(cuts.keep)
    ids = _ids(conn, "SELECT id FROM story_stories WHERE last_seen < ? AND (merged_into IS "
               "NULL OR merged_into NOT IN (SELECT id FROM story_stories WHERE last_seen >= ?)) "
               "AND id NOT IN (SELECT story_id FROM escalations WHERE state = 'pending') "
               "ORDER BY last_seen LIMIT ?", (ts, ts, limit))
    for table in ("story_items", "story_mutes", "escalations", "threads"):
        _delete(conn, table, "story_id", ids)
    _delete(conn, "story_stories", "id", ids)
    return len(ids)


def remove_sent(conn: Conn, cuts: Cuts, limit: int = BATCH) -> int:
    """Outbox rows sent and created before the cut-off, except those of live stories and the
    parent alerts live stories thread under; then threads whose parent row is gone."""
    cut = cuts.keep
    live = (_ts(cut),) * 2
    ids = _ids(conn, f"SELECT id FROM outbox WHERE created < ? AND state = 'sent' AND "
               f"(story_id IS NULL OR story_id NOT IN ({_LIVE})) AND id NOT IN (SELECT "
               f"outbox_id FROM threads WHERE story_id IN ({_LIVE})) ORDER BY created LIMIT ?",
               (cut.isoformat(), *live, *live, limit))
    _delete(conn, "outbox", "id", ids)
    if ids:
        conn.execute("DELETE FROM threads WHERE outbox_id NOT IN (SELECT id FROM outbox)")
    return len(ids)


def remove_items(conn: Conn, cuts: Cuts, limit: int = BATCH) -> int:
    """Items first seen before the cut-off, except those of live stories, of rows not yet
    sent and of alerts waiting for a digest."""
    cut = cuts.keep
    live = (_ts(cut),) * 2
    ids = _ids(conn, f"SELECT id FROM items WHERE fetched < ? AND (story_id IS NULL OR "
               f"story_id NOT IN ({_LIVE})) AND id NOT IN (SELECT item_id FROM outbox WHERE "
               "state != 'sent' AND item_id IS NOT NULL) AND id NOT IN (SELECT item_id FROM "
               "digest_entries WHERE digest_key IS NULL) ORDER BY fetched LIMIT ?",
               (cut.isoformat(), *live, limit))
    _delete(conn, "items", "id", ids)
    return len(ids)


def remove_unmatched(conn: Conn, cuts: Cuts, limit: int = BATCH) -> int:
    """Items no rule fired on, first seen before the `unmatched` cut-off, feed by feed,
    except each feed's newest FEED_HISTORY."""
    taken: list[Any] = []
    feeds = _ids(conn, "SELECT DISTINCT feed FROM items", ())
    for feed in feeds:
        if len(taken) >= limit:
            break
        taken += _ids(conn, "SELECT id FROM items WHERE feed = ? AND fetched < ? AND status = "
                      "'nomatch' AND id NOT IN (SELECT id FROM items WHERE feed = ? ORDER BY "
                      "fetched DESC LIMIT ?) LIMIT ?",
                      (feed, cuts.unmatched.isoformat(), feed, FEED_HISTORY,
                       limit - len(taken)))
    _delete(conn, "items", "id", taken)
    return len(taken)


def remove_digested(conn: Conn, cuts: Cuts, limit: int = BATCH) -> int:
    """Digest entries from before the cut-off whose digest message was sent."""
    ids = _ids(conn, "SELECT id FROM digest_entries WHERE created < ? AND digest_key IS NOT "
               "NULL AND digest_key NOT IN (SELECT key FROM outbox WHERE state != 'sent') "
               "LIMIT ?", (cuts.keep.isoformat(), limit))
    _delete(conn, "digest_entries", "id", ids)
    return len(ids)


def remove_actions(conn: Conn, cuts: Cuts, limit: int = BATCH) -> int:
    """Slack actions received before the cut-off (a redelivery comes within minutes), except
    those a mute or a Not-relevant mark still names; rule mutes that ended before it."""
    cut = cuts.keep
    conn.execute("DELETE FROM rule_mutes WHERE until < ?", (cut.isoformat(),))
    ids = _ids(conn, "SELECT id FROM slack_actions WHERE received < ? AND id NOT IN (SELECT "
               "action_id FROM story_mutes) AND id NOT IN (SELECT action_id FROM rule_mutes) "
               "AND id NOT IN (SELECT action_id FROM feedback) LIMIT ?",
               (cut.isoformat(), limit))
    _delete(conn, "slack_actions", "id", ids)
    return len(ids)


STEPS = (("stories", remove_stories), ("outbox", remove_sent), ("items", remove_items),
         ("unmatched", remove_unmatched), ("digests", remove_digested),
         ("actions", remove_actions))
"""In this order: a story goes first, so its rows are no longer held by it."""


def record(conn: Conn, ran: datetime, cut: datetime, removed: int, seconds: float) -> None:
    """Remember the last run (one row)."""
    conn.execute("INSERT INTO retention (id, ran, cutoff, removed, seconds) VALUES "
                 "(1, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET ran = excluded.ran, "
                 "cutoff = excluded.cutoff, removed = excluded.removed, "
                 "seconds = excluded.seconds",
                 (ran.isoformat(), cut.isoformat(), removed, round(seconds, 3)))


def last_run(conn: Conn) -> dict[str, Any] | None:
    """The last run: when, its cut-off, how many rows it removed, how long it took."""
    row = conn.execute("SELECT ran, cutoff, removed, seconds FROM retention WHERE id = 1"
                       ).fetchone()
    if row is None:
        return None
    return {"ran": row[0], "cutoff": row[1], "removed": int(row[2]),
            "seconds": float(row[3])}


def oldest(conn: Conn) -> str | None:
    """When the oldest item or message in the state was recorded."""
    times = [conn.execute("SELECT MIN(fetched) FROM items").fetchone()[0],
             conn.execute("SELECT MIN(created) FROM outbox").fetchone()[0]]
    found = [str(t) for t in times if t]
    return min(found, key=datetime.fromisoformat) if found else None
