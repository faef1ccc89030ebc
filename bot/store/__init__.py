"""State: feeds, items seen, the outbox, story threads, digests, leadership.

A `Store` (`base.py`) fronts two backends: `SqliteStore`, one file (the default), and
`PostgresStore`, a pool on PostgreSQL for replicas. All of chipwatch's SQL lives in this
package: one module per concern (feeds, items, outbox, digests, health, stories, lease,
status), each written once for both backends over a `Conn`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bot.store.base import Conn, FencedError, StateBusy, Store, savepoint
from bot.store.sqlite import SqliteStore

ENV_URL = "CHIPWATCH_DATABASE_URL"


def database_url(configured: str | None, env: Mapping[str, str]) -> str | None:
    """The PostgreSQL URL in use: $CHIPWATCH_DATABASE_URL, else `state.url`; None for
    SQLite."""
    return env.get(ENV_URL, "").strip() or configured or None


def open_store(url: str | None, path: Path | str, *, memory_copy: bool = False,
               name: str = "chipwatch", failover: float = 15.0) -> Store:
    """The PostgreSQL store at `url` if given, else the SQLite file at `path`. A
    `memory_copy` (dry runs) is an in-memory SQLite copy of either, written back to neither."""
    if url is None:
        return SqliteStore.open(path, memory_copy=memory_copy)
    from bot.store.postgres import PostgresStore  # psycopg is only loaded when used

    pg = PostgresStore.open(url, name=name, idle_in_tx=max(1.0, failover / 3))
    if not memory_copy:
        return pg
    from bot.store.copy import copy_state

    mem = SqliteStore.open(":memory:")
    try:
        copy_state(pg, mem)
    finally:
        pg.close()
    return mem


__all__ = ["ENV_URL", "Conn", "FencedError", "SqliteStore", "StateBusy", "Store", "database_url",
           "open_store", "savepoint"]
