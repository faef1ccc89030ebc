"""APScheduler 3.x jobs: one interval job per feed (jittered, coalesced, one at a time), the
heartbeat, digest periods, retention and the config-file watch."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot import digest
from bot.models import FeedSpec
from bot.runtime import heartbeat, retention
from bot.runtime.parts import Parts
from bot.store import feeds as feed_store
from bot.store.feeds import FeedState

log = logging.getLogger("chipwatch.runtime")
MISFIRE_GRACE = 60
SPREAD_MAX = 60.0  # seconds over which feeds without a schedule of their own start
DIGEST_TICK = 30  # seconds between looks for closed digest periods

PollJob = Callable[[FeedSpec], None]


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


def build_scheduler(parts: Parts, poll: PollJob) -> BackgroundScheduler:
    """A scheduler with one job per feed (calling `poll`), the heartbeat and digests; feeds
    start spread out."""
    config = parts.live.current
    scheduler = BackgroundScheduler(
        timezone="UTC",
        executors={"default": ThreadPoolExecutor(config.settings.fetch.concurrency)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE},
    )
    now = parts.clock.now()
    with parts.db.reading() as conn:
        states = feed_store.load_states(conn)
    for feed in config.feeds:
        add_feed_job(scheduler, poll, feed, first_run(feed, states.get(feed.name), now))
    scheduler.add_job(parts.heartbeat.beat, IntervalTrigger(seconds=heartbeat.EVERY),
                      id="heartbeat", next_run_time=now)
    scheduler.add_job(flush_digests, IntervalTrigger(seconds=DIGEST_TICK), args=[parts],
                      id="digests", next_run_time=now)
    scheduler.add_job(forget, IntervalTrigger(seconds=retention.EVERY.total_seconds()),
                      args=[parts], id="retention", next_run_time=now)
    return scheduler


def forget(parts: Parts) -> None:
    """Retention: forget what `state.keep` lets go (the lead lost mid-way: next time)."""
    retention.run_logged(parts.db, parts.live.current.settings, parts.clock, parts.stop)


def add_feed_job(scheduler: BaseScheduler, poll: PollJob, feed: FeedSpec,
                 first: datetime) -> None:
    """(Re)schedule one feed's poll job, replacing any job of the same name."""
    jitter = int(feed.jitter.total_seconds())
    scheduler.add_job(poll, IntervalTrigger(seconds=feed.interval.total_seconds(),
                                            jitter=jitter or None),
                      args=[feed], id=f"feed:{feed.name}", name=feed.name,
                      next_run_time=first, replace_existing=True)


def flush_digests(parts: Parts) -> None:
    """Queue the digests of periods that closed, and wake the sender."""
    if digest.flush(parts.db, parts.live.current.routes, parts.clock.now()):
        parts.wake.set()
