"""APScheduler 3.x: an interval job per feed (jittered, coalesced, one at a time)."""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.store import feeds as feed_store

if TYPE_CHECKING:
    from bot.app import App
    from bot.config.compile import FeedSpec
    from bot.store.feeds import FeedState

MISFIRE_GRACE = 60
SPREAD_MAX = 60.0  # seconds over which feeds without a schedule of their own start


def first_run(feed: FeedSpec, state: FeedState | None, now: datetime) -> datetime:
    """When a feed's job first fires. A feed with a stored next due time keeps it (so a
    restart keeps each feed's phase and any backoff). One never polled, or overdue, starts at
    a phase set by a hash of its name within the first min(interval, 60 s): a thousand
    feeds started together would otherwise poll in the same second every interval, for
    ever, and each would wait for the whole burst."""
    if state is not None and state.next_due is not None and state.next_due > now:
        return min(state.next_due, now + feed.interval)
    spread = min(feed.interval.total_seconds(), SPREAD_MAX)
    return now + timedelta(seconds=spread * zlib.crc32(feed.name.encode()) / 2**32)


def build_scheduler(app: App) -> BackgroundScheduler:
    """A scheduler with one job per feed and a heartbeat; feeds start spread out."""
    cfg = app.config.raw
    scheduler = BackgroundScheduler(
        timezone="UTC",
        executors={"default": ThreadPoolExecutor(cfg.fetch.concurrency)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE},
    )
    now = app.clock.now()
    with app.db.lock:
        states = feed_store.load_states(app.db.conn)
    for feed in app.config.feeds:
        add_feed_job(scheduler, app, feed, first_run(feed, states.get(feed.name), now))
    scheduler.add_job(app.heartbeat, IntervalTrigger(seconds=30), id="heartbeat",
                      next_run_time=now)
    # Digest routes: close periods and queue their messages.
    from bot import digest
    from bot.reload import Reloader

    scheduler.add_job(digest.tick, IntervalTrigger(seconds=digest.TICK_SECONDS), args=[app],
                      id="digests", next_run_time=now)
    # Hot reload: poll the config file (and take SIGHUP); reschedules feed jobs on change.
    Reloader(app, scheduler).install()
    return scheduler


def add_feed_job(scheduler: BaseScheduler, app: App, feed: FeedSpec, first: datetime) -> None:
    """(Re)schedule one feed's poll job, replacing any job of the same name."""
    jitter = int(feed.jitter.total_seconds())
    scheduler.add_job(app.poll, IntervalTrigger(seconds=feed.interval.total_seconds(),
                                                jitter=jitter or None),
                      args=[feed], id=f"feed:{feed.name}", name=feed.name,
                      next_run_time=first, replace_existing=True)
