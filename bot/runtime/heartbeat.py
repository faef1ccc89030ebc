"""The scheduler's heartbeat: kept in memory for /healthz and in a file for `chipwatch health`
and `chipwatch status`.

The file is one JSON object, `{"at": ISO time of the last beat, "sending_halted": why
nothing is sent, or null, "state_write_failed": {since, error, failures} while writes to the
state fail, or null, "database_unavailable": why the database does not answer (replicas),
or null}`, replaced whole (write, then rename) so a reader never sees half of it.
It is padded to a fixed size: on a full disk, where a new file cannot be written, the old
one is overwritten in place (its blocks are already allocated), so a full disk beside the
state still shows in the file. A file holding only an ISO time (written by an older
chipwatch) still reads.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.clock import Clock
from bot.errors import redact

log = logging.getLogger("chipwatch.runtime")
EVERY = 30.0  # seconds between beats
PADDED = 1024  # bytes: every body fits, so an in-place rewrite never needs a new block


class Heartbeat:
    """Beats while the scheduler runs; a clean stop clears it, so `health` never calls a
    stopped bot healthy. `halted` says why sending is halted (None: it is not), `fault`
    why writes to the state fail (None: they do not); `refresh` writes a change of either at
    once, without claiming a beat."""

    def __init__(self, path: Path, clock: Clock,
                 halted: Callable[[], str | None] = lambda: None,
                 fault: Callable[[], dict[str, object] | None] = lambda: None,
                 database: Callable[[], str | None] = lambda: None) -> None:
        self.path = path
        self.clock = clock
        self.halted = halted
        self.fault = fault
        self.database = database
        self.last = clock.monotonic()
        self._at: datetime | None = None  # the last beat's time, once it beat
        self._lock = threading.Lock()  # the scheduler beats, the sender refreshes

    def beat(self) -> None:
        """Mark the scheduler alive, in memory and in the file."""
        self.last = self.clock.monotonic()
        self._write(self.clock.now())

    def refresh(self) -> None:
        """Rewrite the file with the current sending state and the last beat's time."""
        if self._at is not None:
            self._write(self._at)

    def _write(self, at: datetime) -> None:
        with self._lock:
            self._at = at
            halted, fault, down = self.halted(), self.fault(), self.database()
            body = json.dumps({"at": at.isoformat(),
                               "sending_halted": redact(halted) if halted else None,
                               "state_write_failed": fault,
                               "database_unavailable": redact(down)[:300] if down else None,
                               }).ljust(PADDED)
            tmp = self.path.with_name(self.path.name + ".tmp")
            try:
                # With state in PostgreSQL nothing else creates the state file's folder.
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp.write_text(body)
                os.replace(tmp, self.path)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                if not self._overwrite(body.encode()):
                    log.warning("heartbeat_failed path=%s error=%s", self.path,
                                exc.strerror or exc)

    def _overwrite(self, body: bytes) -> bool:
        """Rewrite the file in place (a full disk: no room for a new one); False if there is
        no file of the padded size to rewrite."""
        try:
            fd = os.open(self.path, os.O_WRONLY)
        except OSError:
            return False
        try:
            if os.fstat(fd).st_size < len(body):
                return False
            os.pwrite(fd, body, 0)
            return True
        except OSError:
            return False
        finally:
            os.close(fd)

    def age(self) -> float:
        """Seconds since the last beat of this process."""
        return self.clock.monotonic() - self.last

    def clear(self) -> None:
        """Remove the file: the bot stopped on purpose."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


@dataclass(frozen=True)
class Beat:
    """What the file says: how long ago the bot beat, why sending is halted, and how
    writes to the state fail (each None when all is well)."""

    age: timedelta
    sending_halted: str | None
    state_write_failed: dict[str, object] | None = None
    database_unavailable: str | None = None


def read_beat(path: Path, clock: Clock) -> Beat | None:
    """The running bot's last beat, from its file; None if it never beat (or stopped
    cleanly)."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    try:
        data = json.loads(text) if text.startswith("{") else {"at": text}
        when = datetime.fromisoformat(data["at"])
    except (ValueError, KeyError, TypeError):
        return None
    halted, fault = data.get("sending_halted"), data.get("state_write_failed")
    down = data.get("database_unavailable")
    return Beat(clock.now() - when.astimezone(UTC), str(halted) if halted else None,
                fault if isinstance(fault, dict) else None, str(down) if down else None)


def halted_line(reason: str) -> str:
    """Why nothing is sent, for an operator: `Slack refused the bot token (invalid_auth)`."""
    return f"Slack refused the bot token ({reason}): set SLACK_BOT_TOKEN and restart"


def database_line(error: str) -> str:
    """Why the bot waits, for an operator: the database does not answer."""
    return (f"database unavailable ({error}): nothing is polled or sent until it answers; "
            "the bot reconnects by itself")


def fault_line(fault: dict[str, object]) -> str:
    """How state writes fail, for an operator: since when, how often, the error, what to do."""
    return (f"state writes failing since {fault.get('since')} ({fault.get('failures')} "
            f"failed): {fault.get('error')}; free space where the state file lives")


def sending_state(path: Path, clock: Clock) -> dict[str, object] | None:
    """What `status` shows of the running bot's sending, from its heartbeat file: the beat's
    age, why sending is halted and how state writes fail (None when they do not); None
    without a heartbeat."""
    beat = read_beat(path, clock)
    if beat is None:
        return None
    return {"heartbeat_age_seconds": round(beat.age.total_seconds(), 1),
            "halted": beat.sending_halted, "state_write_failed": beat.state_write_failed}
