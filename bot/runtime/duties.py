"""What only the leading replica does: the scheduler's jobs fetch, the processor thread
records, the sender thread delivers. Started on taking the lead, stopped on losing it (or
on the way out); a replica may lead, follow and lead again in one life."""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import TYPE_CHECKING, Any

from bot.config.compile import Config
from bot.deliver import DrainReport
from bot.errors import StoreError
from bot.models import FeedSpec
from bot.runtime.parts import Parts
from bot.runtime.processor import Processor
from bot.store import FencedError

if TYPE_CHECKING:  # APScheduler is imported when the lead is taken: `run --once` never needs it
    from apscheduler.schedulers.base import BaseScheduler

log = logging.getLogger("chipwatch.runtime")
SENDER_JOIN = 60.0


class Duties:
    """The leader's threads and jobs, as one thing to start and stop."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self.stop = threading.Event()
        self.processor = Processor(parts.poller)
        self.sender = threading.Thread(target=send_loop, args=[parts, self.stop],
                                       name="sender", daemon=True)
        self.scheduler: BaseScheduler | None = None
        self.deferred = False  # a new lead waits for these closed duties' threads (logged)

    def start(self) -> None:
        """Settle the outbox, then start recording, sending and the scheduled jobs."""
        parts = self.parts
        parts.sender.recover()
        # Another replica may have led meanwhile, or this one's last batches rolled back.
        parts.poller.stories_stale()
        self.processor.start()
        self.sender.start()

        def poll(feed: FeedSpec) -> None:
            fetched = parts.poller.fetch_if_due(feed)
            if fetched is not None:
                self.processor.submit(fetched)

        from bot.runtime.jobs import build_scheduler
        from bot.runtime.reload import Reloader

        scheduler = self.scheduler = build_scheduler(parts, poll)
        Reloader(parts.live, parts.db, parts.clock, parts.wake,
                 lambda old, new: reschedule(scheduler, poll, old, new, parts)
                 ).install(scheduler)
        scheduler.start()
        if parts.interactions is not None:  # Slack's buttons and commands change state
            parts.interactions.start()

    def alive(self) -> bool:
        return self.processor.alive()

    def close(self, *, lost: bool = False) -> None:
        """Stop the jobs, record what was fetched, let the sender finish its message. When
        the lead was `lost`, nothing more can commit: do not wait for fetches in flight."""
        if self.parts.interactions is not None:
            self.parts.interactions.close()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=not lost)
        self.processor.close(timeout=5.0 if lost else 30.0)
        self.stop.set()
        self.parts.wake.set()
        if self.sender.ident is not None:
            self.sender.join(timeout=5.0 if lost else SENDER_JOIN)

    def finished(self) -> bool:
        """Whether every thread of these duties has ended (after `close`): a lead taken
        again must not run beside the last one's threads, which would act in its term."""
        return not (self.processor.thread.is_alive() or self.sender.is_alive())


def reschedule(scheduler: BaseScheduler, poll: Any, old: Config, new: Config,
               parts: Parts) -> None:
    """Follow a config swap: drop removed feeds' jobs, (re)add changed and new ones."""
    from apscheduler.jobstores.base import JobLookupError

    from bot.runtime.jobs import add_feed_job

    before = {f.name: f for f in old.feeds}
    after = {f.name: f for f in new.feeds}
    for name in before:
        if name not in after:
            with contextlib.suppress(JobLookupError):
                scheduler.remove_job(f"feed:{name}")
    now = parts.clock.now()
    for name, feed in after.items():
        if before.get(name) != feed:
            add_feed_job(scheduler, poll, feed, now)


def send_loop(parts: Parts, stop: threading.Event) -> None:
    """The sender thread: drain, then sleep until woken or a second passed."""
    while not (stop.is_set() or parts.stop.is_set()):
        try:
            parts.escalator.flush()
            count_drain(parts, parts.sender.drain(stop, max_wait=2.0))
        except FencedError as exc:
            log.warning("fenced_send_refused error=%s", exc)
        except StoreError as exc:
            log.warning("sender_store_failed error=%s", exc)
        except Exception:
            log.exception("sender_failed")
        parts.wake.wait(1.0)
        parts.wake.clear()


def count_drain(parts: Parts, report: DrainReport) -> None:
    parts.metrics.slack_retries.inc(report.failed)
    parts.metrics.slack_dead.inc(report.dead)
