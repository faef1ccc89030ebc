"""Alerts held for digest routes (`digest_entries`) until their period's message is queued."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.store.base import Conn


def add(conn: Conn, channel: str, story_id: str, item_id: str, title: str, link: str,
        source: str, severity: int, tags: str, published: str, created: str) -> None:
    """Hold one alert for `channel`'s next digest (once per channel and item)."""
    conn.execute(
        """INSERT INTO digest_entries (channel, story_id, item_id, title, link, source,
               severity, tags, published, created) VALUES (?,?,?,?,?,?,?,?,?,?)
           ON CONFLICT DO NOTHING""",
        (channel, story_id, item_id, title, link, source, severity, tags, published, created))


def waiting_channels(conn: Conn) -> list[str]:
    """Channels with entries not yet in a digest."""
    return [r[0] for r in conn.execute(
        "SELECT DISTINCT channel FROM digest_entries WHERE digest_key IS NULL")]


def waiting(conn: Conn, channel: str, before: str) -> list[Any]:
    """A channel's entries not yet in a digest, created before `before`, oldest first
    (rows: every `digest_entries` column)."""
    return list(conn.execute(
        """SELECT * FROM digest_entries WHERE channel = ? AND digest_key IS NULL
           AND created < ? ORDER BY id""", (channel, before)).fetchall())


def stamp(conn: Conn, key: str, ids: Sequence[int]) -> None:
    """Mark entries as queued in the digest message `key`."""
    conn.executemany("UPDATE digest_entries SET digest_key = ? WHERE id = ?",
                     [(key, i) for i in ids])


def waiting_counts(conn: Conn) -> dict[str, tuple[int, str | None]]:
    """Per channel: entries not yet in a digest, and when the oldest was held (ISO text)."""
    return {r[0]: (int(r[1]), r[2]) for r in conn.execute(
        "SELECT channel, COUNT(*), MIN(created) FROM digest_entries "
        "WHERE digest_key IS NULL GROUP BY channel")}
