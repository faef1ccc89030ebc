"""`SqliteStore`: the state in one SQLite file, in WAL mode, migrated on open, one connection
behind a lock. The default backend: nothing to install, one process.

A write the file cannot take (SQLite's `database or disk is full`, an I/O error, a read-only
file) raises `StateWriteError` and is kept in `faults` until a later write commits."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.errors import StateWriteError, StoreError
from bot.store.base import Conn, Fence, StateBusy
from bot.store.faults import WriteHealth
from bot.store.migrations import MIGRATIONS, migration_sql
from bot.store.readonly import open_file

# Primary result codes of a write the disk could not take (the rest are our bugs or locks).
WRITE_FAULTS = frozenset({sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY})
BUSY_TIMEOUT = 30  # seconds a statement waits for another process's lock on the file
# A write-ahead log keeps the size of its largest burst on disk unless told otherwise; past a
# checkpoint it is cut back to this, so the state's footprint follows what it holds.
WAL_LIMIT = 4 * 1024 * 1024


class FaultConnection(sqlite3.Connection):
    """A connection whose disk-level write errors are `StateWriteError`s, reported to
    `faults` as they happen: the poller and the sender treat a StoreError as "the database,
    not this feed or row", and a caught error must still count as a failed write."""

    faults: WriteHealth

    def _fault(self, exc: sqlite3.OperationalError) -> Exception:
        if exc.sqlite_errorcode & 0xFF not in WRITE_FAULTS:
            return exc
        self.faults.failed(str(exc))
        return StateWriteError(f"state file: {exc}")

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.OperationalError as exc:
            raise self._fault(exc) from exc

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        try:
            return super().executemany(sql, parameters)
        except sqlite3.OperationalError as exc:
            raise self._fault(exc) from exc

    def commit(self) -> None:
        try:
            super().commit()
        except sqlite3.OperationalError as exc:
            raise self._fault(exc) from exc


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
        self.faults = getattr(conn, "faults", None) or WriteHealth()

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
                fresh = path == ":memory:" or not Path(path).exists()
                if path != ":memory:":
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(path, check_same_thread=False, timeout=BUSY_TIMEOUT,
                                       factory=FaultConnection)
                conn.faults = WriteHealth()
                if fresh:  # only before the first table: retention gives pages back
                    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
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
    def tx(self, wait: float | None = None) -> Iterator[Conn]:
        """A write transaction: committed on success, rolled back on any exception. A commit
        that changed something ends a write fault seen before it began. With `wait`, the
        wait for this process's other threads and for another process's write (SQLite's
        busy timeout) together last at most that long, then `StateBusy`."""
        deadline = None if wait is None else time.monotonic() + wait
        if not self.lock.acquire(timeout=-1 if wait is None else wait):
            raise StateBusy(f"state file {self.path}: in use by this process for {wait:g} s")
        try:
            generation, changes = self.faults.generation, self._conn.total_changes
            self._begin(deadline)
            try:
                yield self._conn
            except BaseException:
                self._conn.rollback()
                raise
            self._conn.commit()
            if self._conn.total_changes != changes:
                self.faults.committed(generation)
        finally:
            self.lock.release()

    def _begin(self, deadline: float | None) -> None:
        """BEGIN IMMEDIATE (the write lock), waiting for another process's writer at most
        until `deadline` when there is one."""
        if deadline is None:
            self._conn.execute("BEGIN IMMEDIATE")
            return
        left = max(1, int((deadline - time.monotonic()) * 1000))
        self._conn.execute(f"PRAGMA busy_timeout = {left}")
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
            raise StateBusy(f"state file {self.path}: locked by another process") from None
        finally:
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT * 1000}")

    @contextmanager
    def reading(self) -> Iterator[Conn]:
        """The connection, for reads, while no other thread uses it."""
        with self.lock:
            yield self._conn

    def reclaim(self, pages: int) -> int:
        """Give up to `pages` free pages back to the file system (incremental auto-vacuum,
        on files created by this chipwatch; older files reuse their free pages instead);
        the free pages left."""
        with self.lock:
            if self._conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
                return 0
            # A plain execute frees one page per step; a script runs it to the end.
            self._conn.executescript(f"PRAGMA incremental_vacuum({int(pages)})")
            return int(self._conn.execute("PRAGMA freelist_count").fetchone()[0])

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the file and cut the log to nothing (waits for
        readers; a backtest's measure, where nothing else reads)."""
        with self.lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def size(self) -> int:
        """Bytes the state takes on disk: the file and its write-ahead log."""
        return file_size(self.path) if self.path != ":memory:" else 0

    def read(self, sql: str, params: tuple[object, ...] = ()) -> list[Any]:
        with self.lock:
            return list(self._conn.execute(sql, params).fetchall())

    def close(self) -> None:
        with self.lock:
            self._conn.close()


def file_size(path: str | Path) -> int:
    """Bytes a state file takes on disk: the file and its write-ahead log."""
    return sum(p.stat().st_size for p in (Path(path), Path(f"{path}-wal")) if p.exists())


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
