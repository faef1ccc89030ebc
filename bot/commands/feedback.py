"""`chipwatch feedback export`: Not-relevant marks from Slack as TSV, ready to become rules'
`no_match` examples (one headline per line, with the rules that fired on it)."""

from __future__ import annotations

import argparse
import csv
import sqlite3
import sys
from typing import Any, TextIO

from bot.commands.common import EXIT_FAIL, EXIT_OK, add_command, load
from bot.store import actions

COLUMNS = ["marked_at", "rules", "title", "link", "source", "channel", "user", "item_id"]


def register(sub: Any) -> None:
    p = add_command(sub, "feedback", "Not-relevant marks made in Slack")
    p.add_argument("action", choices=["export"], help="export: write the marks as TSV")
    p.add_argument("--output", "-o", help="file to write (default: stdout)")
    p.set_defaults(func=feedback)


def export(conn: sqlite3.Connection, out: TextIO) -> int:
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
    path = config.settings.state_path
    if not path.exists():
        print(f"no state file at {path}", file=sys.stderr)
        return EXIT_FAIL
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'feedback'").fetchone():
            print("no feedback yet (the state predates Slack actions)", file=sys.stderr)
            return EXIT_OK
        if args.output:
            with open(args.output, "w", encoding="utf-8", newline="") as out:
                n = export(conn, out)
        else:
            n = export(conn, sys.stdout)
    finally:
        conn.close()
    print(f"{n} marks", file=sys.stderr)
    return EXIT_OK
