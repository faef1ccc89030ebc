"""The `chipwatch` command: global options, then one subcommand from bot/commands/."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from bot import __version__, logs
from bot.commands import COMMANDS
from bot.commands.common import EXIT_CONFIG, EXIT_FAIL, add_global_options
from bot.errors import ChipwatchError, ConfigError

log = logging.getLogger("chipwatch")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chipwatch", description="Chip import/export news alerts for Slack.")
    parser.add_argument("--version", action="version", version=f"chipwatch {__version__}")
    add_global_options(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"bot.commands.{name}").register(sub)
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
