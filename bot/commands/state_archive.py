"""`chipwatch state export-archive -o FILE`: the items the bot's own feeds delivered, from its
state (SQLite or PostgreSQL, read-only), as an archive `backtest` and `cluster` take — so a
team can backtest a rule change on its own history.

The state keeps what retention keeps: every item for `state.keep` (90 days by default), but
items no rule fired on only for `state.keep_unmatched` (7 days by default): an older window of
the archive holds the alerted items only, and a backtest there can drop alerts, not find new
ones.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from bot.clock import SYSTEM_CLOCK
from bot.commands.common import EXIT_FAIL, EXIT_OK, load
from bot.config.duration import parse_duration
from bot.errors import StoreError


def add_verb(verbs: Any) -> None:
    """Register `state export-archive` on the `state` command's verbs."""
    p = verbs.add_parser("export-archive", help="write the stored items as a backtest archive",
                         description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--config", help="config file (default: $CHIPWATCH_CONFIG, "
                                    "else config/chipwatch.yaml)")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="FILE",
                   help="the archive to write (JSON lines; gzip when it ends in .gz)")
    p.add_argument("--since", type=_duration, metavar="DURATION",
                   help="only items published within this span of now (e.g. 30d)")
    p.set_defaults(func=export_archive)


def _duration(text: str) -> Any:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def export_archive(args: argparse.Namespace) -> int:
    from bot.store import database_url
    from bot.store.archive_export import items
    from bot.store.readonly import read_only

    config = load(args, lint=False)
    url = database_url(config.settings.state_url, os.environ)
    since = (SYSTEM_CLOCK.now() - args.since).isoformat() if args.since else None
    tmp = args.output.with_name(args.output.name + ".tmp")
    count = 0
    try:
        with read_only(url, config.settings.state_path) as (conn, where, _), \
                _open(tmp) as out:
            for count, line in enumerate(items(conn, since), start=1):  # noqa: B007
                out.write(orjson.dumps(line) + b"\n")
    except (StoreError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        print(f"export-archive: {exc}", file=sys.stderr)
        return EXIT_FAIL
    os.replace(tmp, args.output)  # a reader never sees half an archive
    print(f"export-archive: {count:,} items from {where} to {args.output}")
    return EXIT_OK


def _open(path: Path) -> BinaryIO | gzip.GzipFile:
    if path.name.endswith(".gz.tmp"):
        return gzip.open(path, "wb")
    return path.open("wb")
