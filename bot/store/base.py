"""What the rest of chipwatch sees of its state: a `Store` with transactions over a `Conn`.

Two stores stand behind the protocol: `SqliteStore` (one file, the default) and
`PostgresStore` (a connection pool, for replicas). Every SQL statement chipwatch runs is in a
module of `bot.store`, written once for both: `?` placeholders (the PostgreSQL connection
translates them), `INSERT … ON CONFLICT`, `RETURNING`, no functions one of the two lacks.
Rows answer both `row[0]` and `row["column"]`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from bot.errors import StoreError
from bot.store.faults import WriteHealth

# The advisory lock every PostgreSQL write transaction holds ("chw\0"); a takeover takes
# it too, so an old leader's write in progress finishes before the new term begins.
WRITER_LOCK = 0x63687700

class FencedError(StoreError):
    """This replica is no longer the leader: its write was refused and nothing committed."""


class StateBusy(StoreError):
    """Another writer held the state past the wait the caller bounded (`tx(wait=…)`):
    nothing was done, and the caller may try again later."""


class Cursor(Protocol):
    """What a statement returns: rows to fetch or iterate, and how many rows it changed."""

    @property
    def rowcount(self) -> int: ...

    @property
    def description(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """One connection inside one transaction (`sqlite3.Connection` is one)."""

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Any, /) -> Cursor: ...


class Fence(Protocol):
    """The leadership a store checks every write transaction against (see runtime.leader)."""

    @property
    def term(self) -> int | None:
        """The term this replica leads in, None when it does not lead."""
        ...


class Store(Protocol):
    """The state database. `tx()` is the only way to write; `reading()` reads committed
    state. Inside either, `conn` is this thread's connection (the story engine uses it)."""

    backend: str  # "sqlite" or "postgresql"
    where: str  # the file, or the URL without its password, for logs and errors
    lock: threading.RLock  # held while a thread uses SQLite's one connection; free on PG
    faults: WriteHealth  # a write the disk refused, while it lasts (SQLite's file)

    def tx(self, wait: float | None = None) -> AbstractContextManager[Conn]:
        """A write transaction; `wait` (seconds) bounds the wait for other writers, past
        which `StateBusy` is raised (None: wait as long as it takes)."""
        ...

    def reading(self) -> AbstractContextManager[Conn]: ...

    @property
    def conn(self) -> Conn: ...

    @property
    def version(self) -> int: ...

    def set_fence(self, fence: Fence | None) -> None: ...

    @property
    def in_memory(self) -> bool:
        """Whether this is a throw-away copy in memory (a dry run, a backtest)."""
        ...

    def reclaim(self, pages: int) -> int:
        """Return up to `pages` pages freed by deletes to the file system; pages left."""
        ...

    def size(self) -> int:
        """Bytes the state takes (the file and its log; the database on PostgreSQL)."""
        ...

    def read(self, sql: str, params: tuple[object, ...] = ()) -> list[Any]: ...

    def close(self) -> None: ...


@contextmanager
def savepoint(conn: Conn, name: str) -> Iterator[None]:
    """A nested unit inside a transaction: rolled back alone if its body raises (the error
    goes on to the caller), released otherwise."""
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
        conn.execute(f"RELEASE SAVEPOINT {name}")
        raise
    conn.execute(f"RELEASE SAVEPOINT {name}")
