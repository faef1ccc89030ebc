"""`chipwatch feedback export`: Not-relevant marks from Slack as TSV, ready to become rules'
`no_match` examples (one headline per line, with the rules that fired on it)."""

from __future__ import annotations

import argparse
import csv
import os
import sys
from typing import Any, TextIO

from bot.commands.common import EXIT_FAIL, EXIT_OK, add_command, load
from bot.errors import StoreError
from bot.store import actions, database_url
from bot.store.base import Conn
from bot.store.readonly import read_only, tables

COLUMNS = ["marked_at", "rules", "title", "link", "source", "channel", "user", "item_id"]


def register(sub: Any) -> None:
    p = add_command(sub, "feedback", "Not-relevant marks made in Slack")
    p.add_argument("action", choices=["export"], help="export: write the marks as TSV")
    p.add_argument("--output", "-o", help="file to write (default: stdout)")
    p.set_defaults(func=feedback)


def export(conn: Conn, out: TextIO) -> int:
    """Write every mark, oldest first; how many."""
    writer = csv.writer(out, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    marks = list(reversed(actions.marks(conn)))
    for m in marks:
        writer.writerow([m.created.isoformat(), ",".join(m.rules),
                         " ".join(m.title.split()), m.link, m.source, m.channel, m.user_id,
                         m.item_id])
    return len(marks)


def feedback(args: argparse.Namespace) -> int:
    config = load(args, lint=False)
    url = database_url(config.settings.state_url, os.environ)
    try:
        with read_only(url, config.settings.state_path) as (conn, _, _):
            if "feedback" not in tables(conn):
                print("no feedback yet (the state predates Slack actions)", file=sys.stderr)
                return EXIT_OK
            if args.output:
                with open(args.output, "w", encoding="utf-8", newline="") as out:
                    n = export(conn, out)
            else:
                n = export(conn, sys.stdout)
    except StoreError as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAIL
    print(f"{n} marks", file=sys.stderr)
    return EXIT_OK
