"""Append-only files of JSON lines, each line on disk before the caller goes on: the Socket
Mode journal, its set-aside file and the answers file.

A line is written whole or, if the process is killed mid-write, cut short; a cut line was
never fsynced, so nothing was acknowledged on it. The next line starts on a line of its own,
so a torn end loses only itself, never the line after it.
"""

from __future__ import annotations

import os
from pathlib import Path


def append_line(path: Path, line: str) -> None:
    """Append `line` (ending in a newline) to `path` (made 0600 if new), flushed and fsynced;
    an OSError (a full disk) propagates."""
    created = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        end = os.fstat(fd).st_size
        torn = end > 0 and os.pread(fd, 1, end - 1) != b"\n"
        os.write(fd, (("\n" if torn else "") + line).encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:  # the new name must survive a crash too
        fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a file's new name (or a rename) in `folder` survive a crash."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
