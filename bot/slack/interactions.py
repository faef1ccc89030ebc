"""Slack both ways: Socket Mode (slack-sdk's `SocketModeClient`, no public URL) takes button
presses on parent alerts and `/chipwatch` commands.

Each envelope is applied in one transaction that also logs it by `envelope_id` (so an
envelope Slack redelivers is applied once and answered the same), queues the parent's update
and the audit line to `ops_channel` through the outbox, and only then is acknowledged, well
within Slack's 3 s. The wait for the state is bounded (`LOCK_WAIT`, on both backends): a
state still busy then (or away) gets the request written to the journal (`bot.slack.journal`,
fsynced) before the ack, and the backlog thread applies it once the state is free; the next
start replays what a crash left there. While entries wait, new envelopes queue behind them,
so actions apply in the order they came. Every ack is kept on disk before it is sent
(`bot.slack.answers`), so a redelivery is answered the same without the state, even after a
restart while the state is busy. A dropped socket reconnects (slack-sdk fetches a new URL);
Slack redelivers what was never acknowledged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.clock import Clock
from bot.config.live import LiveConfig
from bot.errors import DeliveryError, StoreError
from bot.slack import actions as buttons
from bot.slack import commands
from bot.slack.actions import Context, Result
from bot.slack.answers import Answers, answers_path
from bot.slack.backlog import Backlog
from bot.slack.blocks import Message
from bot.slack.journal import Entry, Journal, journal_path
from bot.slack.requests import ButtonPress, Command, Request, parse
from bot.slack.web import Admins, SlackWeb
from bot.store import actions
from bot.store import outbox as outbox_store
from bot.store.base import FencedError, StateBusy, Store

log = logging.getLogger("chipwatch.slack")
# Seconds an envelope waits for the state before it is journaled and acknowledged: with an
# admin lookup and the fsync it stays well inside Slack's 3 s.
LOCK_WAIT = 1.5
BACKLOG_WAIT = 5.0  # the backlog's wait per try (it tries again until the state is free)
DEFERRED = "Received; applying it in a moment (the answer follows)."


@dataclass(frozen=True)
class Handled:
    """One envelope's handling: the ack payload (slash commands answer in it) and an
    ephemeral answer to post after the ack (button presses)."""

    ack: dict[str, Any] | None
    ephemeral: tuple[str, str, str] | None = None  # channel id, user, text


class Interactions:
    """Applies requests from Slack; `start` connects the Socket Mode client."""

    def __init__(self, db: Store, live: LiveConfig, clock: Clock, admins: Admins,
                 web: SlackWeb | None, wake: Callable[[], None] = lambda: None,
                 app_token: str | None = None) -> None:
        self.db, self.live, self.clock, self.admins, self.web = db, live, clock, admins, web
        self.wake = wake
        self.app_token = app_token
        self.client: SocketModeClient | None = None
        state_path = live.current.settings.state_path
        self.journal = Journal(journal_path(state_path))
        self.answers = Answers(answers_path(state_path))  # the acks given before a restart
        self.backlog_wait = BACKLOG_WAIT
        self.backlog: Backlog | None = None

    # ---- the socket -------------------------------------------------------------------

    def start(self, ping_interval: float = 10) -> None:
        """Connect to Slack in Socket Mode (slack-sdk's own threads run the socket)."""
        if not self.app_token or self.web is None:
            raise ValueError("Socket Mode needs SLACK_APP_TOKEN and SLACK_BOT_TOKEN")
        # What a crash (or a lost lead) left in the journal is applied first; envelopes
        # that come meanwhile queue behind it.
        waiting = self.journal.load()
        if waiting:
            log.info("slack_journal_replay entries=%d path=%s", len(waiting), self.journal.path)
        self.backlog = Backlog(self.journal, self._apply_entry)
        self.backlog.start()
        client = SocketModeClient(self.app_token, web_client=self.web.client,
                                  ping_interval=ping_interval,
                                  # The library's own logger: its free text is logged
                                  # as library lines (`slack_sdk_log`), not as our events.
                                  logger=logging.getLogger("slack_sdk.socket_mode"))
        client.socket_mode_request_listeners.append(self._on_request)
        self.client = client
        client.connect()
        log.info("slack_socket_mode started")

    def close(self) -> None:
        """Disconnect, then stop the backlog (what it has not applied stays journaled)."""
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.backlog is not None:
            self.backlog.close()
            self.backlog = None

    def _on_request(self, client: BaseSocketModeClient, req: SocketModeRequest) -> None:
        try:
            handled = self.handle(req.envelope_id, req.type, req.payload, req.retry_attempt)
        except Exception:  # not acknowledged: Slack redelivers it
            log.exception("slack_action_failed envelope=%s", req.envelope_id)
            return
        client.send_socket_mode_response(
            SocketModeResponse(envelope_id=req.envelope_id, payload=handled.ack))
        if handled.ephemeral and self.web is not None:
            channel, user, text = handled.ephemeral
            try:
                self.web.ephemeral(channel, user, text)
            except DeliveryError as exc:
                log.warning("slack_ephemeral_failed user=%s error=%s", user, exc)

    # ---- one envelope ------------------------------------------------------------------

    def handle(self, envelope_id: str, kind: str, payload: dict[str, Any],
               retry: int | None = None) -> Handled:
        """Apply one envelope (at most once), or journal it, and say how to acknowledge it.
        Raises (so the envelope is not acknowledged) only when it is neither applied nor
        journaled: this replica is fenced, or the journal cannot be written."""
        request = parse(kind, payload)
        if request is None:
            return Handled(None)
        seen, ack = self._seen(envelope_id)
        if seen:  # answered before: the same ack, and no second ephemeral
            log.info("slack_redelivered envelope=%s attempt=%s applied_now=False", envelope_id,
                     retry)
            return Handled(ack)
        admin = self.admins.is_admin(request.user) if request.needs_admin else False
        now = self.clock.now()
        try:
            text, fresh = self._apply(envelope_id, request, admin, now, wait=LOCK_WAIT,
                                      queue_behind=bool(self.journal.pending()))
        except FencedError:
            raise  # not the leader: unacknowledged, Slack sends it to the one that is
        except (StoreError, _Behind) as exc:
            return self._defer(envelope_id, request, admin, now, exc)
        if retry:
            log.info("slack_redelivered envelope=%s attempt=%d applied_now=%s", envelope_id,
                     retry, fresh)
        return self._remember(envelope_id, self._answer(request, text, fresh))

    def _seen(self, envelope_id: str) -> tuple[bool, dict[str, Any] | None]:
        """Whether this envelope was answered before, and its ack, from the answers kept on
        disk or the journal: no state needed, so a busy state cannot change the answer, before
        a restart or after it. (One answered too long ago: from the action log.)"""
        seen, ack = self.answers.get(envelope_id)
        if seen:
            return True, ack
        held = self.journal.get(envelope_id)
        return (True, held.ack) if held is not None else (False, None)

    def _remember(self, envelope_id: str, handled: Handled) -> Handled:
        """Keep the ack durably before it is sent. If that fails (a full disk) it is sent
        all the same: the action is in the state (or the journal), whose log answers a
        redelivery the same while the state is free; refusing the ack would only make
        Slack tell the user it failed."""
        try:
            self.answers.keep(envelope_id, handled.ack)
        except OSError as exc:
            log.warning("slack_answer_not_kept envelope=%s path=%s error=%s", envelope_id,
                        self.answers.path, exc)
        return handled

    def _defer(self, envelope_id: str, request: Request, admin: bool, now: datetime,
               why: Exception) -> Handled:
        """Journal the request (durably), then acknowledge: applied by the backlog."""
        ack = ({"response_type": "ephemeral", "text": DEFERRED}
               if isinstance(request, Command) else None)
        self.journal.append(Entry(envelope_id, request, admin, now, ack))
        reason = ("queued_behind" if isinstance(why, _Behind) else
                  "state_busy" if isinstance(why, StateBusy) else "state_unavailable")
        log.warning("slack_action_deferred envelope=%s reason=%s journal=%s", envelope_id,
                    reason, self.journal.path)
        if self.backlog is not None:
            self.backlog.kick()
        return self._remember(envelope_id, Handled(ack))

    def _answer(self, request: Request, text: str, fresh: bool | None) -> Handled:
        if isinstance(request, Command):
            return Handled({"response_type": "ephemeral", "text": text})
        return Handled(None, (request.channel_id, request.user, text) if fresh is not False
                       else None)

    def _apply_entry(self, entry: Entry) -> None:
        """Apply a journaled request (the backlog's step); its answer goes out ephemeral."""
        logged = entry.ack["text"] if entry.ack else None  # a redelivery: the ack it had
        reply, fresh = self._apply(entry.envelope_id, entry.request, entry.admin,
                                   entry.received, wait=self.backlog_wait, logged=logged)
        if fresh and self.web is not None:
            try:
                self.web.ephemeral(entry.request.channel_id, entry.request.user, reply)
            except DeliveryError as exc:
                log.warning("slack_ephemeral_failed user=%s error=%s", entry.request.user,
                            exc)

    def _apply(self, envelope_id: str, request: Request, admin: bool, now: datetime, *,
               wait: float, logged: str | None = None,
               queue_behind: bool = False) -> tuple[str, bool]:
        """Log and apply in one transaction; (the answer, whether this call applied it).
        `logged` is the answer a redelivery gets when it is not the reply itself;
        `queue_behind`: journaled entries wait, so a new request must not pass them."""
        config = self.live.current
        with self.db.tx(wait=wait) as conn:
            earlier = actions.logged(conn, envelope_id)
            if earlier is not None:
                return earlier.response, False
            if queue_behind:
                raise _Behind  # nothing written: rolled back, then journaled behind them
            target = request.message_ts if isinstance(request, ButtonPress) else None
            action_id = actions.log_action(conn, envelope_id, request.kind, request.user,
                                           request.channel_id, target, now)
            ctx = Context(now, config, admin, action_id)
            result: Result = (buttons.press(conn, request, ctx)
                              if isinstance(request, ButtonPress)
                              else commands.command(conn, request, ctx))
            actions.finish_action(conn, action_id, result.outcome, logged or result.reply)
            ops = config.settings.ops_channel
            if result.audit and ops:
                outbox_store.enqueue(conn, f"audit|{action_id}", ops, outbox_store.Kind.NOTICE,
                                     _audit(result), now)
        log.info("slack_action kind=%s user=%s outcome=%s target=%s envelope=%s", request.kind,
                 request.user, result.outcome, result.target, envelope_id)
        self.wake()
        return result.reply, True


class _Behind(Exception):
    """Journaled requests wait for the state: this one goes behind them (never raised out)."""


def _audit(result: Result) -> Message:
    assert result.audit is not None
    return Message(result.audit, [{"type": "context", "elements": [
        {"type": "mrkdwn", "text": f":memo: {result.audit}"}]}])
