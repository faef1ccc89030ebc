"""One active replica: who may poll, match, record and send.

On SQLite there is one process, and it always leads (`SoloLeader`). On PostgreSQL the
replicas share a lease row (`LeaseLeader`, SQL in `bot.store.lease`):

- a standby tries to take the lease about once a second; it gets it only when the holder let
  it lapse (its process died, stopped or lost the database) or gave it up (a clean stop);
- the leader renews it every quarter of its time to live (two thirds of `ha.failover`);
- taking the lease bumps the *term*, the fencing token: every write transaction checks it
  (`PostgresStore.tx`), so a leader that was paused and wakes after a takeover commits
  nothing, and the sender asks `may_act()` before every post;
- the leader also stops acting on its own once its last renewal is older than the time to
  live (less a margin), measured on its monotonic clock from before that renewal was sent:
  by then the database may have handed the lease on.

Why a lease row and not an advisory lock held by a session: a stopped (SIGSTOP) process keeps
its session, and its lock, for ever; a lease lapses by itself. The term lives in the same row
as the lease, times are the database server's, and nothing depends on session state (it
works through a connection pooler). The cost: a replica that dies is noticed only when its
lease lapses, not at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from typing import Any, Protocol

from bot.clock import Clock
from bot.errors import StoreError

log = logging.getLogger("chipwatch.leader")
LEADER, STANDBY = "leader", "standby"


class Leader(Protocol):
    """The leadership a runtime follows."""

    name: str
    interval: float  # seconds between ticks

    @property
    def term(self) -> int | None:
        """The term this replica leads in now; None when it must not act."""
        ...

    @property
    def leader_name(self) -> str | None:
        """Who leads, as last seen."""
        ...

    def may_act(self) -> bool: ...

    @property
    def database_error(self) -> str | None:
        """Why the database cannot be reached now (None: it can, or there is none)."""
        ...

    def tick(self) -> None:
        """Renew, or try to take, the lead (and report this replica)."""
        ...

    def start(self) -> None:
        """Tick every `interval` on a thread of its own (renewals never wait for work)."""
        ...

    def release(self) -> None:
        """Stop ticking and give the lead up (a clean stop)."""
        ...


def replica_name(configured: str | None) -> str:
    """`ha.replica`, else host name and process id (unique among live replicas)."""
    return configured or f"{socket.gethostname()}-{os.getpid()}"


class SoloLeader:
    """The only replica (SQLite, or a store with no lease): always leads."""

    interval = 1.0

    def __init__(self, name: str = "solo") -> None:
        self.name = name

    @property
    def term(self) -> int | None:
        return 0

    @property
    def leader_name(self) -> str | None:
        return self.name

    def may_act(self) -> bool:
        return True

    @property
    def database_error(self) -> str | None:
        return None

    def tick(self) -> None:
        pass

    def start(self) -> None:
        pass

    def release(self) -> None:
        pass


class LeaseLeader:
    """The lease on PostgreSQL, over a connection of its own (never the pool's: a pool busy
    with a long batch must not delay a renewal)."""

    def __init__(self, url: str, name: str, failover: float, clock: Clock) -> None:
        self.url, self.name, self.clock = url, name, clock
        self.ttl = failover * 2 / 3
        self.renew_every = self.ttl / 4
        self.interval = min(1.0, self.renew_every)
        self.margin = min(1.0, self.ttl / 10)
        self._term: int | None = None
        self._valid_until = 0.0  # monotonic: act only before this
        self._renewed_at = 0.0
        self._leader: str | None = None
        self._conn: Any = None
        self._down: tuple[float, str] | None = None  # since (monotonic), error: unreachable
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def term(self) -> int | None:
        if self._term is not None and self.clock.monotonic() < self._valid_until:
            return self._term
        return None

    @property
    def leader_name(self) -> str | None:
        return self.name if self.term is not None else self._leader

    def may_act(self) -> bool:
        return self.term is not None

    @property
    def database_error(self) -> str | None:
        down = self._down
        return None if down is None else down[1]

    def _connect(self) -> Any:
        if self._conn is None or self._conn.closed:
            import psycopg

            self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5,
                                         options="-c statement_timeout=5000",
                                         application_name=f"chipwatch-lease-{self.name}"[:60])
        return self._conn

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="lease", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the lease thread must outlive any one tick
                log.exception("lease_tick_failed replica=%s", self.name)
            self._stop.wait(self.interval)

    def tick(self) -> None:
        """One step: renew when due (leader), else try to take the lease (standby)."""
        import psycopg

        from bot.store import lease
        from bot.store.postgres import PgConn

        started = self.clock.monotonic()
        try:
            conn = PgConn(self._connect())
            if self._term is not None:
                if started - self._renewed_at >= self.renew_every:
                    self._renew(conn, started)
            else:
                self._try_take(conn, started)
            lease.report(conn, self.name, LEADER if self.term is not None else STANDBY,
                         self._term)
            if self._term is None:
                self._leader = lease.leader(conn).holder
        except (psycopg.Error, StoreError) as exc:  # PgConn says a lost one is StoreError
            self._unreachable(exc, started)
        else:
            if self._down is not None:
                log.warning("database_available replica=%s after=%.1fs", self.name,
                            started - self._down[0])
                self._down = None
        if self._term is not None and self.term is None:
            log.warning("leadership_lapsed replica=%s term=%d action=standby", self.name,
                        self._term)
            self._term = None

    def _unreachable(self, exc: Exception, started: float) -> None:
        """The database did not answer: said once when it starts (then at debug level, as
        every second's try fails), and kept for /healthz and `health` until it answers."""
        error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if self._down is None:
            self._down = (started, error)
            log.warning("database_unavailable replica=%s error=%s action=retry_every_%gs",
                        self.name, error, self.interval)
        else:
            log.debug("lease_unreachable replica=%s error=%s", self.name, error)
        self._drop()
        self._leader = None

    def _renew(self, conn: Any, started: float) -> None:
        from bot.store import lease

        assert self._term is not None
        if lease.renew(conn, self.name, self._term, self.ttl):
            self._valid_until = started + self.ttl - self.margin
            self._renewed_at = started
            return
        log.warning("leadership_lost replica=%s term=%d action=standby", self.name, self._term)
        self._term = None

    def _try_take(self, conn: Any, started: float) -> None:
        import psycopg

        from bot.store import lease

        try:
            with conn.raw.transaction():
                # The takeover waits for the old leader's write in progress; a stopped one
                # is ended by the server (idle in transaction), so do not wait longer here.
                term = lease.try_acquire(conn, self.name, self.ttl, wait=2.0)
        except psycopg.errors.LockNotAvailable:
            log.info("lease_busy replica=%s action=retry", self.name)
            return
        if term is None:
            return
        self._term, self._leader = term, self.name
        self._valid_until = started + self.ttl - self.margin
        self._renewed_at = started
        log.warning("leadership_acquired replica=%s term=%d", self.name, term)

    def close(self) -> None:
        """Close the lease connection (the lease itself lapses on its own)."""
        self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # already broken: nothing to close
                self._conn.close()
        self._conn = None

    def release(self) -> None:
        """Give the lease up, so a standby takes over at once; close the connection."""
        import psycopg

        from bot.store import lease
        from bot.store.postgres import PgConn

        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        term, self._term = self._term, None
        try:
            conn = PgConn(self._connect())
            if term is not None:
                lease.release(conn, self.name, term)
                log.info("leadership_released replica=%s term=%d", self.name, term)
            lease.report(conn, self.name, "stopped", None)
        except psycopg.Error as exc:
            log.warning("lease_release_failed replica=%s error=%s", self.name, exc)
        self._drop()
