"""The `chipwatch` command: run, check, health (and the operator tools)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from bot import __version__, logs
from bot.config import Config, load_config, resolve_path
from bot.errors import ChipwatchError, ConfigError

log = logging.getLogger("chipwatch")
EXIT_OK, EXIT_FAIL, EXIT_CONFIG = 0, 1, 2


def _load(args: argparse.Namespace) -> Config:
    return load_config(resolve_path(args.config))


def cmd_run(args: argparse.Namespace) -> int:
    from bot.app import App

    config = _load(args)
    for w in config.warnings:
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
            alerts = sum(r.alerts for r in reports)
            failed = sum(1 for r in reports if r.error)
            log.info("run_once_done feeds=%d alerts=%d failed_feeds=%d",
                     len(reports), alerts, failed)
        else:
            app.run_forever()
    finally:
        app.close()
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    path = resolve_path(args.config)
    config = load_config(path)
    for w in config.warnings:
        print(w)
    print(f"{path}: ok ({len(config.feeds)} feeds, {len(config.rules)} rules, "
          f"{len(config.routes)} routes)")
    return EXIT_OK


def cmd_health(args: argparse.Namespace) -> int:
    from bot.app import heartbeat_age

    config = _load(args)
    age = heartbeat_age(config)
    if age is None or age.total_seconds() > args.max_age:
        print(f"unhealthy: last heartbeat {'never' if age is None else f'{age}'} ago")
        return EXIT_FAIL
    print(f"healthy: last heartbeat {age.total_seconds():.0f}s ago")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chipwatch", description="Chip import/export news alerts for Slack.")
    parser.add_argument("--version", action="version", version=f"chipwatch {__version__}")
    parser.add_argument("--log-level", default="info",
                        choices=["debug", "info", "warning", "error"])
    parser.add_argument("--log-format", default="human", choices=["human", "json"])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument("--config", help="config file (default: $CHIPWATCH_CONFIG, "
                                        "else config/chipwatch.yaml)")
        return p

    run = add("run", "poll feeds on their schedule and deliver alerts")
    run.add_argument("--once", action="store_true", help="poll every feed once, deliver, exit")
    run.add_argument("--dry-run", action="store_true",
                     help="print alerts instead of posting; write no state")
    run.set_defaults(func=cmd_run)
    add("check", "validate the config; exit 2 on errors").set_defaults(func=cmd_check)
    health = add("health", "exit 0 when the running bot's scheduler is alive")
    health.add_argument("--max-age", type=float, default=120.0, help="seconds (default 120)")
    health.set_defaults(func=cmd_health)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.setup(args.log_level, args.log_format)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_CONFIG
    except ChipwatchError as exc:
        log.error("failed error=%s", exc)
        return EXIT_FAIL
    return code


if __name__ == "__main__":
    sys.exit(main())
