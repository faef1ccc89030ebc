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
    from bot.dedup import DedupSettings, run_cluster

    # `cluster` shows what the engine does, so it runs even where the config turns it off.
    settings = load(args, lint=False).settings.dedup or DedupSettings()
    return run_cluster(sys.stdin, sys.stdout, settings, final=not args.on_arrival)
