"""`PostgresStore`: the state in PostgreSQL, through a psycopg 3 connection pool, for one
or more replicas. The same SQL as SQLite runs here: the connection turns `?` and `:name`
placeholders into psycopg's, and rows answer `row[0]` and `row["column"]` alike.

Every write transaction first takes one transaction-scoped advisory lock, the writer lock:
writes are serialized as SQLite's are (so outbox ids follow commit order, and a channel's
messages go out in the order they were queued), and a change of leader (which takes the same
lock) is ordered against every write. With a fence installed, a write then checks that its
replica's term is still the current one, or raises `FencedError` and commits nothing.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from bot.errors import StoreError
from bot.store.base import WRITER_LOCK, Conn, Fence, FencedError, StateBusy
from bot.store.faults import WriteHealth
from bot.store.migrations import MIGRATIONS, migration_sql

log = logging.getLogger("chipwatch.store")
MIGRATE_LOCK = 0x63687701
MIGRATE_TRIES = 3
# A session stuck inside a transaction (its process stopped) holds the writer lock; the
# server ends it after this long (a third of the failover time by default), so a paused
# leader cannot block its successor.
IDLE_IN_TX = 5.0
# While the server is down (a restart), a thread waits this long for a connection, then
# fails its unit of work (retried by its loop) instead of the pool's default 30 s; and the
# pool gives a failing connection attempt up after RECONNECT, so the first request after
# the server's return connects at once instead of after a backoff grown during the outage.
POOL_WAIT = 5.0
RECONNECT = 2.0
_LITERAL = re.compile(r"('(?:[^']|'')*')")
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def redact_url(url: str) -> str:
    """The URL without its password, for logs and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """SQLite-style placeholders (`?`, `:name`) as psycopg's; a literal `%` doubled."""
    out = []
    for i, part in enumerate(_LITERAL.split(sql)):
        part = part.replace("%", "%%")
        if i % 2 == 0:  # outside string literals
            part = _NAMED.sub(r"%(\1)s", part.replace("?", "%s"))
        out.append(part)
    return "".join(out)


@lru_cache(maxsize=512)
def _row_class(names: tuple[str, ...]) -> type[tuple[Any, ...]]:
    index = {n: i for i, n in enumerate(names)}

    class Row(tuple[Any, ...]):
        """A tuple whose items are also found by column name, like `sqlite3.Row`."""

        __slots__ = ()

        def __getitem__(self, key: Any) -> Any:
            if isinstance(key, str):
                return tuple.__getitem__(self, index[key])
            return tuple.__getitem__(self, key)

        def keys(self) -> list[str]:
            return list(names)

    return Row


def row_factory(cursor: Any) -> Callable[[Sequence[Any]], Any]:
    """psycopg's row factory for our rows: a tuple also indexed by column name."""
    desc = cursor.description
    if desc is None:
        return tuple
    return _row_class(tuple(c.name for c in desc))


class PgConn:
    """A pooled connection inside a transaction, speaking the SQL the stores share. A lost
    connection (server gone, session ended) comes out as `StoreError`: not this feed's or
    this message's fault, so callers give up the whole unit of work."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Any = (), /) -> psycopg.Cursor[Any]:
        try:
            return self.raw.execute(translate(sql), parameters)
        except psycopg.errors.LockNotAvailable:  # a bounded wait (`tx(wait=…)`) ran out
            raise StateBusy("database: the writer lock stayed held") from None
        except psycopg.OperationalError as exc:
            raise _lost(exc) from exc

    def executemany(self, sql: str, parameters: Any, /) -> psycopg.Cursor[Any]:
        cur = self.raw.cursor()
        try:
            cur.executemany(translate(sql), parameters)
        except psycopg.OperationalError as exc:
            raise _lost(exc) from exc
        return cur


def _lost(exc: psycopg.Error) -> StoreError:
    first = str(exc).strip().splitlines()
    return StoreError(f"database connection lost: {first[0] if first else type(exc).__name__}")


class PostgresStore:
    """A pool of connections; each thread's transaction has its own (`conn` inside it)."""

    backend = "postgresql"

    def __init__(self, url: str, pool: ConnectionPool[Any]) -> None:
        self.url = url
        self.where = redact_url(url)
        self.pool = pool
        self.fence: Fence | None = None
        # A full disk is the server's to report; nothing here feeds this (kept for /healthz).
        self.faults = WriteHealth()
        self._local = threading.local()
        # Each thread has a connection of its own: nothing to wait for here (SQLite's lock
        # guards its one connection; Socket Mode uses it to answer within Slack's 3 s).
        self.lock = threading.RLock()

    @classmethod
    def open(cls, url: str, *, max_size: int = 10, migrate: bool = True,
             name: str = "chipwatch", idle_in_tx: float = IDLE_IN_TX) -> PostgresStore:
        """Connect (failing within 10 s with a clear error) and migrate. The pool's sessions
        carry `name` as their application name (who wrote what, in the server's views)."""
        def configure(conn: psycopg.Connection[Any]) -> None:
            conn.autocommit = True
            conn.execute(f"SET idle_in_transaction_session_timeout = {int(idle_in_tx * 1000)}")
            conn.execute("SELECT set_config('application_name', %s, false)", (name[:60],))
            conn.autocommit = False

        pool: ConnectionPool[Any] = ConnectionPool(
            url, min_size=1, max_size=max_size, open=False, configure=configure,
            check=ConnectionPool.check_connection, kwargs={"row_factory": row_factory},
            name="chipwatch", timeout=POOL_WAIT, reconnect_timeout=RECONNECT)
        try:
            pool.open(wait=True, timeout=10.0)
        except (PoolTimeout, psycopg.Error) as exc:
            pool.close()
            raise StoreError(f"database {redact_url(url)}: cannot connect ({exc})") from None
        store = cls(url, pool)
        if migrate:
            try:
                store.migrate()
            except psycopg.Error as exc:
                pool.close()
                raise StoreError(f"database {store.where}: {exc}") from None
        return store

    def migrate(self) -> None:
        """Apply the migrations not yet applied, in one transaction under the migration lock:
        one replica at a time (the others wait, then find nothing left to do). A connection
        lost on the way, even at the COMMIT whose answer never came, is no reason to exit:
        the transaction committed whole or not at all, and a look on a new connection, under
        the lock again, finds which (a server that is down fails the pool's wait, as before)."""
        for attempt in range(MIGRATE_TRIES):
            try:
                self._migrate()
                return
            except PoolTimeout:
                raise
            except psycopg.OperationalError as exc:
                if attempt + 1 == MIGRATE_TRIES:
                    raise
                log.warning("migration_connection_lost error=%s action=look_again",
                            _lost(exc).args[0])

    def _migrate(self) -> None:
        with self.pool.connection() as raw, raw.transaction():
            # The lock comes first, before even the version table is made: two replicas
            # started together on an empty database would both create it, and one would
            # fail on the catalogue's unique index (`pg_type_typname_nsp_index`).
            raw.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
            raw.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            version = self._version(raw)
            if version > len(MIGRATIONS):
                raise StoreError(
                    f"database {self.where} has schema v{version}, newer than this "
                    f"chipwatch (v{len(MIGRATIONS)}); upgrade chipwatch")
            for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
                raw.execute(migration_sql(step, self.backend).encode())
                raw.execute("DELETE FROM schema_version")
                raw.execute("INSERT INTO schema_version VALUES (%s)", (number,))

    @staticmethod
    def _version(raw: psycopg.Connection[Any]) -> int:
        row = raw.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    @property
    def version(self) -> int:
        with self.pool.connection() as raw:
            return self._version(raw)

    @property
    def conn(self) -> Conn:
        """This thread's connection of the transaction (or read) in progress."""
        conn: PgConn | None = getattr(self._local, "conn", None)
        if conn is None:
            raise StoreError("no transaction in progress on this thread")
        return conn

    def set_fence(self, fence: Fence | None) -> None:
        self.fence = fence

    @contextmanager
    def _checkout(self, wait: float | None = None) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection (waiting at most `wait`, else the pool's timeout); no
        connection to be had (the server is gone, the pool is exhausted) is a `StoreError`."""
        try:
            with self.pool.connection(timeout=wait) as raw:
                yield raw
        except psycopg.OperationalError as exc:  # PoolTimeout is one
            raise _lost(exc) from exc

    @contextmanager
    def _session(self, wait: float | None = None) -> Iterator[tuple[PgConn, bool]]:
        """This thread's connection: the one in use (nested), else one from the pool."""
        current: PgConn | None = getattr(self._local, "conn", None)
        if current is not None:
            yield current, True
            return
        with self._checkout(wait) as raw:
            conn = self._local.conn = PgConn(raw)
            try:
                yield conn, False
            except BaseException:
                with contextlib.suppress(psycopg.Error):  # a lost connection: nothing to undo
                    raw.rollback()
                raise
            finally:
                self._local.conn = None

    @contextmanager
    def tx(self, wait: float | None = None) -> Iterator[Conn]:
        """A write transaction: serialized with every other write, fenced, committed on
        success, rolled back on any exception. With `wait`, the wait for a pooled
        connection and then for the writer lock each last at most what is left of it
        (past it, `StateBusy` or `StoreError`); the lock wait alone is otherwise unbounded."""
        deadline = None if wait is None else time.monotonic() + wait
        with self._session(wait) as (conn, nested):
            if nested:
                yield conn
                return
            if deadline is not None:  # lock_timeout covers advisory locks too; LOCAL: this tx
                left = max(1, int((deadline - time.monotonic()) * 1000))
                conn.execute(f"SET LOCAL lock_timeout = {left}")
            conn.execute("SELECT pg_advisory_xact_lock(?)", (WRITER_LOCK,))
            self._check_fence(conn)
            yield conn
            try:
                conn.raw.commit()
            except psycopg.OperationalError as exc:
                raise _lost(exc) from exc

    def _check_fence(self, conn: PgConn) -> None:
        if self.fence is None:
            return
        mine = self.fence.term
        row = conn.execute("SELECT term FROM leader WHERE id = 1").fetchone()
        if mine is None or row is None or row[0] != mine:
            raise FencedError(f"fenced: not the leader (term {mine}, current {row and row[0]}): "
                              "write refused")

    @contextmanager
    def reading(self) -> Iterator[Conn]:
        """A connection for reads of committed state, each statement on its own (as SQLite
        reads are): no transaction stays open while the caller works between statements,
        so the server's idle-in-transaction limit never ends a slow reader."""
        with self._session() as (conn, nested):
            if nested:
                yield conn
                return
            try:
                conn.raw.autocommit = True
                yield conn
            finally:
                if not conn.raw.closed:
                    with contextlib.suppress(psycopg.Error):
                        conn.raw.autocommit = False

    def read(self, sql: str, params: tuple[object, ...] = ()) -> list[Any]:
        with self.reading() as conn:
            return list(conn.execute(sql, params).fetchall())

    @property
    def in_memory(self) -> bool:
        return False

    def reclaim(self, pages: int) -> int:
        """Nothing to do: PostgreSQL's autovacuum reuses the space of deleted rows."""
        return 0

    def size(self) -> int:
        """Bytes the database takes on the server."""
        return int(self.read("SELECT pg_database_size(current_database())")[0][0])

    def close(self) -> None:
        self.pool.close()
