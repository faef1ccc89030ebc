"""Concurrent polling: many fetches in flight, one thread that parses and writes.

    fetch threads (≤ fetch.concurrency, ≤ fetch.per_host per host) ─▶ queue ─▶ processor
    processor: parse each result (no lock held), then one transaction per batch

Fetching is I/O and runs wide; parsing, matching and SQLite writes run in one thread so they
never hold up a fetch and never contend for the database. A batch is whatever has arrived
since the last one: one commit for dozens of feeds instead of one each. Each feed still gets
its own savepoint, so its items, outbox rows and validators move together or not at all, and
one feed's failure rolls back only that feed.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from datetime import datetime
from urllib.parse import urlsplit

from bot import health
from bot.clock import Clock
from bot.config.compile import Config
from bot.config.live import LiveConfig
from bot.errors import StoreError
from bot.feeds.fetch import Fetcher, FetchResult
from bot.feeds.parsepool import Parsed, ParsePool, parse_result
from bot.feeds.response import Outcome
from bot.metrics import Metrics
from bot.models import FeedSpec, Item
from bot.pipeline import (
    Fetched,
    Polled,
    PollReport,
    RunContext,
    Stories,
    alerting,
    fetch_record,
    finish,
    log_report,
    screen,
)
from bot.store import feeds as feed_store
from bot.store import items as item_store
from bot.store.base import Conn, Store, savepoint
from bot.store.feeds import FeedState

log = logging.getLogger("chipwatch.poll")
BATCH_MAX = 200
BATCH_WINDOW = 0.05  # seconds a batch waits for company after its first feed
STOP_CHECK = 0.2  # seconds between looks at the stop event while waiting for fetches


def take_batch(q: queue.SimpleQueue[Fetched], most: int, clock: Clock,
               first_wait: float | None = None) -> list[Fetched]:
    """Up to `most` results: the first (waiting up to `first_wait`, or for ever), then any
    that arrive within BATCH_WINDOW, since a commit per handful of feeds costs more CPU
    than it saves in latency."""
    try:
        batch = [q.get(timeout=first_wait)]
    except queue.Empty:
        return []
    end = clock.monotonic() + BATCH_WINDOW
    while len(batch) < most:
        wait = end - clock.monotonic()
        try:
            batch.append(q.get(timeout=wait) if wait > 0 else q.get_nowait())
        except queue.Empty:
            break
    return batch


def _items(batch: Sequence[Polled]) -> list[Item]:
    return [it for p in batch for it in p.parsed.items]


class HostSlots:
    """At most `per_host` fetches in flight to any one host (scheme, name and port)."""

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, url: str) -> Iterator[None]:
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc.lower()}"
        with self._lock:
            slot = self._slots.setdefault(key, threading.BoundedSemaphore(self.per_host))
        with slot:
            yield


def by_host_in_turn(todo: list[tuple[FeedSpec, FeedState]]) -> list[tuple[FeedSpec, FeedState]]:
    """Feeds reordered to take hosts in turn: a run of feeds from one publisher would fill
    every fetch thread with waits for that host's few slots while other hosts sit idle."""
    hosts: dict[str, list[tuple[FeedSpec, FeedState]]] = {}
    for pair in todo:
        hosts.setdefault(urlsplit(pair[0].url).netloc, []).append(pair)
    queues = list(hosts.values())
    return [q[i] for i in range(max(map(len, queues), default=0)) for q in queues if i < len(q)]


def is_due(feed: FeedSpec, state: FeedState, now: datetime) -> bool:
    """Due when never polled or at its next due time, give or take the jitter the scheduler
    adds (so a healthy feed is never skipped for firing a few seconds early)."""
    if state.gone:
        return False
    if state.next_due is None:
        return True
    return state.next_due - now <= feed.jitter + feed.interval * 0.1


class Poller:
    """Fetches feeds concurrently and records them in batches."""

    def __init__(self, live: LiveConfig, db: Store, fetcher: Fetcher, clock: Clock,
                 stories: Stories, metrics: Metrics) -> None:
        self.live, self.db, self.fetcher, self.clock = live, db, fetcher, clock
        self.stories, self.metrics = stories, metrics
        fetch = live.current.settings.fetch
        self.slots = HostSlots(fetch.per_host)
        self.parsers = ParsePool(fetch.parse_workers)
        self.on_alert: Callable[[], None] = lambda: None
        self.watch_health = True  # feed-health notices (off for an archive's feeds)
        # Set on SIGTERM/SIGINT: no new fetch starts, and a fetch the stop cut short is
        # dropped unrecorded (the feed is polled again next time, not counted as failing).
        self.stop = threading.Event()
        self.buttons = False  # parent alerts get interactive buttons (Socket Mode is on)
        # Told when the story engine's memory may no longer match the store: a transaction
        # (or a feed's savepoint) that held its writes rolled back, or the lead changed.
        self.stories_stale: Callable[[], None] = lambda: None

    @property
    def config(self) -> Config:
        """The running config (a reload swaps it for every holder at once)."""
        return self.live.current

    def state(self, feed: FeedSpec) -> FeedState:
        with self.db.reading() as conn:
            return feed_store.load_state(conn, feed.name)

    def fetch_if_due(self, feed: FeedSpec) -> Fetched | None:
        """The scheduler's half of a poll: fetch one feed if it is due (None if not)."""
        if self.stop.is_set():
            return None
        state = self.state(feed)
        if state.gone or not is_due(feed, state, self.clock.now()):
            return None
        fetched = self.fetch(feed, state)
        return None if self.cut_short(fetched) else fetched

    def cut_short(self, fetched: Fetched) -> bool:
        """Whether a stop cut this fetch short: it failed while the bot was stopping."""
        return self.stop.is_set() and fetched.result.outcome is Outcome.ERROR

    def fetch(self, feed: FeedSpec, state: FeedState) -> Fetched:
        """Fetch one feed within its host's limit; never raises."""
        started = self.clock.monotonic()
        try:
            with self.slots.hold(feed.url):
                result = self.fetcher.fetch(feed, state.validators)
        except Exception as exc:  # a fetcher bug must not lose the feed's turn silently
            log.exception("fetch_crashed feed=%s", feed.name)
            result = FetchResult(feed, Outcome.ERROR, self.clock.now(),
                                 error=f"{type(exc).__name__}: {exc}"[:300])
        self.metrics.fetched(result, self.clock.monotonic() - started)
        return Fetched(feed, state.errors, result, started)

    def process(self, batch: Sequence[Fetched]) -> list[PollReport]:
        """Parse, then record the whole batch."""
        return self.record(self._parse(batch))

    def record(self, batch: Sequence[Polled]) -> list[PollReport]:
        """Record parsed polls in one transaction (a savepoint per feed) and account for
        them. A backtest hands its archive's items in here, as polls already parsed."""
        now = self.clock.now()
        config = self.config
        reports: list[tuple[PollReport, int]] = []
        fetches: list[feed_store.Fetch] = []
        with self._forgetting_on_rollback(), self.db.tx() as conn:
            known = item_store.known(conn, _items(batch), now)
            for i, polled in enumerate(batch):
                f = polled.fetched
                ctx = RunContext(now, config, self.db, self.stories, f.feed, known, self.buttons)
                try:
                    cands = screen(ctx, polled)
                    # A savepoint makes a feed's several writes one, so a failure rolls them
                    # back together; most polls alert nothing and write once.
                    with savepoint(conn, "feed") if alerting(cands) else nullcontext():
                        report = finish(ctx, polled, cands)
                except StoreError:  # the database, not this feed: the batch fails whole
                    raise
                except Exception:
                    log.exception("poll_failed feed=%s", f.feed.name)
                    self.stories_stale()  # the feed's story writes were rolled back
                    # What this feed took is rolled back: look the rest up afresh.
                    known = item_store.known(conn, _items(batch[i + 1:]), now)
                else:
                    reports.append((report, f.errors + 1 if report.error else 0))
                    fetches.append(fetch_record(polled, report))
            feed_store.record_fetches(conn, fetches)
            notices = (self._health(conn, [r.feed for r, _ in reports], now)
                       if self.watch_health else [])
        for kind in notices:
            self.metrics.notices.labels(
                f"{kind.kind}_recovered" if kind.recovered else kind.kind).inc()
        self._account(reports, now)
        if batch:
            self.metrics.poll_cycle.observe(self.clock.monotonic() - batch[0].fetched.started)
        if any(r.alerts for r, _ in reports) or notices:
            self.on_alert()
        return [r for r, _ in reports]

    @contextmanager
    def _forgetting_on_rollback(self) -> Iterator[None]:
        """A batch that fails (the database went away, or its commit's answer was lost) may
        or may not be in the store: the story engine reloads what is."""
        try:
            yield
        except BaseException:
            self.stories_stale()
            raise

    def _parse(self, batch: Sequence[Fetched]) -> list[Polled]:
        """Parse a batch's bodies: in the worker pool when there are several and it runs,
        else in this process. A body that crashes the parser yields no items and the error."""
        bodies = sum(1 for f in batch if f.result.outcome is Outcome.OK)
        if bodies > 1:
            self.parsers.warm()
        jobs = [self.parsers.submit(f.result) if bodies > 1 and f.result.outcome is Outcome.OK
                else None for f in batch]
        return [Polled(f, self._parsed(f, job)) for f, job in zip(batch, jobs, strict=True)]

    def _parsed(self, f: Fetched, job: Future[Parsed] | None) -> Parsed:
        if f.result.outcome is not Outcome.OK:
            return Parsed([], None)
        try:
            return self.parsers.result(job, f.result) if job else parse_result(f.result)
        except Exception as exc:  # a parser bug costs this feed's poll, never the batch
            log.exception("parse_crashed feed=%s", f.feed.name)
            return Parsed([], f"parser crashed: {type(exc).__name__}")

    def _health(self, conn: Conn, feeds: list[str], now: datetime) -> list[health.Notice]:
        """Open or close feed health notices, in their own savepoint of the batch."""
        settings = self.config.settings
        try:
            with savepoint(conn, "health"):
                notices = health.evaluate(conn, feeds, now, settings.feed_health)
                health.apply(conn, notices, now, settings.ops_channel)
        except StoreError:
            raise
        except Exception:
            log.exception("feed_health_failed feeds=%d", len(feeds))
            notices = []
        return notices

    def _account(self, reports: list[tuple[PollReport, int]], now: datetime) -> None:
        m = self.metrics
        for report, errors in reports:
            log_report(report, errors)
            for rule, channel in report.alerted:
                m.alerts.labels(rule, channel).inc()
            if report.error is None:
                m.success(report.feed, now)
        # One increment per batch: a batch may hold hundreds of feeds.
        m.items_seen.inc(sum(r.items for r, _ in reports))
        m.items_new.inc(sum(r.new for r, _ in reports))

    def poll_all(self, feeds: Sequence[FeedSpec], force: bool = False) -> list[PollReport]:
        """One cycle over `feeds` (only the due ones unless `force`): fetch concurrently,
        process results in batches as they arrive. Returns the reports."""
        now = self.clock.now()
        with self.db.reading() as conn:
            states = feed_store.load_states(conn)
        todo = [(f, states.get(f.name, FeedState())) for f in feeds]
        todo = by_host_in_turn([(f, s) for f, s in todo
                                if not s.gone and (force or is_due(f, s, now))])
        if not todo:
            return []
        started = self.clock.monotonic()
        if len(todo) > 1:
            self.parsers.warm()  # workers boot while the first fetches are in flight
        done: queue.SimpleQueue[Fetched] = queue.SimpleQueue()
        reports: list[PollReport] = []
        workers = max(1, min(self.config.settings.fetch.concurrency, len(todo)))

        def fetch(feed: FeedSpec, state: FeedState) -> None:
            if not self.stop.is_set():
                done.put(self.fetch(feed, state))

        with ThreadPoolExecutor(workers, thread_name_prefix="fetch") as pool:
            for feed, state in todo:
                pool.submit(fetch, feed, state)
            left = len(todo)
            # A stop ends the cycle between batches: what is fetched but not yet recorded is
            # dropped (its validators did not move, so the next run fetches it again).
            while left and not self.stop.is_set():
                batch = take_batch(done, min(left, BATCH_MAX), self.clock, first_wait=STOP_CHECK)
                left -= len(batch)
                batch = [f for f in batch if not self.cut_short(f)]
                if batch:
                    reports.extend(self.process(batch))
        if self.stop.is_set():
            log.info("poll_cycle_stopped feeds_recorded=%d feeds_left=%d", len(reports),
                     len(todo) - len(reports))
            return reports
        log.info("poll_cycle_done feeds=%d new=%d alerts=%d failed=%d seconds=%.2f",
                 len(reports), sum(r.new for r in reports), sum(r.alerts for r in reports),
                 sum(1 for r in reports if r.error), self.clock.monotonic() - started)
        return reports
