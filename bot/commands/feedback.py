"""`chipwatch feedback export`: Not-relevant marks from Slack as TSV, ready to become rules'
`no_match` examples (one headline per line, with the rules that fired on it) and training data
for `chipwatch learn --feedback`: with `--kept`, also the parent alerts the team let stand
(posted at least `--settled` ago, no mark), `mark` = `kept`, which learn weighs as weak
positives (marks are negatives)."""

from __future__ import annotations

import argparse
import csv
import os
import sys
from datetime import datetime, timedelta
from typing import Any, TextIO

from bot.clock import SYSTEM_CLOCK
from bot.commands.common import EXIT_CONFIG, EXIT_FAIL, EXIT_OK, add_command, load
from bot.config.duration import cli_duration, format_duration
from bot.errors import StoreError
from bot.store import actions, database_url
from bot.store.base import Conn
from bot.store.kept import kept_parents
from bot.store.readonly import read_only, tables

# `mark` is last so readers of the older eight columns by position still read them.
COLUMNS = ["marked_at", "rules", "title", "link", "source", "channel", "user", "item_id",
           "mark"]
NOT_RELEVANT, KEPT = "not-relevant", "kept"
SETTLED = timedelta(days=7)  # long enough for a team to have read and marked an alert


def register(sub: Any) -> None:
    p = add_command(sub, "feedback", "Not-relevant marks made in Slack")
    p.add_argument("action", choices=["export"], help="export: write the marks as TSV")
    p.add_argument("--output", "-o", help="file to write (default: stdout)")
    p.add_argument("--kept", action="store_true",
                   help="also the parent alerts nobody marked, once settled (mark `kept`: "
                        "weak positives for `chipwatch learn --feedback`)")
    p.add_argument("--settled", type=cli_duration, metavar="DURATION",
                   help=f"with --kept: how long ago an alert must have been posted "
                        f"(default {format_duration(SETTLED)})")
    p.set_defaults(func=feedback)


def export(conn: Conn, out: TextIO, kept_before: datetime | None = None) -> tuple[int, int]:
    """Write every mark and, given `kept_before`, every parent alert posted before it that
    no mark names, in time order (a kept alert at its first post); (marks, kept)."""
    rows: list[list[str]] = [
        [m.created.isoformat(), ",".join(m.rules), _line(m.title), m.link, m.source,
         m.channel, m.user_id, m.item_id, NOT_RELEVANT]
        for m in reversed(actions.marks(conn))]  # oldest first
    marks = len(rows)
    if kept_before is not None:
        rows += [[k.posted.isoformat(), ",".join(k.rules), _line(k.title), k.link, k.source,
                  ",".join(k.channels), "", k.item_id, KEPT]
                 for k in kept_parents(conn, kept_before)]
    writer = csv.writer(out, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    rows.sort(key=_when)  # stable: marks of one instant keep their order
    writer.writerows(rows)
    return marks, len(rows) - marks


def _line(title: str) -> str:
    """A title on one line (a feed's title may hold newlines and tabs)."""
    return " ".join(title.split())


def _when(row: list[str]) -> datetime:
    return datetime.fromisoformat(row[0])


def feedback(args: argparse.Namespace) -> int:
    if args.settled is not None and not args.kept:
        print("feedback: --settled applies to --kept alerts only; add --kept",
              file=sys.stderr)
        return EXIT_CONFIG
    config = load(args, lint=False)
    url = database_url(config.settings.state_url, os.environ)
    settled = args.settled if args.settled is not None else SETTLED
    kept_before = SYSTEM_CLOCK.now() - settled if args.kept else None
    try:
        with read_only(url, config.settings.state_path) as (conn, _, _):
            if "feedback" not in tables(conn):
                print("no feedback yet (the state predates Slack actions)", file=sys.stderr)
                return EXIT_OK
            if args.output:
                with open(args.output, "w", encoding="utf-8", newline="") as out:
                    marks, kept = export(conn, out, kept_before)
            else:
                marks, kept = export(conn, sys.stdout, kept_before)
    except StoreError as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAIL
    print(f"{marks} marks" + (f", {kept} kept alerts (posted over "
                              f"{format_duration(settled)} ago, no mark)" if args.kept else ""),
          file=sys.stderr)
    return EXIT_OK
