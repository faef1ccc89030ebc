"""Stopping the bot processes a test started."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterable


def stop_all(procs: Iterable[subprocess.Popen[bytes]], *, resume: bool = False) -> None:
    """SIGTERM every process still running (SIGCONT first when `resume`: one may be
    paused), then wait up to 30 s each and kill what is left."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            if resume:
                proc.send_signal(signal.SIGCONT)
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
