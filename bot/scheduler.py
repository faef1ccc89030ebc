"""APScheduler 3.x: an interval job per feed (jittered, coalesced, one at a time)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

if TYPE_CHECKING:
    from bot.app import App
    from bot.config.compile import FeedSpec

MISFIRE_GRACE = 60


def build_scheduler(app: App) -> BackgroundScheduler:
    """A scheduler with one job per feed and a heartbeat; feeds start staggered by jitter."""
    cfg = app.config.raw
    scheduler = BackgroundScheduler(
        timezone="UTC",
        executors={"default": ThreadPoolExecutor(cfg.fetch.concurrency)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE},
    )
    now = app.clock.now()
    for i, feed in enumerate(app.config.feeds):
        add_feed_job(scheduler, app, feed, now + timedelta(
            seconds=min(i * 0.05, feed.jitter.total_seconds())))
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
