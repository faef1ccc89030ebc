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
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from bot import health
from bot.clock import Clock
from bot.config.compile import Config, FeedSpec
from bot.feeds.fetch import Fetcher, FetchResult
from bot.feeds.parsepool import Parsed, ParsePool
from bot.feeds.response import Outcome
from bot.metrics import Metrics
from bot.pipeline import PollReport, RunContext, Stories, finish, log_report, prepare
from bot.store import feeds as feed_store
from bot.store.db import Database
from bot.store.feeds import FeedState

log = logging.getLogger("chipwatch.poll")
BATCH_MAX = 200
BATCH_WINDOW = 0.05  # seconds a batch waits for company after its first feed


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


@dataclass(frozen=True)
class Fetched:
    """A fetch waiting to be processed, with the error count it started from."""

    feed: FeedSpec
    errors: int
    result: FetchResult
    started: float


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

    def __init__(self, config: Config, db: Database, fetcher: Fetcher, clock: Clock,
                 stories: Stories, metrics: Metrics) -> None:
        self.config, self.db, self.fetcher, self.clock = config, db, fetcher, clock
        self.stories, self.metrics = stories, metrics
        self.slots = HostSlots(config.raw.fetch.per_host)
        self.parsers = ParsePool(config.raw.fetch.parse_workers)
        self.on_alert: Callable[[], None] = lambda: None

    def state(self, feed: FeedSpec) -> FeedState:
        with self.db.lock:
            return feed_store.load_state(self.db.conn, feed.name)

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
        """Parse, then record the whole batch in one transaction (a savepoint per feed)."""
        now = self.clock.now()
        ready = []
        for f, parsed in zip(batch, self._parse(batch), strict=True):
            ctx = RunContext(now, self.config, self.db, self.stories, f.feed)
            try:
                ready.append((ctx, f, prepare(ctx, f.result, parsed)))
            except Exception:
                log.exception("parse_crashed feed=%s", f.feed.name)
        reports: list[tuple[PollReport, int]] = []
        with self.db.tx() as conn:
            for ctx, f, items in ready:
                conn.execute("SAVEPOINT feed")
                try:
                    report = finish(ctx, f.errors, f.result, items)
                except Exception:
                    conn.execute("ROLLBACK TO feed")
                    log.exception("poll_failed feed=%s", f.feed.name)
                else:
                    reports.append((report, f.errors + 1 if report.error else 0))
                conn.execute("RELEASE feed")
            notices = self._health(conn, [r.feed for r, _ in reports], now)
        for kind in notices:
            self.metrics.notices.labels(
                f"{kind.kind}_recovered" if kind.recovered else kind.kind).inc()
        self._account(reports, now)
        if batch:
            self.metrics.poll_cycle.observe(self.clock.monotonic() - batch[0].started)
        if any(r.alerts for r, _ in reports) or notices:
            self.on_alert()
        return [r for r, _ in reports]

    def _parse(self, batch: Sequence[Fetched]) -> list[Parsed | None]:
        """Parse a batch's bodies in the worker pool when there are several (None: parse
        inline later, as for a single body or a failure)."""
        bodies = [f.result for f in batch if f.result.outcome is Outcome.OK]
        if len(bodies) < 2:
            return [None] * len(batch)
        self.parsers.warm()
        jobs = [(f.result, self.parsers.submit(f.result)) if f.result.outcome is Outcome.OK
                else None for f in batch]
        return [None if job is None else self.parsers.result(job[1], job[0]) for job in jobs]

    def _health(self, conn: sqlite3.Connection, feeds: list[str],
                now: datetime) -> list[health.Notice]:
        """Open or close feed health notices, in their own savepoint of the batch."""
        raw = self.config.raw
        conn.execute("SAVEPOINT health")
        try:
            notices = health.evaluate(conn, feeds, now, raw.feed_health)
            health.apply(conn, notices, now, raw.ops_channel)
        except Exception:
            conn.execute("ROLLBACK TO health")
            log.exception("feed_health_failed feeds=%d", len(feeds))
            notices = []
        conn.execute("RELEASE health")
        return notices

    def _account(self, reports: list[tuple[PollReport, int]], now: datetime) -> None:
        for report, errors in reports:
            log_report(report, errors)
            m = self.metrics
            m.items_seen.inc(report.items)
            m.items_new.inc(report.new)
            for rule, channel in report.alerted:
                m.alerts.labels(rule, channel).inc()
            if report.error is None:
                m.success(report.feed, now)

    def poll_all(self, feeds: Sequence[FeedSpec], force: bool = False) -> list[PollReport]:
        """One cycle over `feeds` (only the due ones unless `force`): fetch concurrently,
        process results in batches as they arrive. Returns the reports."""
        now = self.clock.now()
        with self.db.lock:
            states = feed_store.load_states(self.db.conn)
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
        workers = max(1, min(self.config.raw.fetch.concurrency, len(todo)))

        def fetch(feed: FeedSpec, state: FeedState) -> None:
            done.put(self.fetch(feed, state))

        with ThreadPoolExecutor(workers, thread_name_prefix="fetch") as pool:
            for feed, state in todo:
                pool.submit(fetch, feed, state)
            left = len(todo)
            while left:
                batch = take_batch(done, min(left, BATCH_MAX), self.clock)
                left -= len(batch)
                reports.extend(self.process(batch))
        log.info("poll_cycle_done feeds=%d new=%d alerts=%d failed=%d seconds=%.2f",
                 len(reports), sum(r.new for r in reports), sum(r.alerts for r in reports),
                 sum(1 for r in reports if r.error), self.clock.monotonic() - started)
        return reports


class Processor:
    """The long-running side: scheduler threads `submit` fetches, one thread records them."""

    def __init__(self, poller: Poller) -> None:
        self.poller = poller
        self.queue: queue.SimpleQueue[Fetched] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, name="processor", daemon=True)
        self.stop = threading.Event()

    def start(self) -> None:
        self.thread.start()

    def submit(self, fetched: Fetched) -> None:
        self.queue.put(fetched)

    def close(self, timeout: float = 30.0) -> None:
        """Record what was already fetched, then stop."""
        self.stop.set()
        self.thread.join(timeout)

    def _loop(self) -> None:
        while not (self.stop.is_set() and self.queue.empty()):
            batch = take_batch(self.queue, BATCH_MAX, self.poller.clock, first_wait=0.5)
            if not batch:
                continue
            try:
                self.poller.process(batch)
            except Exception:  # the processor must outlive any one batch
                log.exception("batch_failed feeds=%d", len(batch))
