"""Feed health notices open in the ops channel (`feed_notices`), and the feed facts that
decide them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.store.base import Conn


def feed_health(conn: Conn, names: Sequence[str]) -> list[Any]:
    """Per named feed: (name, failing_since, last_error, last_new_item, errors)."""
    marks = ",".join("?" * len(names))
    return list(conn.execute(f"SELECT name, failing_since, last_error, last_new_item, errors "
                             f"FROM feeds WHERE name IN ({marks})", tuple(names)).fetchall())


def open_notices(conn: Conn, names: Sequence[str]) -> dict[tuple[str, str], str]:
    """The open notices of the named feeds: (feed, kind) → since (ISO text)."""
    marks = ",".join("?" * len(names))
    return {(r[0], r[1]): r[2] for r in conn.execute(
        f"SELECT feed, kind, since FROM feed_notices WHERE feed IN ({marks})", tuple(names))}


def all_open(conn: Conn) -> dict[str, list[str]]:
    """Every feed's open notice kinds."""
    out: dict[str, list[str]] = {}
    for feed, kind in conn.execute("SELECT feed, kind FROM feed_notices ORDER BY kind"):
        out.setdefault(feed, []).append(kind)
    return out


def open_notice(conn: Conn, feed: str, kind: str, since: str, now: datetime) -> None:
    conn.execute("INSERT INTO feed_notices (feed, kind, since, noticed) VALUES (?, ?, ?, ?) "
                 "ON CONFLICT (feed, kind) DO UPDATE SET since = excluded.since, "
                 "noticed = excluded.noticed", (feed, kind, since, now.isoformat()))


def close_notice(conn: Conn, feed: str, kind: str) -> None:
    conn.execute("DELETE FROM feed_notices WHERE feed = ? AND kind = ?", (feed, kind))
