"""`chipwatch health`: exit 0 when the running bot's scheduler has beaten recently."""

from __future__ import annotations

import argparse
from typing import Any

from bot.commands.common import EXIT_FAIL, EXIT_OK, add_command, load


def register(sub: Any) -> None:
    p = add_command(sub, "health", "exit 0 when the running bot's scheduler is alive")
    p.add_argument("--max-age", type=float, default=120.0, help="seconds (default 120)")
    p.set_defaults(func=health)


def health(args: argparse.Namespace) -> int:
    from bot.app import heartbeat_age

    age = heartbeat_age(load(args))
    if age is None or age.total_seconds() > args.max_age:
        print(f"unhealthy: last heartbeat {'never' if age is None else age} ago")
        return EXIT_FAIL
    print(f"healthy: last heartbeat {age.total_seconds():.0f}s ago")
    return EXIT_OK
