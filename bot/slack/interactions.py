"""Slack both ways: Socket Mode (slack-sdk's `SocketModeClient`, no public URL) takes button
presses on parent alerts and `/chipwatch` commands.

Each envelope is applied in one transaction that also logs it by `envelope_id` (so an
envelope Slack redelivers is applied once and answered the same), queues the parent's update
and the audit line to `ops_channel` through the outbox, and only then is acknowledged, well
within Slack's 3 s. Should the state be busy longer than `LOCK_WAIT`, the envelope is
acknowledged first and applied as soon as the state is free. A dropped socket reconnects
(slack-sdk fetches a new URL); Slack redelivers what was never acknowledged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.clock import Clock
from bot.config.live import LiveConfig
from bot.errors import DeliveryError
from bot.slack import actions as buttons
from bot.slack import commands
from bot.slack.actions import Context, Result
from bot.slack.blocks import Message
from bot.slack.requests import ButtonPress, Command, Request, parse
from bot.slack.web import Admins, SlackWeb
from bot.store import actions
from bot.store import outbox as outbox_store
from bot.store.base import Store

log = logging.getLogger("chipwatch.slack")
LOCK_WAIT = 1.5  # seconds to wait for the state before acknowledging first


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

    # ---- the socket -------------------------------------------------------------------

    def start(self, ping_interval: float = 10) -> None:
        """Connect to Slack in Socket Mode (slack-sdk's own threads run the socket)."""
        if not self.app_token or self.web is None:
            raise ValueError("Socket Mode needs SLACK_APP_TOKEN and SLACK_BOT_TOKEN")
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
        if self.client is not None:
            self.client.close()
            self.client = None

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
        """Apply one envelope (at most once) and say how to acknowledge it."""
        request = parse(kind, payload)
        if request is None:
            return Handled(None)
        admin = self.admins.is_admin(request.user) if request.needs_admin else False
        if not self.db.lock.acquire(timeout=LOCK_WAIT):
            log.warning("slack_action_deferred envelope=%s reason=state_busy", envelope_id)
            threading.Thread(target=self._apply_late, args=(envelope_id, request, admin),
                             daemon=True).start()
            return self._answer(request, "Received; applying it in a moment.", None)
        try:
            text, fresh = self._apply(envelope_id, request, admin)
        finally:
            self.db.lock.release()
        if retry:
            log.info("slack_redelivered envelope=%s attempt=%d applied_now=%s", envelope_id,
                     retry, fresh)
        return self._answer(request, text, fresh)

    def _answer(self, request: Request, text: str, fresh: bool | None) -> Handled:
        if isinstance(request, Command):
            return Handled({"response_type": "ephemeral", "text": text})
        return Handled(None, (request.channel_id, request.user, text) if fresh is not False
                       else None)

    def _apply_late(self, envelope_id: str, request: Request, admin: bool) -> None:
        try:
            self._apply(envelope_id, request, admin)
        except Exception:
            log.exception("slack_action_failed envelope=%s", envelope_id)

    def _apply(self, envelope_id: str, request: Request, admin: bool) -> tuple[str, bool]:
        """Log and apply in one transaction; (the answer, whether this call applied it)."""
        config = self.live.current
        with self.db.tx() as conn:
            earlier = actions.logged(conn, envelope_id)
            if earlier is not None:
                return earlier.response, False
            now = self.clock.now()
            target = request.message_ts if isinstance(request, ButtonPress) else None
            action_id = actions.log_action(conn, envelope_id, request.kind, request.user,
                                           request.channel_id, target, now)
            ctx = Context(now, config, admin, action_id)
            result: Result = (buttons.press(conn, request, ctx)
                              if isinstance(request, ButtonPress)
                              else commands.command(conn, request, ctx))
            actions.finish_action(conn, action_id, result.outcome, result.reply)
            ops = config.settings.ops_channel
            if result.audit and ops:
                outbox_store.enqueue(conn, f"audit|{action_id}", ops, outbox_store.Kind.NOTICE,
                                     _audit(result), now)
        log.info("slack_action kind=%s user=%s outcome=%s target=%s envelope=%s", request.kind,
                 request.user, result.outcome, result.target, envelope_id)
        self.wake()
        return result.reply, True


def _audit(result: Result) -> Message:
    assert result.audit is not None
    return Message(result.audit, [{"type": "context", "elements": [
        {"type": "mrkdwn", "text": f":memo: {result.audit}"}]}])
