"""The sender: drains the outbox to Slack, in order per channel, within Slack's rate limits.

A row is marked sent only after Slack answered ok. Transient failures back off (honouring
Retry-After) and block only their own channel, so order within a channel holds. Permanent
failures go to dead letters with one log line. Rows a crash left in flight are looked up in
the channel's history (by the outbox key in the message metadata) before being re-sent.
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass
from datetime import timedelta

from bot.clock import Clock
from bot.errors import DeliveryError, PermanentDeliveryError
from bot.slack.notifier import Notifier, Posted
from bot.store import outbox
from bot.store.db import Database
from bot.store.outbox import OutboxRow

log = logging.getLogger("chipwatch.deliver")
BACKOFF_MAX = 600.0


@dataclass
class DrainReport:
    """What one drain did."""

    sent: int = 0
    failed: int = 0
    dead: int = 0


def backoff(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before retry number `attempts`: 2, 4, 8… capped at 10 min, ±20% jitter."""
    spread: float = (rng or random).uniform(0.8, 1.2)
    return float(min(2.0 * 2 ** min(attempts, 16), BACKOFF_MAX) * spread)


class Sender:
    """Sends outbox rows through a Notifier; one instance, one thread."""

    def __init__(self, db: Database, notifier: Notifier, clock: Clock,
                 per_channel_interval: float = 1.0) -> None:
        self.db = db
        self.notifier = notifier
        self.clock = clock
        self.interval = per_channel_interval
        self._free_at: dict[str, float] = {}
        self._joined: set[str] = set()

    def recover(self) -> None:
        """At start-up: settle rows a crash left in flight (sent if Slack has them, else
        pending again) and make every pending row due now — a restart is a retry point."""
        with self.db.tx() as conn:
            conn.execute("UPDATE outbox SET next_attempt = ? WHERE state = 'pending'",
                         (self.clock.now().isoformat(),))
            rows = outbox.inflight(conn)
        for row in rows:
            found = None
            with self.db.lock:
                channel_id = row.channel_id or outbox.known_channel_id(self.db.conn, row.channel)
            if channel_id is None and row.channel[:1] in ("C", "G") and row.channel.isalnum():
                channel_id = row.channel
            if channel_id:
                try:
                    found = self.notifier.find_posted(channel_id, row.key,
                                                      row.created.timestamp() - 300)
                except DeliveryError as exc:
                    log.warning("outbox_recover_failed key=%s error=%s", row.key, exc)
            with self.db.tx() as conn:
                now = self.clock.now()
                if found:
                    outbox.mark(conn, row.id, "sent", now=now, ts=found.ts,
                                channel_id=found.channel_id)
                    log.info("outbox_recovered key=%s ts=%s", row.key, found.ts)
                else:
                    outbox.mark(conn, row.id, "pending", now=now, next_attempt=now)

    def drain(self, stop: threading.Event | None = None, max_wait: float = 5.0) -> DrainReport:
        """Send what is due, waiting at most `max_wait` s for a channel's next free slot."""
        stop = stop or threading.Event()
        report = DrainReport()
        while not stop.is_set():
            row, wait = self._next()
            if row is None or wait > max_wait:
                return report
            if wait > 0 and stop.wait(wait):
                return report
            self._send(row, report)
        return report

    def _next(self) -> tuple[OutboxRow | None, float]:
        """The row to send next, and how long until its channel may take it."""
        with self.db.lock:
            rows = outbox.pending(self.db.conn)
        now, mono = self.clock.now(), self.clock.monotonic()
        best: tuple[OutboxRow | None, float] = (None, float("inf"))
        heads: set[str] = set()
        for row, due in rows:
            if row.channel in heads:
                continue  # only a channel's oldest row may go: order per channel
            heads.add(row.channel)
            wait = max((due - now).total_seconds(), self._free_at.get(row.channel, 0) - mono, 0)
            if wait < best[1]:
                best = (row, wait)
        return best

    def _send(self, row: OutboxRow, report: DrainReport) -> None:
        self._free_at[row.channel] = self.clock.monotonic() + self.interval
        if row.kind in ("reply", "update") and row.thread_ts is None:
            self._finish(row, None, "parent alert was never delivered", dead=True)
            report.dead += 1
            return
        with self.db.tx() as conn:
            outbox.mark(conn, row.id, "inflight", now=self.clock.now())
        try:
            posted = self._deliver(row)
        except PermanentDeliveryError as exc:
            if "not_in_channel" in str(exc) and row.channel not in self._joined:
                self._joined.add(row.channel)
                if self.notifier.join(row.channel):
                    log.info("slack_joined channel=%s", row.channel)
                    self._retry(row, str(exc), 0.0)
                    return
            log.error("slack_dead_letter channel=%s key=%s error=%s", row.channel, row.key, exc)
            self._finish(row, None, str(exc), dead=True)
            report.dead += 1
        except DeliveryError as exc:
            delay = exc.retry_after if exc.retry_after is not None else backoff(row.attempts)
            log.warning("slack_retry channel=%s key=%s attempt=%d in=%.1fs error=%s",
                        row.channel, row.key, row.attempts + 1, delay, exc)
            self._retry(row, str(exc), delay)
            report.failed += 1
        else:
            self._finish(row, posted, None)
            report.sent += 1

    def _deliver(self, row: OutboxRow) -> Posted:
        if row.kind == "update":
            with self.db.lock:
                channel_id = outbox.parent_channel_id(self.db.conn, row) or row.channel
            assert row.thread_ts is not None
            self.notifier.update(channel_id, row.thread_ts, row.message)
            return Posted(channel_id, row.thread_ts)
        thread = row.thread_ts if row.kind == "reply" else None
        return self.notifier.post(row.channel, row.message, row.key, thread_ts=thread)

    def _retry(self, row: OutboxRow, error: str, delay: float) -> None:
        with self.db.tx() as conn:
            now = self.clock.now()
            outbox.mark(conn, row.id, "pending", now=now, error=error,
                        next_attempt=now + timedelta(seconds=delay))

    def _finish(self, row: OutboxRow, posted: Posted | None, error: str | None,
                dead: bool = False) -> None:
        with self.db.tx() as conn:
            outbox.mark(conn, row.id, "dead" if dead else "sent", now=self.clock.now(),
                        ts=posted.ts if posted else None,
                        channel_id=posted.channel_id if posted else None, error=error)
