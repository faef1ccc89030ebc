"""`chipwatch state copy --to postgresql://…`: move an install's state from its SQLite file
to PostgreSQL (feeds and validators, items seen, stories, outbox and threads, digests, feed
notices). The file is read through an in-memory copy, never written; the target is migrated
first, filled in one transaction, and refused when it already holds state unless --force."""

from __future__ import annotations

import argparse
from typing import Any

from bot.commands.common import EXIT_FAIL, EXIT_OK, add_command, load
from bot.store import SqliteStore
from bot.store.copy import copy_state, describe


def register(sub: Any) -> None:
    p = add_command(sub, "state", "move state between backends")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    cp = verbs.add_parser("copy", help="copy the SQLite state file into PostgreSQL",
                          description="copy the SQLite state file into PostgreSQL")
    cp.add_argument("--config", help="config file (default: $CHIPWATCH_CONFIG, "
                                     "else config/chipwatch.yaml)")
    cp.add_argument("--to", required=True, metavar="URL", help="postgresql://… target")
    cp.add_argument("--force", action="store_true",
                    help="replace the state the target already holds")
    cp.set_defaults(func=copy)


def copy(args: argparse.Namespace) -> int:
    from bot.store.postgres import PostgresStore, redact_url  # psycopg only when used

    config = load(args, lint=False)
    path = config.settings.state_path
    if not args.to.startswith(("postgresql://", "postgres://")):
        print("--to: expected a postgresql:// URL")
        return EXIT_FAIL
    if not path.exists():
        print(f"no state file at {path}: nothing to copy")
        return EXIT_FAIL
    src = SqliteStore.open(path, memory_copy=True)
    try:
        dst = PostgresStore.open(args.to, name="chipwatch-state-copy")
        try:
            copied = copy_state(src, dst, force=args.force)
        finally:
            dst.close()
    finally:
        src.close()
    print(f"copied {path} to {redact_url(args.to)}:\n{describe(copied)}")
    return EXIT_OK
