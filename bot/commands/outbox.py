"""`chipwatch outbox requeue [--dead] [--reroute | --to CHANNEL] [--from CHANNEL]`: send
again what the outbox gave up on or put off.

Dead letters (a permanent error: the bot not in a channel, a channel that does not exist,
blocks Slack refused…) stay in the state file. Once the cause is fixed, `--dead` puts them
back to pending, attempts reset, in their original order, so a story's parent goes before
its replies. When the fix was a route (the channel was wrong), `--reroute` sends each to
where the current config routes its item, and `--to CHANNEL` sends them all to one channel;
both imply `--dead`, and `--from CHANNEL` takes only the dead letters of one channel (see
`bot.requeue` for what is moved and what is left dead, and why). Without `--dead` only the
rows waiting out a backoff are made due now. The running bot (or the next `run`) sends them.

Exit codes: 0 done (what was done, and what was left dead and why, is printed); 1 no state
file; 2 config error or bad options.
"""

from __future__ import annotations

import argparse
from typing import Any

from bot.clock import SYSTEM_CLOCK
from bot.commands.common import EXIT_CONFIG, EXIT_FAIL, EXIT_OK, add_command, load


def register(sub: Any) -> None:
    p = sub.add_parser("outbox", help="act on the outbox of messages to Slack",
                       description="act on the outbox of messages to Slack")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = add_command(actions, "requeue",
                    "send dead letters again (--dead) and retry waiting rows now")
    q.add_argument("--dead", action="store_true",
                   help="also put dead letters back to pending (after fixing their cause)")
    where = q.add_mutually_exclusive_group()
    where.add_argument("--reroute", action="store_true",
                       help="send dead letters where the current config routes them "
                            "(implies --dead)")
    where.add_argument("--to", metavar="CHANNEL",
                       help="send dead letters to this channel instead (implies --dead)")
    q.add_argument("--from", dest="from_channel", metavar="CHANNEL",
                   help="only the dead letters of this channel")
    q.set_defaults(func=requeue)


def requeue(args: argparse.Namespace) -> int:
    import os

    from bot import requeue as dead_letters
    from bot.store import database_url, deadletters, open_store, outbox

    config = load(args, lint=False)
    revive = args.dead or args.reroute or args.to is not None
    if args.from_channel and not revive:
        print("--from: takes dead letters; add --dead, --reroute or --to")
        return EXIT_CONFIG
    if args.to is not None and not args.to.strip():
        print("--to: expected a channel name or id")
        return EXIT_CONFIG
    path = config.settings.state_path
    url = database_url(config.settings.state_url, os.environ)
    if url is None and not path.exists():
        print(f"no state file at {path}: nothing to requeue")
        return EXIT_FAIL
    targets = (dead_letters.to_channel(args.to.strip()) if args.to is not None
               else dead_letters.rerouted(config) if args.reroute
               else lambda row: [row.channel])
    db = open_store(url, path, name="chipwatch-requeue")
    try:
        with db.tx() as conn:
            now = SYSTEM_CLOCK.now()
            done = dead_letters.Outcome()
            if revive:
                rows = deadletters.dead(conn, args.from_channel)
                done = dead_letters.requeue_dead(conn, rows, targets, now)
            due = outbox.due_now(conn, now)
            counts = outbox.counts(conn)
    finally:
        db.close()
    left = counts.get(outbox.State.DEAD, 0)
    print(f"requeued {done.requeued} dead letters; {due} waiting rows due now; "
          f"{counts.get(outbox.State.PENDING, 0)} pending in all"
          + (f"; {left} dead letters left" + ("" if revive else " (add --dead to send them "
                                               "again)") if left else ""))
    for line in done.lines():
        print(line)
    return EXIT_OK
