"""`chipwatch outbox requeue [--dead]`: send again what the outbox gave up on or put off.

Dead letters (a permanent error: the bot not in a channel, blocks Slack refused…) stay in the
state file; once the cause is fixed, `--dead` puts them back to pending, attempts reset, in
their original order, so a story's parent goes before its replies. Without `--dead` only the
rows waiting out a backoff are made due now. The running bot (or the next `run`) sends them.
"""

from __future__ import annotations

import argparse
from typing import Any

from bot.clock import SYSTEM_CLOCK
from bot.commands.common import EXIT_FAIL, EXIT_OK, add_command, load


def register(sub: Any) -> None:
    p = sub.add_parser("outbox", help="act on the outbox of messages to Slack",
                       description="act on the outbox of messages to Slack")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = add_command(actions, "requeue",
                    "send dead letters again (--dead) and retry waiting rows now")
    q.add_argument("--dead", action="store_true",
                   help="also put dead letters back to pending (after fixing their cause)")
    q.set_defaults(func=requeue)


def requeue(args: argparse.Namespace) -> int:
    import os

    from bot.store import database_url, open_store, outbox

    config = load(args, lint=False)
    path = config.settings.state_path
    url = database_url(config.settings.state_url, os.environ)
    if url is None and not path.exists():
        print(f"no state file at {path}: nothing to requeue")
        return EXIT_FAIL
    db = open_store(url, path, name="chipwatch-requeue")
    try:
        with db.tx() as conn:
            revived, due = outbox.requeue(conn, SYSTEM_CLOCK.now(), dead=args.dead)
            counts = outbox.counts(conn)
    finally:
        db.close()
    left = counts.get(outbox.State.DEAD, 0)
    print(f"requeued {revived} dead letters; {due} waiting rows due now; "
          f"{counts.get(outbox.State.PENDING, 0)} pending in all"
          + (f"; {left} dead letters left (add --dead to send them again)" if left else ""))
    return EXIT_OK
