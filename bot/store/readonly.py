"""A read-only look at the state beside a running bot (`status`, `replay`, `feedback`): the
SQLite file opened with `mode=ro` (never written, migrated or locked for writing; as an
immutable snapshot where even that fails), or a PostgreSQL session in read-only mode. Errors
of either driver come out as `StoreError`."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.errors import StoreError
from bot.store.base import Conn


def open_file(path: Path) -> tuple[sqlite3.Connection, bool]:
    """The state file, read-only; (connection, whether it is an immutable snapshot). Also
    the source of a dry run's in-memory copy."""
    uri = path.resolve().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True)
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        # A WAL database needs a -shm file beside it even to read; in a directory we may not
        # write, `immutable` reads the file as it stands (no locks, no -shm).
        conn.close()
        conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True)
        snapshot = True
    else:
        snapshot = False
    conn.row_factory = sqlite3.Row
    return conn, snapshot


@contextmanager
def read_only(url: str | None, path: Path) -> Iterator[tuple[Conn, str, bool]]:
    """A connection for reads, what it reads (the file, or the URL without password), and
    whether that is an immutable snapshot (a SQLite file in a directory we may not write)."""
    if url is None:
        if not path.exists():
            raise StoreError(f"no state file at {path} (the bot has not run yet)")
        try:
            conn, snapshot = open_file(path)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read state file {path}: {exc}") from None
        try:
            yield conn, str(path), snapshot
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
        yield PgConn(raw), where, False
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


def columns(conn: Conn, table: str) -> set[str]:
    """The column names of `table` (either backend): a state not yet migrated by the bot
    may lack the newest."""
    if isinstance(conn, sqlite3.Connection):
        return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
    return {r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = ?", (table,))}
