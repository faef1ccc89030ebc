"""Write faults of the state: a full disk (or an I/O error) that keeps writes from landing,
kept while it lasts so /healthz, `chipwatch health` and `status` can say so, and cleared by
the next write that commits.

The store reports each failed write (`failed`) and each commit that changed something
(`committed`); a commit that changed nothing (an empty transaction) proves nothing about the
disk and leaves a fault in place. Listeners (the heartbeat file) are told when a fault
starts and when it ends, not at every failure.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger("chipwatch.store")


@dataclass(frozen=True)
class WriteFault:
    """Writes to the state fail: since when, the last error, how many failed so far."""

    since: datetime
    error: str
    failures: int

    def as_dict(self) -> dict[str, object]:
        return {"since": self.since.isoformat(), "error": self.error,
                "failures": self.failures}


class WriteHealth:
    """The state's write fault, if any; thread-safe (every thread writes through a store)."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self.listeners: list[Callable[[], None]] = []
        self._fault: WriteFault | None = None
        self._lock = threading.Lock()
        self.generation = 0  # bumped at every failure: a commit clears only faults before it

    @property
    def current(self) -> WriteFault | None:
        return self._fault

    def failed(self, error: str) -> None:
        """A write failed with `error`; the first failure of a spell is logged and told."""
        with self._lock:
            self.generation += 1
            was = self._fault
            self._fault = WriteFault(was.since if was else self.clock.now(), error[:300],
                                     (was.failures if was else 0) + 1)
        if was is None:
            log.error("state_write_failed error=%s", error)
            self._tell()

    def committed(self, generation: int) -> None:
        """A transaction begun at `generation` committed changes: a fault seen before it
        began is over."""
        with self._lock:
            was = self._fault
            if was is None or self.generation != generation:
                return
            self._fault = None
        log.warning("state_write_recovered since=%s failures=%d", was.since.isoformat(),
                    was.failures)
        self._tell()

    def _tell(self) -> None:
        for listener in list(self.listeners):
            try:
                listener()
            except Exception:  # a listener must not turn a write's outcome into another
                log.exception("state_write_listener_failed")
