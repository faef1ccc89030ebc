"""The state's own metrics: whether writes to it fail, and how many bytes it takes.

`chipwatch_state_write_failing{backend}` is 1 while the store has a write fault (what
/healthz reports as `state_write_failed`), else 0; the fault is kept in memory, so it is read
at every scrape. `chipwatch_state_bytes{backend}` is the store's size (the SQLite file and
its write-ahead log, or `pg_database_size` on PostgreSQL), asked at most once per heartbeat
(30 s): scrapes every few seconds cost no more than one stat or one query per beat.
"""

from __future__ import annotations

import logging
import threading

from bot.clock import Clock
from bot.metrics import Metrics
from bot.runtime.heartbeat import EVERY
from bot.store.base import Store

log = logging.getLogger("chipwatch.metrics")


class StateSize:
    """The store's size in bytes, refreshed at most every `every` seconds."""

    def __init__(self, db: Store, clock: Clock, every: float = EVERY) -> None:
        self.db, self.clock, self.every = db, clock, every
        self._at: float | None = None  # monotonic time of the last refresh
        self._bytes: float | None = None  # None: the last refresh failed
        self._failing = False
        self._lock = threading.Lock()  # scrapes come in on several server threads

    def read(self) -> dict[str, float]:
        """{backend: bytes}, or {} while the size cannot be read (a database down)."""
        with self._lock:
            now = self.clock.monotonic()
            if self._at is None or now - self._at >= self.every:
                self._at = now
                self._bytes = self._measure()
            return {} if self._bytes is None else {self.db.backend: self._bytes}

    def _measure(self) -> float | None:
        try:
            size = float(self.db.size())
        except Exception as exc:  # a scrape must answer; /healthz says what is down
            if not self._failing:  # once per spell, not at every refresh
                log.warning("state_size_unavailable error=%s", exc)
            self._failing = True
            return None
        self._failing = False
        return size


def watch_state(metrics: Metrics, db: Store, clock: Clock) -> StateSize:
    """Export `chipwatch_state_write_failing` and `chipwatch_state_bytes` for `db`."""
    size = StateSize(db, clock)
    metrics.watch("chipwatch_state_write_failing", "1 while writes to the state fail (a full "
                  "disk, an I/O error), else 0.", "backend",
                  lambda: {db.backend: float(db.faults.current is not None)})
    metrics.watch("chipwatch_state_bytes", "Bytes the state takes: the SQLite file and its "
                  "log, or the PostgreSQL database; read at most every 30 s.", "backend",
                  size.read)
    return size
