"""`chipwatch cluster`: JSON-lines items on stdin → `{"id", "story"}` lines on stdout."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.commands.common import add_command, load


def register(sub: Any) -> None:
    p = add_command(sub, "cluster", "assign JSON-lines items (stdin) to stories, as the bot "
                                    "would; no Slack, no state")
    p.add_argument("--on-arrival", action="store_true",
                   help="report the story each item joined when it arrived (what the bot "
                        "alerted on), not its story after later merges")
    p.set_defaults(func=cluster)


def cluster(args: argparse.Namespace) -> int:
    from bot.dedup import run_cluster
    from bot.stories import dedup_settings

    settings = dedup_settings(load(args, lint=False).raw.dedup)
    return run_cluster(sys.stdin, sys.stdout, settings, final=not args.on_arrival)
