"""The sender: drains the outbox to Slack, in order per channel, within Slack's rate limits.

A row is marked sent only after Slack answered ok. Transient failures back off (honouring
Retry-After) and block only their own channel, so order within a channel holds. Permanent
failures go to dead letters with one log line. Rows a crash left in flight, and rows whose
last send failed without a clear answer (a timeout, a dropped connection, a 5xx), are looked
up in Slack (by the outbox key in the message metadata: top-level messages in the channel's
history, replies in their thread) before being re-sent, so a message Slack already took is
never posted twice. A refused token (checked at start-up with auth.test, or refused mid-run)
stops all sending: rows stay pending, `halted` says why, and it is said once.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from bot.clock import Clock
from bot.errors import CredentialsError, DeliveryError, PermanentDeliveryError, StoreError
from bot.slack.notifier import Notifier, Posted
from bot.store import outbox
from bot.store.base import FencedError, Store
from bot.store.outbox import Kind, OutboxRow, State

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
    """Sends outbox rows through a Notifier; one instance, one thread.

    `per_channel_interval` spaces sends to one channel when the notifier is paced (Slack);
    `on_halt` is told once when a refused token stops all sending — a way to the operators
    that does not need that token (without one, the log line is the notice)."""

    def __init__(self, db: Store, notifier: Notifier, clock: Clock,
                 per_channel_interval: float = 1.0,
                 on_halt: Callable[[str], None] | None = None) -> None:
        self.db = db
        self.notifier = notifier
        self.clock = clock
        self.interval = per_channel_interval if notifier.paced else 0.0
        self.on_halt = on_halt
        self.halted: str | None = None  # why nothing can be sent (the token is refused)
        self._recheck_at = 0.0
        self._free_at: dict[str, float] = {}
        self._joined: set[str] = set()
        self._unsettled: set[str] | None = None  # None: in-flight rows not checked yet
        self._settle_at = 0.0
        self._settle_tries = 0
        # Asked right before every post: False once this replica may no longer lead.
        self.may_send: Callable[[], bool] = lambda: True
        # Told when sending halts or resumes (the heartbeat file says so to `health`).
        self.on_state: Callable[[], None] = lambda: None

    def recover(self) -> None:
        """At start-up (or on becoming leader): check the token, make every pending row due
        now (a restart is a retry point), keep each channel's pace from its last message
        (another replica may have sent it a moment ago) and settle the rows a crash left in
        flight."""
        with self.db.tx() as conn:
            now, mono = self.clock.now(), self.clock.monotonic()
            outbox.all_due(conn, now)
            last = outbox.last_sent(conn)
        self._free_at = {channel: mono + self.interval - (now - when).total_seconds()
                         for channel, when in last.items()}
        self._unsettled = None
        if self.check_token():
            self._settle()

    def check_token(self) -> bool:
        """Ask Slack whether it takes our token (auth.test); False, and sending halted, when
        it is refused. When Slack cannot be asked, sending goes on (and retries as usual)."""
        try:
            self.notifier.check()
        except CredentialsError as exc:
            self._halt(exc)
            return False
        except DeliveryError as exc:
            log.warning("slack_auth_check_failed error=%s action=continue", exc)
        if self.halted:
            log.warning("slack_sending_resumed after=%s", self.halted)
            self.halted = None
            self.on_state()
        return True

    def _halt(self, exc: CredentialsError) -> None:
        """Stop all sending; said once (log, and `on_halt`), re-checked every 10 minutes."""
        self._recheck_at = self.clock.monotonic() + BACKOFF_MAX
        if self.halted is not None:
            return
        self.halted = exc.code or str(exc)
        self.on_state()
        with self.db.reading() as conn:
            counts = outbox.counts(conn)
        held = counts.get(State.PENDING, 0) + counts.get(State.INFLIGHT, 0)
        note = (f"Slack refused the bot token ({self.halted}): nothing is sent until it is "
                f"fixed; {held} messages wait in the outbox")
        log.error("slack_token_refused error=%s pending=%d action=hold_all "
                  "fix=set SLACK_BOT_TOKEN and restart", exc, held)
        if self.on_halt is not None:
            try:
                self.on_halt(note)
            except Exception:  # the notice is a courtesy; the log line above is the record
                log.exception("ops_notice_failed")

    def _settle(self) -> None:
        """Rows left in flight are sent if Slack has them (found by the outbox key in the
        message metadata), else pending again. When Slack cannot tell (down), the row stays
        in flight and its channel is blocked — nothing may overtake it — until a later try."""
        with self.db.reading() as conn:
            rows = outbox.inflight(conn)
        blocked: set[str] = set()
        for row, attempted in rows:
            if row.channel in blocked:
                continue
            found = None
            if row.kind != Kind.UPDATE:  # an update is idempotent: just redo it
                try:
                    found = self._look_up(row, attempted.timestamp() - 300)
                except CredentialsError as exc:
                    self._halt(exc)
                    return
                except PermanentDeliveryError as exc:  # cannot look: resend
                    log.error("outbox_unverifiable channel=%s key=%s error=%s action=resend",
                              row.channel, row.key, exc)
                except DeliveryError as exc:
                    log.warning("outbox_recover_failed channel=%s key=%s error=%s action=wait",
                                row.channel, row.key, exc)
                    blocked.add(row.channel)
                    continue
            with self.db.tx() as conn:
                now = self.clock.now()
                if found:
                    outbox.mark(conn, row.id, State.SENT, now=now, ts=found.ts,
                                channel_id=found.channel_id)
                else:
                    outbox.mark(conn, row.id, State.PENDING, now=now, next_attempt=now,
                                maybe_sent=False)
        self._unsettled = blocked
        if blocked:
            self._settle_tries += 1
            self._settle_at = self.clock.monotonic() + backoff(self._settle_tries)

    def drain(self, stop: threading.Event | None = None, max_wait: float = 5.0) -> DrainReport:
        """Send what is due, waiting at most `max_wait` s for a channel's next free slot."""
        stop = stop or threading.Event()
        report = DrainReport()
        if self.halted and (self.clock.monotonic() < self._recheck_at or not self.check_token()):
            return report
        try:
            if self._unsettled is None or (self._unsettled
                                           and self.clock.monotonic() >= self._settle_at):
                self._settle()
            while not stop.is_set() and not self.halted:
                row, wait = self._next()
                if row is None or wait > max_wait:
                    return report
                if wait > 0 and stop.wait(wait):
                    return report
                self._send(row, report)
        except StoreError:
            # A write failed (connection lost, server restarting, an answer lost): a row may
            # be in flight in the state while Slack has it, or not. Its channel waits behind
            # it (see `outbox.heads`) and the next drain looks it up in Slack again.
            self._unsettled = None
            raise
        return report

    def _next(self) -> tuple[OutboxRow | None, float]:
        """The row to send next, and how long until its channel may take it."""
        with self.db.reading() as conn:
            rows = outbox.heads(conn)
        now, mono = self.clock.now(), self.clock.monotonic()
        best: tuple[OutboxRow | None, float] = (None, float("inf"))
        heads: set[str] = set(self._unsettled or ())  # blocked behind an unsettled row
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
        if row.kind.threaded and row.thread_ts is None:
            # Rows go out in order per channel, so the parent has gone before: it is dead.
            log.error("slack_dead_letter channel=%s key=%s error=parent alert was never "
                      "delivered", row.channel, row.key)
            self._finish(row, None, "parent alert was never delivered", dead=True)
            report.dead += 1
            return
        with self.db.tx() as conn:
            # next_attempt doubles as "attempted at": a recovery searches Slack from there
            now = self.clock.now()
            outbox.mark(conn, row.id, State.INFLIGHT, now=now, next_attempt=now)
        if not self.may_send():  # the fence: a replica that lost the lead posts nothing
            raise FencedError(f"fenced: not the leader, {row.key} left in flight for it")
        unsure = row.maybe_sent
        try:
            posted = self._already_posted(row)
            unsure = False  # looked: Slack does not have it (or cannot say, and we resend)
            posted = posted or self._deliver(row)
        except CredentialsError as exc:
            self._halt(exc)
            self._hold(row, str(exc), unsure)
        except PermanentDeliveryError as exc:
            if exc.code == "not_in_channel" and row.channel not in self._joined:
                self._joined.add(row.channel)
                if self.notifier.join(row.channel):
                    log.info("slack_joined channel=%s", row.channel)
                    self._retry(row, str(exc), 0.0, unsure)
                    return
            log.error("slack_dead_letter channel=%s key=%s error=%s", row.channel, row.key, exc)
            self._finish(row, None, str(exc), dead=True)
            report.dead += 1
        except DeliveryError as exc:
            delay = exc.retry_after if exc.retry_after is not None else backoff(row.attempts)
            log.warning("slack_retry channel=%s key=%s attempt=%d in=%.1fs error=%s",
                        row.channel, row.key, row.attempts + 1, delay, exc)
            self._retry(row, str(exc), delay, unsure or exc.ambiguous)
            report.failed += 1
        else:
            self._finish(row, posted, None)
            report.sent += 1

    def _already_posted(self, row: OutboxRow) -> Posted | None:
        """After an ambiguous failure (timeout, dropped connection, 5xx) Slack may have taken
        the message: look for it by its key before posting again."""
        if row.kind == Kind.UPDATE or not row.maybe_sent:
            return None
        try:
            found = self._look_up(row, row.created.timestamp() - 300)
        except CredentialsError:
            raise
        except PermanentDeliveryError as exc:  # cannot look (scope, private channel): resend
            log.warning("outbox_unverifiable channel=%s key=%s error=%s action=resend",
                        row.channel, row.key, exc)
            return None
        return found

    def _look_up(self, row: OutboxRow, oldest: float) -> Posted | None:
        """The message Slack holds for this row, if any: a reply in its parent's thread
        (history holds no replies), anything else in the channel."""
        with self.db.reading() as conn:
            where = row.channel_id or outbox.known_channel_id(conn, row.channel)
        thread = row.thread_ts if row.kind == Kind.REPLY else None
        found = self.notifier.find_posted(where or row.channel, row.key, oldest, thread)
        if found:
            log.info("outbox_recovered channel=%s key=%s ts=%s", row.channel, row.key, found.ts)
        return found

    def _deliver(self, row: OutboxRow) -> Posted:
        if row.kind == Kind.UPDATE:
            with self.db.reading() as conn:
                channel_id = outbox.parent_channel_id(conn, row) or row.channel
            assert row.thread_ts is not None
            self.notifier.update(channel_id, row.thread_ts, row.message)
            return Posted(channel_id, row.thread_ts)
        thread = row.thread_ts if row.kind == Kind.REPLY else None
        return self.notifier.post(row.channel, row.message, row.key, thread_ts=thread)

    def _retry(self, row: OutboxRow, error: str, delay: float, maybe_sent: bool) -> None:
        with self.db.tx() as conn:
            now = self.clock.now()
            outbox.mark(conn, row.id, State.PENDING, now=now, error=error,
                        next_attempt=now + timedelta(seconds=delay), maybe_sent=maybe_sent)

    def _hold(self, row: OutboxRow, error: str, maybe_sent: bool) -> None:
        """Back to pending, due now, no attempt counted: the token, not the row, failed."""
        with self.db.tx() as conn:
            now = self.clock.now()
            outbox.mark(conn, row.id, State.PENDING, now=now, error=error, next_attempt=now,
                        maybe_sent=maybe_sent, attempt=False)

    def _finish(self, row: OutboxRow, posted: Posted | None, error: str | None,
                dead: bool = False) -> None:
        with self.db.tx() as conn:
            outbox.mark(conn, row.id, State.DEAD if dead else State.SENT, now=self.clock.now(),
                        ts=posted.ts if posted else None,
                        channel_id=posted.channel_id if posted else None, error=error)
