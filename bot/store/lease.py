"""The leadership lease on PostgreSQL: one `leader` row holds the term (the fencing token
every write checks), who holds it and until when; `replicas` holds each replica's last word.

Times are the database server's (`clock_timestamp()`), so replicas need no synchronized
clocks. A takeover bumps the term and, in the same transaction, takes the writer lock: it
waits for the old leader's write in progress (if any) to end, and every write after it sees
the new term (see `bot.store.postgres`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.store.base import WRITER_LOCK, Conn

_SECONDS = "? * interval '1 second'"


@dataclass(frozen=True)
class LeaderRow:
    """The lease as the database sees it now."""

    term: int
    holder: str | None
    expires_in: float | None  # seconds; negative once lapsed; None when released


@dataclass(frozen=True)
class ReplicaRow:
    """One replica's last report."""

    name: str
    role: str
    term: int | None
    seen_ago: float


def try_acquire(conn: Conn, name: str, ttl: float, wait: float) -> int | None:
    """Take the lease if it is free or lapsed, in the caller's transaction: the new term,
    or None if another replica holds it. Waits for the writer lock (the old leader's write
    in progress, if any) at most `wait` seconds, then raises LockNotAvailable."""
    conn.execute(f"SET LOCAL lock_timeout = {int(wait * 1000)}")
    row = conn.execute(
        f"UPDATE leader SET term = term + 1, holder = ?, acquired = clock_timestamp(), "
        f"expires = clock_timestamp() + {_SECONDS} WHERE id = 1 "
        f"AND (holder IS NULL OR expires < clock_timestamp()) RETURNING term",
        (name, ttl)).fetchone()
    if row is None:
        return None
    conn.execute("SELECT pg_advisory_xact_lock(?)", (WRITER_LOCK,))
    return int(row[0])


def renew(conn: Conn, name: str, term: int, ttl: float) -> bool:
    """Extend this replica's lease; False if it is no longer the holder of `term`."""
    row = conn.execute(
        f"UPDATE leader SET expires = clock_timestamp() + {_SECONDS} "
        f"WHERE id = 1 AND holder = ? AND term = ? RETURNING term", (ttl, name, term)).fetchone()
    return row is not None


def release(conn: Conn, name: str, term: int) -> None:
    """Give the lease up (a clean stop), so a standby takes over at once."""
    conn.execute("UPDATE leader SET holder = NULL, expires = NULL "
                 "WHERE id = 1 AND holder = ? AND term = ?", (name, term))


def leader(conn: Conn) -> LeaderRow:
    """The current lease."""
    row = conn.execute(
        "SELECT term, holder, EXTRACT(EPOCH FROM expires - clock_timestamp()) "
        "FROM leader WHERE id = 1").fetchone()
    return LeaderRow(int(row[0]), row[1], None if row[2] is None else float(row[2]))


def report(conn: Conn, name: str, role: str, term: int | None) -> None:
    """Record this replica's role now (status and /healthz show every replica)."""
    conn.execute(
        "INSERT INTO replicas (name, role, term, started, seen) "
        "VALUES (?, ?, ?, clock_timestamp(), clock_timestamp()) ON CONFLICT (name) DO UPDATE "
        "SET role = excluded.role, term = excluded.term, seen = excluded.seen",
        (name, role, term))


def replicas(conn: Conn, within: float) -> list[ReplicaRow]:
    """Replicas heard from in the last `within` seconds, by name."""
    rows: list[Any] = conn.execute(
        "SELECT name, role, term, EXTRACT(EPOCH FROM clock_timestamp() - seen) AS ago "
        f"FROM replicas WHERE seen > clock_timestamp() - {_SECONDS} ORDER BY name",
        (within,)).fetchall()
    return [ReplicaRow(r[0], r[1], r[2], float(r[3])) for r in rows]
