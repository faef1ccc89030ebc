"""The SQLite state file: opened in WAL mode, migrated on open, one connection behind a lock."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.errors import StoreError
from bot.store.migrations import MIGRATIONS


class Database:
    """One connection shared by the poller's threads; `tx()` is the only way to write."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self.conn = conn
        self.path = path
        self.lock = threading.RLock()

    @classmethod
    def open(cls, path: str | Path, *, memory_copy: bool = False) -> Database:
        """Open (creating folders and schema as needed). `memory_copy` works on an in-memory
        copy of the file, so nothing is written back (used by dry runs and replays)."""
        path = str(path)
        conn: sqlite3.Connection | None = None
        try:
            if memory_copy:
                conn = sqlite3.connect(":memory:", check_same_thread=False)
                if path != ":memory:" and Path(path).exists():
                    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
                    src.backup(conn)
                    src.close()
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
        except (sqlite3.DatabaseError, OSError) as exc:
            if conn is not None:
                conn.close()
            reason = exc.strerror if isinstance(exc, OSError) else str(exc)
            raise StoreError(f"state file {path}: {reason}") from None
        return db

    def migrate(self) -> None:
        """Apply the migrations not yet applied, each in its own transaction."""
        with self.lock:
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise StoreError(
                    f"state file {self.path} has schema v{version}, newer than this chipwatch "
                    f"(v{len(MIGRATIONS)}); upgrade chipwatch"
                )
            for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
                sql = step if isinstance(step, str) else step()
                # executescript commits first; BEGIN makes the step and its version one unit.
                self.conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version={number};\nCOMMIT;")

    @property
    def version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed on success, rolled back on any exception."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.rollback()
                raise
            self.conn.commit()

    def read(self, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        with self.lock:
            return list(self.conn.execute(sql, params).fetchall())

    def close(self) -> None:
        with self.lock:
            self.conn.close()
