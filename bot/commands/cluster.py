"""`chipwatch cluster`: JSON-lines items on stdin → `{"id", "story"}` lines on stdout."""

from __future__ import annotations

import argparse
import io
import sys
from typing import Any, TextIO

from bot.commands.common import add_command, load

FIELDS = ("each line must be one JSON object with the fields id, title, link, source "
          "(strings) and published (an ISO 8601 time); summary is optional")
SHOWN = 10  # skipped lines named one by one; the rest are only counted


def register(sub: Any) -> None:
    p = add_command(sub, "cluster", "assign JSON-lines items (stdin) to stories, as the bot "
                                    "would; no Slack, no state")
    p.epilog = FIELDS[0].upper() + FIELDS[1:] + "."
    p.add_argument("--on-arrival", action="store_true",
                   help="report the story each item joined when it arrived (what the bot "
                        "alerted on), not its story after later merges")
    p.set_defaults(func=cluster)


class _Skips(io.StringIO):
    """Where the clusterer reports skipped lines: the first few go to `out`, all count."""

    def __init__(self, out: TextIO) -> None:
        super().__init__()
        self.out = out
        self.count = 0

    def write(self, text: str) -> int:  # one call per skipped line
        self.count += 1
        if self.count <= SHOWN:
            self.out.write(text)
        return len(text)


def cluster(args: argparse.Namespace) -> int:
    from bot.dedup import DedupSettings, run_cluster

    # `cluster` shows what the engine does, so it runs even where the config turns it off.
    settings = load(args, lint=False).settings.dedup or DedupSettings()
    skips = _Skips(sys.stderr)
    status = run_cluster(sys.stdin, sys.stdout, settings, skips,
                         final=not args.on_arrival)
    if skips.count:
        more = f" ({skips.count - SHOWN} not shown)" if skips.count > SHOWN else ""
        print(f"cluster: skipped {skips.count} line{'s' * (skips.count != 1)}{more}: {FIELDS}",
              file=sys.stderr)
    return status
