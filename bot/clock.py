"""The only place that reads the time: a `Clock` protocol, the system clock and a settable fake."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Protocol


class Clock(Protocol):
    """Tells the current time (aware, UTC) and a monotonic reading for deadlines."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock that only moves when told to; for tests and replays."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 28, 12, 0, tzinfo=UTC)
        self._mono = 1000.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, delta: timedelta | float) -> None:
        """Move both readings forward by `delta` (a timedelta or seconds)."""
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        self._now += timedelta(seconds=seconds)
        self._mono += seconds


SYSTEM_CLOCK = SystemClock()


def parse_utc(text: str) -> datetime:
    """An ISO 8601 time as aware UTC; a time without a zone is taken as UTC. Raises
    ValueError for anything else."""
    when = datetime.fromisoformat(text)
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def iso(when: datetime) -> str:
    """`when.isoformat()`, remembered for UTC times: a batch of polls stamps hundreds of rows
    with the same few times, and formatting one costs ten times a lookup."""
    return _iso_utc(when) if when.tzinfo is UTC else when.isoformat()


@lru_cache(maxsize=64)
def _iso_utc(when: datetime) -> str:
    return when.isoformat()
