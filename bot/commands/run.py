"""`chipwatch run`: poll on schedule (or once) and deliver.

Exit codes: 0 all good; 1 a feed failed, rows remain undelivered (pending, or newly dead),
Slack refused the token, another bot holds the state, or a one-shot pass was stopped
(SIGTERM) before it finished; 2 config error; 130 stopped by SIGINT (Ctrl-C).
"""

from __future__ import annotations

import argparse
import logging
import signal
from types import FrameType
from typing import Any

from bot.commands.common import EXIT_FAIL, EXIT_INTERRUPTED, EXIT_OK, add_command, validated
from bot.pipeline import PollReport
from bot.store import outbox

log = logging.getLogger("chipwatch")


def register(sub: Any) -> None:
    p = add_command(sub, "run", "poll feeds on their schedule and deliver alerts")
    p.add_argument("--once", action="store_true", help="poll every feed once, deliver, exit")
    p.add_argument("--dry-run", action="store_true",
                   help="print alerts instead of posting; write no state")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except KeyboardInterrupt:  # Ctrl-C before the bot's own handler was in place
        return EXIT_INTERRUPTED


def _run(args: argparse.Namespace) -> int:
    from bot.app import App

    # The same validation as `check` and reload (remembered for unchanged bytes).
    config = validated(args, remember=not args.dry_run)
    for w in (*config.warnings, *config.example_failures):
        log.warning("config_warning %s", w)
    app = App.build(config, dry_run=args.dry_run)
    signals: list[signal.Signals] = []

    def _stop(signum: int, _frame: FrameType | None) -> None:
        signals.append(signal.Signals(signum))
        log.info("stopping signal=%s", signals[-1].name)
        app.stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    code = EXIT_OK
    try:
        if args.once:
            dead_before = _rows(app)["dead"]
            reports = app.run_once()
            code = _once_code(reports, _rows(app), dead_before, stopped=bool(signals))
        else:
            app.run_forever()
    finally:
        app.close()
    if signal.SIGINT in signals:
        return EXIT_INTERRUPTED
    return EXIT_FAIL if app.sender.halted else code  # a refused token sent nothing


def _rows(app: Any) -> dict[str, int]:
    with app.db.reading() as conn:
        counts = outbox.counts(conn)
    return {s: counts.get(s, 0) for s in ("pending", "inflight", "dead")}


def _once_code(reports: list[PollReport], rows: dict[str, int], dead_before: int,
               stopped: bool) -> int:
    """1 when the pass leaves something for the operator: a failed feed, rows not
    delivered, or a pass cut short; else 0. Logged in one line either way."""
    failed = sum(1 for r in reports if r.error)
    undelivered = rows["pending"] + rows["inflight"]
    dead = max(rows["dead"] - dead_before, 0)
    log.info("run_once_done feeds=%d alerts=%d failed_feeds=%d undelivered=%d "
             "dead_letters=%d stopped=%s", len(reports), sum(r.alerts for r in reports),
             failed, undelivered, dead, str(stopped).lower())
    return EXIT_FAIL if failed or undelivered or dead or stopped else EXIT_OK
