"""One running bot per state: an exclusive OS lock on a file beside the SQLite state.

`run` and `run --once` hold it for as long as they run; `status`, `explain`, `replay` and
`backtest` only read and never take it. The lock is `flock` on `<state>.lock`, which holds
the holder's pid: the kernel drops it when the holder exits, however it exits (even
SIGKILL), so a crash never leaves a stale lock behind. `hold_state` is the one call the
runtime makes; a store that elects a leader another way (PostgreSQL) replaces it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from bot.errors import StateInUse, StoreError
from bot.store.base import Store
from bot.store.sqlite import SqliteStore

log = logging.getLogger("chipwatch.runtime")


def lock_path(state: Path) -> Path:
    """Where the lock of a state file lives: beside it, `<state>.lock`."""
    return state.with_name(state.name + ".lock")


@contextlib.contextmanager
def hold_state(db: Store) -> Iterator[None]:
    """Hold the state for this process for the duration of the block; raises StateInUse
    (naming the holder's pid) when another process holds it. Only a SQLite file is locked:
    an in-memory one (a dry run's copy, a backtest) has nobody else to guard against, and
    replicas on PostgreSQL take turns through the lease (`runtime.leader`)."""
    if not isinstance(db, SqliteStore) or db.in_memory:
        yield
        return
    path = lock_path(Path(db.path))
    fd = acquire(path)
    try:
        yield
    finally:
        release(fd)


def acquire(path: Path) -> int:
    """Take the lock at `path` without waiting and write our pid in it; the open fd."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreError(f"cannot create lock file {path}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_pid(fd)
        os.close(fd)
        who = f"pid {holder}" if holder else "another process"
        raise StateInUse(
            f"state file {path.with_suffix('')} is in use by another chipwatch run "
            f"({who}, lock {path}); stop it first, or give this bot its own state.path"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    log.debug("state_locked path=%s pid=%d", path, os.getpid())
    return fd


def release(fd: int) -> None:
    """Empty the lock file and let go (the file stays: unlinking it would race a process
    that has just opened it)."""
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
    os.close(fd)  # closing the last descriptor releases the flock


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
