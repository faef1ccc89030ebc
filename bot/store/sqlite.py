"""`SqliteStore`: the state in one SQLite file, in WAL mode, migrated on open, one connection
behind a lock. The default backend: nothing to install, one process."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.errors import StoreError
from bot.store.base import Conn, Fence
from bot.store.migrations import MIGRATIONS, migration_sql
from bot.store.readonly import open_file

log = logging.getLogger("chipwatch.store")


class SqliteStore:
    """One connection shared by the bot's threads; `tx()` is the only way to write. There is
    one replica on a file, so the fence is kept but never consulted."""

    backend = "sqlite"

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self._conn = conn
        self.path = self.where = path
        self.lock = threading.RLock()
        self.fence: Fence | None = None

    @classmethod
    def open(cls, path: str | Path, *, memory_copy: bool = False) -> SqliteStore:
        """Open (creating folders and schema as needed). `memory_copy` works on an in-memory
        copy of the file, so nothing is written back (used by dry runs and replays)."""
        path = str(path)
        conn: sqlite3.Connection | None = None
        try:
            if memory_copy:
                conn = sqlite3.connect(":memory:", check_same_thread=False)
                if path != ":memory:" and Path(path).exists():
                    _copy_into(conn, Path(path))
            else:
                if path != ":memory:":
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.row_factory = sqlite3.Row
            db = cls(conn, path)
            db.migrate()
        except (sqlite3.DatabaseError, OSError, StoreError) as exc:
            if conn is not None:
                conn.close()
            hint = None if memory_copy else _unwritable(Path(path))
            if isinstance(exc, StoreError) and hint is None:
                raise  # it names the file and the cause already (a newer schema…)
            reason = (exc.strerror or str(exc)) if isinstance(exc, OSError) else str(exc)
            if hint:
                reason = (f"{hint} ({reason}); run writes its state there (run --dry-run, "
                          "status and replay only read)")
            raise StoreError(f"state file {path}: {reason}") from None
        return db

    def migrate(self) -> None:
        """Apply the migrations not yet applied, each in its own transaction."""
        with self.lock:
            version = self.version
            if version > len(MIGRATIONS):
                raise StoreError(
                    f"state file {self.path} has schema v{version}, newer than this chipwatch "
                    f"(v{len(MIGRATIONS)}); upgrade chipwatch"
                )
            for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
                sql = migration_sql(step, self.backend)
                # executescript commits first; BEGIN makes the step and its version one unit.
                self._conn.executescript(
                    f"BEGIN;\n{sql}\nPRAGMA user_version={number};\nCOMMIT;")

    @property
    def version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    @property
    def in_memory(self) -> bool:
        """Whether this is an in-memory database (a dry run's copy, a backtest)."""
        with self.lock:
            row = self._conn.execute("PRAGMA database_list").fetchone()
        return not row[2]  # the main database's file name is empty in memory

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection (a thread uses it inside `tx()` or `reading()`)."""
        return self._conn

    def set_fence(self, fence: Fence | None) -> None:
        self.fence = fence

    @contextmanager
    def tx(self) -> Iterator[Conn]:
        """A write transaction: committed on success, rolled back on any exception."""
        with self.lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.rollback()
                raise
            self._conn.commit()

    @contextmanager
    def reading(self) -> Iterator[Conn]:
        """The connection, for reads, while no other thread uses it."""
        with self.lock:
            yield self._conn

    def read(self, sql: str, params: tuple[object, ...] = ()) -> list[Any]:
        with self.lock:
            return list(self._conn.execute(sql, params).fetchall())

    def close(self) -> None:
        with self.lock:
            self._conn.close()


def _copy_into(conn: sqlite3.Connection, path: Path) -> None:
    """Copy the state file into `conn` without writing beside it: in a directory this user
    may not write, the file is read as it stands (an immutable snapshot)."""
    src, snapshot = open_file(path)
    try:
        src.backup(conn)
    finally:
        src.close()
    if snapshot:
        log.warning("state_snapshot path=%s reason=read_only_directory "
                    "note=changes_not_yet_checkpointed_are_not_seen", path)


def _unwritable(path: Path) -> str | None:
    """What is read-only when SQLite only says "unable to open" or "readonly database"."""
    folder = path.parent
    if folder.is_dir() and not os.access(folder, os.W_OK):  # WAL writes files beside it
        return f"the state directory {folder} is read-only for this user"
    if path.exists() and not os.access(path, os.W_OK):
        return "the state file is read-only for this user"
    if not folder.is_dir():
        return f"cannot create the state directory {folder}"
    return None
