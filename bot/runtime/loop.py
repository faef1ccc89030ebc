"""One pass over every feed (`run --once`), or the scheduled loop until stopped (`run`)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from bot import digest
from bot.deliver import DrainReport
from bot.metrics import MetricsServer
from bot.models import FeedSpec
from bot.pipeline import PollReport
from bot.runtime.lock import hold_state
from bot.runtime.parts import Parts
from bot.runtime.processor import Processor

log = logging.getLogger("chipwatch.runtime")
SEND_WAIT_ONCE = 5.0  # a one-shot run waits this long for per-channel slots and Retry-Afters
SENDER_JOIN = 60.0


def run_once(parts: Parts) -> list[PollReport]:
    """Poll every feed once (concurrently), queue closed digests, deliver; the reports.
    Holds the state for the whole pass (raises StateInUse if another bot holds it)."""
    with hold_state(parts.db):
        return _run_once(parts)


def _run_once(parts: Parts) -> list[PollReport]:
    parts.sender.recover()
    config = parts.live.current
    reports = parts.poller.poll_all(config.feeds, force=True)
    digest.flush(parts.db, config.routes, parts.clock.now())
    # Longer backoffs (Slack down) are left in the outbox for the next run.
    count_drain(parts, parts.sender.drain(parts.stop, max_wait=SEND_WAIT_ONCE))
    if parts.escalator.flush():  # parents just posted can now be linked
        count_drain(parts, parts.sender.drain(parts.stop, max_wait=SEND_WAIT_ONCE))
    return reports


def run_forever(parts: Parts, listen: str | None) -> None:
    """Poll on schedule until `parts.stop` is set: scheduler jobs fetch, the processor thread
    records, the sender thread delivers; /metrics and /healthz on `listen` if given.
    Holds the state until stopped (raises StateInUse if another bot holds it)."""
    with hold_state(parts.db):
        _run_forever(parts, listen)


def _run_forever(parts: Parts, listen: str | None) -> None:
    parts.sender.recover()
    processor = Processor(parts.poller)
    processor.start()
    sender = threading.Thread(target=send_loop, args=[parts], name="sender", daemon=True)
    sender.start()

    server = serve_metrics(parts, listen, processor)
    if parts.interactions is not None:
        parts.interactions.start()

    def poll(feed: FeedSpec) -> None:
        fetched = parts.poller.fetch_if_due(feed)
        if fetched is not None:
            processor.submit(fetched)

    # APScheduler and the reloader only for the scheduled loop: `run --once` (often from
    # cron) does not pay for importing them.
    from bot.runtime.jobs import build_scheduler, reschedule
    from bot.runtime.reload import Reloader

    scheduler = build_scheduler(parts, poll)
    Reloader(parts.live, parts.db, parts.clock, parts.wake,
             lambda old, new: reschedule(scheduler, poll, old, new, parts)).install(scheduler)
    scheduler.start()
    config = parts.live.current
    log.info("started feeds=%d rules=%d routes=%d", len(config.feeds), len(config.rules),
             len(config.routes))
    try:
        while not parts.stop.wait(1.0):
            pass
    finally:
        if parts.interactions is not None:
            parts.interactions.close()
        scheduler.shutdown(wait=True)
        processor.close()
        parts.wake.set()
        sender.join(timeout=SENDER_JOIN)
        if server is not None:
            server.close()
        parts.heartbeat.clear()
        log.info("stopped")


def serve_metrics(parts: Parts, listen: str | None,
                  processor: Processor | None = None) -> MetricsServer | None:
    """Start /metrics and /healthz on `listen` (host:port), if given."""
    if not listen:
        return None
    return MetricsServer(listen, parts.metrics, lambda: health(parts, processor)).start()


def health(parts: Parts, processor: Processor | None) -> tuple[bool, dict[str, Any]]:
    """Healthy when the scheduler beat recently, the processor thread (if any) runs and
    Slack takes our token (a refused token stops all sending)."""
    age, limit = parts.heartbeat.age(), parts.live.current.settings.stall_after
    processing = processor is None or processor.alive()
    halted = parts.sender.halted
    return age <= limit and processing and halted is None, {
        "heartbeat_age_seconds": round(age, 1), "stall_after_seconds": limit,
        "processor_alive": processing, "sending_halted": halted}


def send_loop(parts: Parts) -> None:
    """The sender thread: drain, then sleep until woken or a second passed."""
    while not parts.stop.is_set():
        try:
            parts.escalator.flush()
            count_drain(parts, parts.sender.drain(parts.stop, max_wait=2.0))
        except Exception:
            log.exception("sender_failed")
        parts.wake.wait(1.0)
        parts.wake.clear()


def count_drain(parts: Parts, report: DrainReport) -> None:
    parts.metrics.slack_retries.inc(report.failed)
    parts.metrics.slack_dead.inc(report.dead)
