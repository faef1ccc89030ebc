"""Retention in the running bot: every hour (and at the end of each `run --once`, for cron)
the state forgets what `state.keep` lets go (see `bot.store.retention` for what stays).

Each batch is its own short transaction, so polling and sending interleave with a long
clean-up instead of waiting behind it, and a stop ends it between batches. On SQLite the
freed pages then go back to the file system a megabyte at a time (incremental auto-vacuum),
each step as short as a batch.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.config.settings import Settings
from bot.errors import StoreError
from bot.store import retention as sql
from bot.store.base import Store

log = logging.getLogger("chipwatch.retention")
EVERY = timedelta(hours=1)
RECLAIM_PAGES = 256  # a step of giving space back: 1 MB of 4 KiB pages


@dataclass
class Report:
    """What one run removed, per kind of row, and whether a stop cut it short."""

    cutoff: datetime
    removed: dict[str, int] = field(default_factory=dict)
    reclaimed: bool = False
    stopped: bool = False

    @property
    def total(self) -> int:
        return sum(self.removed.values())


def run(db: Store, keep: timedelta, unmatched: timedelta, now: datetime, clock: Clock,
        stop: threading.Event | None = None) -> Report:
    """Remove what is older than `keep` at `now` (items no rule fired on: `unmatched`),
    batch by batch, then give the space back; record the run in the state."""
    report = Report(now - keep)
    cuts = sql.Cuts(now - keep, now - min(unmatched, keep))
    started = clock.monotonic()

    def stopping() -> bool:
        report.stopped = stop is not None and stop.is_set()
        return report.stopped

    for name, step in sql.STEPS:
        report.removed[name] = 0
        while not stopping():
            with db.tx() as conn:
                taken = step(conn, cuts, sql.BATCH)
            report.removed[name] += taken
            if taken < sql.BATCH:
                break
    if report.total and not stopping():
        left = db.reclaim(RECLAIM_PAGES)
        while left and not stopping():
            before, left = left, db.reclaim(RECLAIM_PAGES)
            if left >= before:
                break
        report.reclaimed = True
    seconds = clock.monotonic() - started
    with db.tx() as conn:
        sql.record(conn, now, report.cutoff, report.total, seconds)
    counts = " ".join(f"{k}={v}" for k, v in report.removed.items())
    (log.info if report.total else log.debug)(
        "retention_done cutoff=%s removed=%d %s seconds=%.2f%s", report.cutoff.isoformat(),
        report.total, counts, seconds, " stopped=1" if report.stopped else "")
    return report


def run_logged(db: Store, settings: Settings, clock: Clock,
               stop: threading.Event | None = None) -> Report | None:
    """`run` as a duty, with the config's `state.keep` and `state.keep_unmatched`: a failure
    (the database, the lead lost) is logged, not raised; the next run picks up where this
    one stopped."""
    try:
        return run(db, settings.keep, settings.keep_unmatched, clock.now(), clock, stop)
    except StoreError as exc:
        log.warning("retention_failed error=%s", exc)
        return None
