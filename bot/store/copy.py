"""Copy the state of one store into another (`chipwatch state copy`, and dry runs on
PostgreSQL, which work on an in-memory SQLite copy): every table the migrations create that
belongs to the install — feeds and their validators, items seen, stories, the outbox and
threads, digest entries, open feed notices, and what the team did in Slack (actions by
envelope, story and rule mutes, Not-relevant marks, escalations).

The copy is one transaction on the target: it lands whole or not at all. A target that
already holds state is refused unless `force`, which replaces that state, so running the
same copy again gives the same target.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from bot.errors import StoreError
from bot.store.base import Conn, Store

# In an order that keeps every reference resolvable (threads point at outbox rows; mutes,
# marks and escalations at actions and stories).
TABLES = ("feeds", "items", "story_stories", "story_items", "outbox", "threads",
          "digest_entries", "feed_notices", "slack_actions", "story_mutes", "rule_mutes",
          "feedback", "escalations", "retention")
# Tables that belong to the database rather than the install, and why they stay as they are.
# Every other table must be in TABLES (a test lists the schema's tables against both).
NOT_COPIED = {
    "leader": "the lease of the replicas running on the target",
    "replicas": "the replicas running on the target",
    "schema_version": "the target's own migration count",
    "sqlite_sequence": "SQLite's own id counters",
}
SERIALS = ("outbox", "digest_entries", "slack_actions", "feedback")  # ids from a sequence
_CHUNK = 1000


def _columns(conn: Conn, table: str) -> list[str]:
    cur = conn.execute(f"SELECT * FROM {table} LIMIT 0")
    return [d[0] for d in cur.description]


def counts(conn: Conn) -> dict[str, int]:
    """Rows per copied table."""
    return {t: int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in TABLES}


def copy_state(src: Store, dst: Store, *, force: bool = False) -> dict[str, int]:
    """Copy every table of `src` into `dst`; returns rows copied per table. Raises
    StoreError when `dst` holds state and `force` is not given."""
    with src.reading() as read, dst.tx() as write:
        held = {t: n for t, n in counts(write).items() if n}
        if held and not force:
            raise StoreError(f"{dst.where} already holds state ("
                             + ", ".join(f"{t}: {n}" for t, n in held.items())
                             + "); use --force to replace it")
        for table in reversed(TABLES):
            write.execute(f"DELETE FROM {table}")
        copied: dict[str, int] = {}
        for table in TABLES:
            columns = _columns(read, table)
            sql = (f"INSERT INTO {table} ({', '.join(columns)}) "
                   f"VALUES ({', '.join('?' * len(columns))})")
            rows = iter(read.execute(f"SELECT * FROM {table}"))
            copied[table] = 0
            while chunk := [tuple(r) for r in islice(rows, _CHUNK)]:
                write.executemany(sql, chunk)
                copied[table] += len(chunk)
        if dst.backend == "postgresql":
            for table in SERIALS:
                _restart_sequence(write, table)
    return copied


def _restart_sequence(conn: Conn, table: str) -> None:
    """Ids the copy brought are taken: the sequence goes on after the largest."""
    conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                 f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)")


def describe(copied: dict[str, Any]) -> str:
    """One line per table, for the command's output."""
    return "\n".join(f"  {table:<15} {n:>9,} rows" for table, n in copied.items())
