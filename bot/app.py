"""Wiring: config → store, fetcher, notifier, sender → scheduler (or one pass with --once)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.clock import SYSTEM_CLOCK, Clock
from bot.config.compile import Config, FeedSpec
from bot.deliver import Sender
from bot.feeds.fetch import Fetcher, FetchLimits, HttpFetcher
from bot.feeds.response import Outcome
from bot.pipeline import OwnStory, PollReport, RunContext, Stories, poll_feed
from bot.slack.notifier import ConsoleNotifier, Notifier, SlackNotifier
from bot.store import feeds as feed_store
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

    def __post_init__(self) -> None:
        self.sender = Sender(self.db, self.notifier, self.clock,
                             self.config.raw.slack.per_channel_interval.total_seconds())
        self.last_tick = self.clock.monotonic()

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
        """Poll one feed if it is due (or `force`); None when skipped."""
        with self.db.lock:
            state = feed_store.load_state(self.db.conn, feed.name)
        now = self.clock.now()
        if state.gone or (not force and state.next_due and now < state.next_due):
            return None
        ctx = RunContext(now, self.config, self.db, self.stories, feed)
        try:
            report = poll_feed(ctx, self.fetcher)
        except Exception:  # the loop must survive anything one feed does
            log.exception("poll_failed feed=%s", feed.name)
            return None
        if report.outcome is Outcome.GONE:
            log.error("feed_gone feed=%s action=stopped_polling", feed.name)
        if report.alerts:
            self.wake.set()
        return report

    def run_once(self) -> list[PollReport]:
        """Poll every feed once (concurrently), deliver everything, return the reports."""
        self.sender.recover()
        feeds = self.config.feeds
        workers = max(1, min(self.config.raw.fetch.concurrency, len(feeds)))
        with ThreadPoolExecutor(workers, thread_name_prefix="poll") as pool:
            reports = [r for r in pool.map(lambda f: self.poll(f, force=True), feeds) if r]
        from bot.digest import flush

        flush(self.db, self.config.routes, self.clock.now())  # digest periods closed by now
        # Waits for per-channel slots and short Retry-Afters; longer backoffs (Slack down)
        # are left in the outbox for the next run.
        self.sender.drain(self.stop, max_wait=5.0)
        return reports

    def run_forever(self) -> None:
        """Poll on schedule until `stop` is set; the sender runs in its own thread."""
        from bot.scheduler import build_scheduler

        self.sender.recover()
        sender = threading.Thread(target=self._send_loop, name="sender", daemon=True)
        sender.start()
        scheduler = build_scheduler(self)
        scheduler.start()
        log.info("started feeds=%d rules=%d routes=%d", len(self.config.feeds),
                 len(self.config.rules), len(self.config.routes))
        try:
            while not self.stop.wait(1.0):
                pass
        finally:
            scheduler.shutdown(wait=True)
            self.wake.set()
            sender.join(timeout=60)
            log.info("stopped")

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
                self.sender.drain(self.stop, max_wait=2.0)
            except Exception:
                log.exception("sender_failed")
            self.wake.wait(1.0)
            self.wake.clear()

    def close(self) -> None:
        close = getattr(self.fetcher, "close", None)
        if close:
            close()
        self.db.close()


def heartbeat_age(config: Config, clock: Clock = SYSTEM_CLOCK) -> timedelta | None:
    """How long since the running bot's last heartbeat; None if it never beat."""
    path = Path(config.raw.state.path).with_suffix(".heartbeat")
    try:
        when = datetime.fromisoformat(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return clock.now() - when.astimezone(UTC)
