"""`chipwatch check`: validate the config; exit 2 with one line per problem."""

from __future__ import annotations

import argparse
from typing import Any

from bot.commands.common import EXIT_OK, add_command, load


def register(sub: Any) -> None:
    add_command(sub, "check", "validate the config; exit 2 on errors").set_defaults(func=check)


def check(args: argparse.Namespace) -> int:
    config = load(args)
    for w in config.warnings:
        print(w)
    print(f"{config.path}: ok ({len(config.feeds)} feeds, {len(config.rules)} rules, "
          f"{len(config.routes)} routes, {len(config.warnings)} warnings)")
    return EXIT_OK
