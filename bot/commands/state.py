"""`chipwatch state copy --to postgresql://…`: move an install's state from its SQLite file
to PostgreSQL (every table the migrations create, Slack actions, mutes, marks and
escalations included). The file is read through an in-memory copy, never written; the
target is migrated first, filled in one transaction, and refused when it already holds state
unless --force. A database replicas run on is refused whatever --force says: the copy takes
the lease as a one-shot run does (which fences a paused old leader), and gives it back.

Exit codes: 0 copied; 1 nothing copied (no state file, not a PostgreSQL URL, the target holds
state without --force, replicas run on it, the database is unreachable); 2 config error.
"""

from __future__ import annotations

import argparse
from typing import Any

from bot.clock import SYSTEM_CLOCK
from bot.commands.common import EXIT_FAIL, EXIT_OK, add_command, load
from bot.errors import StoreError
from bot.store import SqliteStore
from bot.store.copy import copy_state, describe

COPIER = "chipwatch-state-copy"  # the name the copy holds the lease under


def register(sub: Any) -> None:
    p = add_command(sub, "state", "move state between backends")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    cp = verbs.add_parser("copy", help="copy the SQLite state file into PostgreSQL",
                          description="copy the SQLite state file into PostgreSQL")
    cp.add_argument("--config", help="config file (default: $CHIPWATCH_CONFIG, "
                                     "else config/chipwatch.yaml)")
    cp.add_argument("--to", required=True, metavar="URL", help="postgresql://… target")
    cp.add_argument("--force", action="store_true",
                    help="replace the state the target already holds (never while "
                         "replicas run on it)")
    cp.set_defaults(func=copy)
    from bot.commands import state_archive

    state_archive.add_verb(verbs)


def copy(args: argparse.Namespace) -> int:
    from bot.runtime.leader import LeaseLeader
    from bot.store.postgres import PostgresStore, redact_url  # psycopg only when used

    config = load(args, lint=False)
    path = config.settings.state_path
    if not args.to.startswith(("postgresql://", "postgres://")):
        print("--to: expected a postgresql:// URL")
        return EXIT_FAIL
    if not path.exists():
        print(f"no state file at {path}: nothing to copy")
        return EXIT_FAIL
    failover = config.settings.failover
    src = SqliteStore.open(path, memory_copy=True)
    try:
        dst = PostgresStore.open(args.to, name=COPIER)
        lead = LeaseLeader(args.to, COPIER, failover, SYSTEM_CLOCK)
        try:
            _refuse_live_replicas(dst, failover)
            lead.tick()
            if not lead.may_act():
                raise StoreError(f"{dst.where}: replica {lead.leader_name} holds the lease: "
                                 "stop every replica before copying (--force only replaces "
                                 "a database nobody runs on)")
            dst.set_fence(lead)  # the copy commits only while the lease is still ours
            copied = copy_state(src, dst, force=args.force)
        finally:
            lead.release()
            dst.close()
    finally:
        src.close()
    print(f"copied {path} to {redact_url(args.to)}:\n{describe(copied)}")
    return EXIT_OK


def _refuse_live_replicas(dst: Any, failover: float) -> None:
    """A replica heard from within the failover time, and not stopped, may be running (a
    standby would take over the copied state half-way): refuse, naming it."""
    from bot.store import lease

    with dst.reading() as conn:
        alive = [r for r in lease.replicas(conn, failover)
                 if r.role != "stopped" and r.name != COPIER]
    if alive:
        r = alive[0]
        raise StoreError(f"{dst.where}: replica {r.name} ({r.role}) was heard from "
                         f"{r.seen_ago:.0f}s ago: stop every replica before copying (--force "
                         "only replaces a database nobody runs on)")
