"""Wiring: config → store, fetcher, notifier, sender → scheduler (or one pass with --once)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.clock import SYSTEM_CLOCK, Clock
from bot.config.compile import Config, FeedSpec
from bot.deliver import DrainReport, Sender
from bot.feeds.fetch import Fetcher, FetchLimits, HttpFetcher
from bot.metrics import MeteredNotifier, Metrics, MetricsServer
from bot.pipeline import OwnStory, PollReport, Stories
from bot.poller import Poller, Processor, is_due
from bot.slack.notifier import ConsoleNotifier, Notifier, SlackNotifier
from bot.store import outbox
from bot.store.db import Database

log = logging.getLogger("chipwatch.app")
HEARTBEAT_EVERY = 30.0


def make_notifier(config: Config, env: Mapping[str, str], dry_run: bool) -> Notifier:
    """Slack when a token is set (and not a dry run), else the console."""
    token = env.get("SLACK_BOT_TOKEN", "").strip()
    if dry_run or not token:
        if not dry_run:
            log.info("slack_disabled reason=no_SLACK_BOT_TOKEN alerts=console")
        return ConsoleNotifier()
    base = env.get("SLACK_API_URL") or config.raw.slack.api_url
    if base and not base.endswith("/"):
        base += "/"
    return SlackNotifier(token, base, config.raw.slack.timeout.total_seconds())


def fetch_limits(config: Config) -> FetchLimits:
    f = config.raw.fetch
    limits = FetchLimits(f.connect_timeout.total_seconds(), f.total_timeout.total_seconds(),
                         f.max_bytes, f.max_redirects)
    return limits if f.user_agent is None else FetchLimits(
        limits.connect_timeout, limits.total_timeout, limits.max_bytes, limits.max_redirects,
        f.user_agent)


@dataclass
class App:
    """A configured bot: polls feeds, records, and hands the outbox to the sender."""

    config: Config
    db: Database
    fetcher: Fetcher
    notifier: Notifier
    clock: Clock = SYSTEM_CLOCK
    stories: Stories = field(default_factory=OwnStory)
    stop: threading.Event = field(default_factory=threading.Event)
    wake: threading.Event = field(default_factory=threading.Event)
    metrics: Metrics = field(default_factory=Metrics)

    def __post_init__(self) -> None:
        self.sender = Sender(self.db, MeteredNotifier(self.notifier, self.metrics), self.clock,
                             self.config.raw.slack.per_channel_interval.total_seconds())
        self.last_tick = self.clock.monotonic()
        self.poller = Poller(self.config, self.db, self.fetcher, self.clock, self.stories,
                             self.metrics)
        self.poller.on_alert = self.wake.set
        self.processor: Processor | None = None
        self._watch_store()

    def _watch_store(self) -> None:
        """Metrics read from the state file: outbox depth now, last successes from before."""
        def depth() -> dict[str, float]:
            with self.db.lock:
                counts = outbox.counts(self.db.conn)
            return {s: float(counts.get(s, 0)) for s in ("pending", "inflight", "sent", "dead")}

        self.metrics.watch("chipwatch_outbox_rows", "Outbox rows by state.", "state", depth)
        with self.db.lock:
            rows = self.db.conn.execute(
                "SELECT name, last_success FROM feeds WHERE last_success IS NOT NULL").fetchall()
        for name, when in rows:
            self.metrics.success(name, datetime.fromisoformat(when))

    @classmethod
    def build(cls, config: Config, *, dry_run: bool = False,
              env: Mapping[str, str] | None = None, clock: Clock = SYSTEM_CLOCK) -> App:
        env = os.environ if env is None else env
        db = Database.open(config.raw.state.path, memory_copy=dry_run)
        fetcher = HttpFetcher(clock, fetch_limits(config),
                              max_connections=config.raw.fetch.concurrency)
        from bot.stories import make_stories

        with db.lock:
            stories = make_stories(config.raw.dedup, db.conn)
        return cls(config, db, fetcher, make_notifier(config, env, dry_run), clock, stories)

    def poll(self, feed: FeedSpec, force: bool = False) -> PollReport | None:
        """Poll one feed if it is due (or `force`); None when skipped. While `run_forever`
        runs, this only fetches (it is the scheduler's job) and hands the result to the
        processor thread, so it also returns None."""
        state = self.poller.state(feed)
        if state.gone or not (force or is_due(feed, state, self.clock.now())):
            return None
        fetched = self.poller.fetch(feed, state)
        if self.processor is not None:
            self.processor.submit(fetched)
            return None
        reports = self.poller.process([fetched])
        return reports[0] if reports else None

    def run_once(self) -> list[PollReport]:
        """Poll every feed once (concurrently), deliver everything, return the reports."""
        self.sender.recover()
        started = self.clock.monotonic()
        reports = self.poller.poll_all(self.config.feeds, force=True)
        self.metrics.poll_cycle.observe(self.clock.monotonic() - started)
        from bot.digest import flush

        flush(self.db, self.config.routes, self.clock.now())  # digest periods closed by now
        # Waits for per-channel slots and short Retry-Afters; longer backoffs (Slack down)
        # are left in the outbox for the next run.
        self._count(self.sender.drain(self.stop, max_wait=5.0))
        return reports

    def run_forever(self) -> None:
        """Poll on schedule until `stop` is set; the sender runs in its own thread."""
        from bot.scheduler import build_scheduler

        self.sender.recover()
        self.processor = Processor(self.poller)
        self.processor.start()
        sender = threading.Thread(target=self._send_loop, name="sender", daemon=True)
        sender.start()
        server = self.serve_metrics()
        scheduler = build_scheduler(self)
        scheduler.start()
        log.info("started feeds=%d rules=%d routes=%d", len(self.config.feeds),
                 len(self.config.rules), len(self.config.routes))
        try:
            while not self.stop.wait(1.0):
                pass
        finally:
            scheduler.shutdown(wait=True)
            self.processor.close()
            self.wake.set()
            sender.join(timeout=60)
            if server is not None:
                server.close()
            log.info("stopped")

    def serve_metrics(self, env: Mapping[str, str] | None = None) -> MetricsServer | None:
        """Start /metrics and /healthz if configured ($CHIPWATCH_METRICS_LISTEN overrides)."""
        listen = metrics_listen(self.config, os.environ if env is None else env)
        return MetricsServer(listen, self.metrics, self.health).start() if listen else None

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Alive when the scheduler beat recently and the processor thread runs."""
        age = self.clock.monotonic() - self.last_tick
        limit = self.config.raw.metrics.stall_after.total_seconds()
        processing = self.processor is None or self.processor.thread.is_alive()
        ok = age <= limit and processing
        return ok, {"heartbeat_age_seconds": round(age, 1), "stall_after_seconds": limit,
                    "processor_alive": processing}

    def heartbeat(self) -> None:
        """Mark the scheduler alive (read by `chipwatch health`)."""
        self.last_tick = self.clock.monotonic()
        path = Path(self.config.raw.state.path).with_suffix(".heartbeat")
        try:
            path.write_text(self.clock.now().isoformat())
        except OSError as exc:
            log.warning("heartbeat_failed path=%s error=%s", path, exc.strerror)

    def _send_loop(self) -> None:
        while not self.stop.is_set():
            try:
                self._count(self.sender.drain(self.stop, max_wait=2.0))
            except Exception:
                log.exception("sender_failed")
            self.wake.wait(1.0)
            self.wake.clear()

    def _count(self, report: DrainReport) -> None:
        self.metrics.slack_retries.inc(report.failed)
        self.metrics.slack_dead.inc(report.dead)

    def close(self) -> None:
        self.poller.parsers.close()
        close = getattr(self.fetcher, "close", None)
        if close:
            close()
        self.db.close()


def metrics_listen(config: Config, env: Mapping[str, str]) -> str | None:
    """Where /metrics and /healthz listen: $CHIPWATCH_METRICS_LISTEN, else the config."""
    return env.get("CHIPWATCH_METRICS_LISTEN") or config.raw.metrics.listen


def heartbeat_age(config: Config, clock: Clock = SYSTEM_CLOCK) -> timedelta | None:
    """How long since the running bot's last heartbeat; None if it never beat."""
    path = Path(config.raw.state.path).with_suffix(".heartbeat")
    try:
        when = datetime.fromisoformat(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return clock.now() - when.astimezone(UTC)
