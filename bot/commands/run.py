"""`chipwatch run`: poll on schedule (or once) and deliver."""

from __future__ import annotations

import argparse
import logging
import signal
from types import FrameType
from typing import Any

from bot.commands.common import EXIT_FAIL, EXIT_OK, add_command, validated

log = logging.getLogger("chipwatch")


def register(sub: Any) -> None:
    p = add_command(sub, "run", "poll feeds on their schedule and deliver alerts")
    p.add_argument("--once", action="store_true", help="poll every feed once, deliver, exit")
    p.add_argument("--dry-run", action="store_true",
                   help="print alerts instead of posting; write no state")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bot.app import App

    config = validated(args)  # the same validation as `check` and reload
    for w in (*config.warnings, *config.example_failures):
        log.warning("config_warning %s", w)
    app = App.build(config, dry_run=args.dry_run)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping signal=%s", signal.Signals(signum).name)
        app.stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        if args.once:
            reports = app.run_once()
            log.info("run_once_done feeds=%d alerts=%d failed_feeds=%d", len(reports),
                     sum(r.alerts for r in reports), sum(1 for r in reports if r.error))
        else:
            app.run_forever()
    finally:
        app.close()
    return EXIT_FAIL if app.sender.halted else EXIT_OK  # a refused token sent nothing
