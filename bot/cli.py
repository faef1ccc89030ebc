"""The `chipwatch` command: global options, then one subcommand from bot/commands/."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from bot import __version__, logs
from bot.commands import COMMANDS
from bot.commands.common import (
    EXIT_CONFIG,
    EXIT_FAIL,
    EXIT_INTERRUPTED,
    EXIT_PIPE,
    add_global_options,
)
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
        sys.stdout.flush()  # a reader that went away (`| head`) shows here, not at exit
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_PIPE
    except KeyboardInterrupt:  # Ctrl-C in a command without its own handler (`run` has one)
        log.warning("stopped signal=SIGINT command=%s", args.command)
        return EXIT_INTERRUPTED
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_CONFIG
    except ChipwatchError as exc:
        log.error("failed error=%s", exc)
        return EXIT_FAIL
    return code


def _discard_stdout() -> None:
    """Point stdout at /dev/null: the reader is gone, and the interpreter's last flush
    must not fail again with a traceback ("Exception ignored … BrokenPipeError")."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (captured in tests)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
