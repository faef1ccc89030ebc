"""Run `chipwatch` commands in-process: the real argument parser and command functions,
without a subprocess (fast), leaving the test process's logging as it found it."""

from __future__ import annotations

import contextlib
import io
import logging
import signal
import subprocess

import pytest

from bot.cli import main


def invoke(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`chipwatch ARGV` → (exit code, stdout, stderr). argparse errors exit 2, as they do
    from the shell."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    # `run` takes SIGINT and SIGTERM; Ctrl-C must still stop the test run afterwards.
    signals = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse: usage errors and --help
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for sig, handler in signals.items():
            signal.signal(sig, handler)
    out = capsys.readouterr()
    return code, out.out, out.err


def run_here(*argv: str) -> subprocess.CompletedProcess[str]:
    """`chipwatch ARGV` in-process, shaped like a subprocess result (the fast tier's
    `run_cli`): stdout and stderr (log lines included) captured, logging restored after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(argv))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    return subprocess.CompletedProcess(["chipwatch", *argv], code, out.getvalue(),
                                       err.getvalue())
