"""The scheduler's heartbeat: kept in memory for /healthz and in a file for `chipwatch health`."""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.clock import Clock

log = logging.getLogger("chipwatch.runtime")
EVERY = 30.0  # seconds between beats


class Heartbeat:
    """Beats while the scheduler runs; a clean stop clears it, so `health` never calls a
    stopped bot healthy."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self.clock = clock
        self.last = clock.monotonic()

    def beat(self) -> None:
        """Mark the scheduler alive, in memory and in the file."""
        self.last = self.clock.monotonic()
        try:
            # With state in PostgreSQL nothing else creates the state file's folder.
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(self.clock.now().isoformat())
        except OSError as exc:
            log.warning("heartbeat_failed path=%s error=%s", self.path, exc.strerror)

    def age(self) -> float:
        """Seconds since the last beat of this process."""
        return self.clock.monotonic() - self.last

    def clear(self) -> None:
        """Remove the file: the bot stopped on purpose."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def file_age(path: Path, clock: Clock) -> timedelta | None:
    """How long since a running bot last beat, from its file; None if it never beat (or
    stopped cleanly)."""
    try:
        when = datetime.fromisoformat(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return clock.now() - when.astimezone(UTC)
