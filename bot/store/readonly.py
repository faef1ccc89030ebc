"""A read-only look at the state beside a running bot (`status`): the SQLite file opened
with `mode=ro` (never written, migrated or locked for writing), or a PostgreSQL session in
read-only mode. Errors of either driver come out as `StoreError`."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.errors import StoreError
from bot.store.base import Conn


@contextmanager
def read_only(url: str | None, path: Path) -> Iterator[tuple[Conn, str]]:
    """A connection for reads and what it reads (the file, or the URL without password)."""
    if url is None:
        if not path.exists():
            raise StoreError(f"no state file at {path} (the bot has not run yet)")
        try:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read state file {path}: {exc}") from None
        conn.row_factory = sqlite3.Row
        try:
            yield conn, str(path)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read state file {path}: {exc}") from None
        finally:
            conn.close()
        return
    import psycopg

    from bot.store.postgres import PgConn, redact_url, row_factory

    where = redact_url(url)
    try:
        raw: psycopg.Connection[Any] = psycopg.connect(url, row_factory=row_factory,
                                                       connect_timeout=10)
    except psycopg.Error as exc:
        raise StoreError(f"cannot read database {where}: {exc}") from None
    try:
        raw.read_only = True
        yield PgConn(raw), where
    except psycopg.Error as exc:
        raise StoreError(f"cannot read database {where}: {exc}") from None
    finally:
        raw.close()


def tables(conn: Conn) -> set[str]:
    """The names of the tables in the state (either backend)."""
    if isinstance(conn, sqlite3.Connection):
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {r[0] for r in conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}
