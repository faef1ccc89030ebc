"""Notifiers: Slack through slack-sdk's WebClient, or the console when there is no token."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import Any, Protocol, TextIO
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.errors import CredentialsError, DeliveryError, PermanentDeliveryError, redact
from bot.slack.blocks import Message, console_text

EVENT_TYPE = "chipwatch_alert"
# In-call waits longer than this are left to the outbox, so one channel's Retry-After never
# holds the sender thread (and every other channel) hostage.
INCALL_WAIT_MAX = 2
# The token itself is refused: no message can go until an operator fixes it.
CREDENTIALS = frozenset({
    "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
})
# Errors that retrying the same request cannot fix: the row goes to dead letters.
PERMANENT = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "invalid_blocks",
    "invalid_blocks_format", "msg_too_long", "no_text", "missing_scope", "restricted_action",
    "cant_update_message", "message_not_found", "invalid_arguments", "team_access_not_granted",
    "ekm_access_denied",
})
# Slack's own failures that may come after it stored the message (besides any 5xx).
SERVER_SIDE = frozenset({"internal_error", "fatal_error", "service_unavailable",
                         "request_timeout"})


@dataclass(frozen=True)
class Posted:
    """Where Slack put a message: the channel's id and the message ts."""

    channel_id: str
    ts: str


class Notifier(Protocol):
    """Sends messages; raises DeliveryError (retry later), PermanentDeliveryError (never) or
    CredentialsError (nothing can be sent). `paced`: sends to one channel must be spaced out
    (Slack's rate limit); a console has no such limit."""

    paced: bool

    def check(self) -> None:
        """Raise CredentialsError when the token is refused (DeliveryError: cannot tell)."""

    def post(self, channel: str, message: Message, key: str,
             thread_ts: str | None = None) -> Posted: ...

    def update(self, channel_id: str, ts: str, message: Message) -> None: ...

    def find_posted(self, channel: str, key: str, oldest: float,
                    thread_ts: str | None = None) -> Posted | None:
        """The message posted with outbox `key` in `channel` (a name or an id) since `oldest`,
        in the thread of `thread_ts` when given, or None; raises DeliveryError when Slack
        cannot tell."""

    def join(self, channel: str) -> bool: ...


class SlackNotifier:
    """The real thing: slack-sdk WebClient with its rate-limit and server-error retries."""

    paced = True

    def __init__(self, token: str, base_url: str | None = None, timeout: float = 15.0) -> None:
        kwargs: dict[str, Any] = {"base_url": base_url} if base_url else {}
        self.client = WebClient(token=token, timeout=int(timeout), **kwargs)
        # One quick in-call retry each; anything longer is the outbox's job, so a long
        # Retry-After never blocks the sender thread.
        # A post that failed without a clear answer may have reached Slack: never repeat it
        # blindly in-call; the sender retries it after looking it up by its outbox key.
        self.client.retry_handlers[:] = [_NotForPosts(ConnectionErrorRetryHandler()),
                                         _ShortRateLimitRetry(max_retry_count=1),
                                         _NotForPosts(ServerErrorRetryHandler())]
        self._ids: dict[str, str] = {}

    def post(self, channel: str, message: Message, key: str,
             thread_ts: str | None = None) -> Posted:
        resp = self._call(
            "chat_postMessage", channel=channel, text=message.text, blocks=message.blocks,
            thread_ts=thread_ts, unfurl_links=False, unfurl_media=False,
            metadata={"event_type": EVENT_TYPE, "event_payload": {"key": key}},
        )
        return Posted(str(resp["channel"]), str(resp["ts"]))

    def update(self, channel_id: str, ts: str, message: Message) -> None:
        self._call("chat_update", channel=channel_id, ts=ts, text=message.text,
                   blocks=message.blocks)

    def check(self) -> None:
        """auth.test: a refused token raises CredentialsError."""
        self._call("auth_test")

    def find_posted(self, channel: str, key: str, oldest: float,
                    thread_ts: str | None = None) -> Posted | None:
        """Look for a message we posted with this outbox key (after a crash mid-send). A
        channel's history holds no thread replies, so a reply is looked for in its thread."""
        channel_id = self.channel_id(channel)
        if channel_id is None:
            return None  # no such channel visible to us: nothing can have been posted there
        where: dict[str, Any] = {"channel": channel_id, "oldest": f"{oldest:.6f}",
                                 "include_all_metadata": True, "limit": 200}
        if thread_ts is None:
            return self._find(channel_id, key, "conversations_history", where)
        try:
            return self._find(channel_id, key, "conversations_replies", {**where, "ts": thread_ts})
        except DeliveryError as exc:
            if exc.code == "thread_not_found":
                return None  # no thread, so no reply in it
            raise

    def _find(self, channel_id: str, key: str, method: str,
              where: dict[str, Any]) -> Posted | None:
        cursor = None
        for _ in range(10):
            resp = self._call(method, cursor=cursor, **where)
            for msg in resp.get("messages") or []:
                meta = msg.get("metadata") or {}
                if (meta.get("event_type") == EVENT_TYPE
                        and (meta.get("event_payload") or {}).get("key") == key):
                    return Posted(channel_id, str(msg["ts"]))
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return None

    def channel_id(self, channel: str) -> str | None:
        """A channel's id: ids pass through, `#names` are looked up (conversations.list)."""
        if is_channel_id(channel):
            return channel
        name = channel.lstrip("#")
        if name not in self._ids:
            cursor = None
            for _ in range(20):
                resp = self._call("conversations_list", types="public_channel,private_channel",
                                  exclude_archived=True, limit=1000, cursor=cursor)
                for ch in resp.get("channels") or []:
                    self._ids[str(ch.get("name"))] = str(ch.get("id"))
                cursor = (resp.get("response_metadata") or {}).get("next_cursor")
                if name in self._ids or not cursor:
                    break
        return self._ids.get(name)

    def join(self, channel: str) -> bool:
        try:
            self._call("conversations_join", channel=channel)
        except DeliveryError:
            return False
        return True

    def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, method)(**{k: v for k, v in kwargs.items()
                                                   if v is not None})
        except SlackApiError as exc:
            error = str(exc.response.get("error", "unknown_error"))
            status = exc.response.status_code
            if error in CREDENTIALS:
                raise CredentialsError(f"slack {method}: {error}", code=error) from None
            if error in PERMANENT:
                raise PermanentDeliveryError(f"slack {method}: {error}", code=error) from None
            wait = exc.response.headers.get("Retry-After") or exc.response.headers.get(
                "retry-after")
            raise DeliveryError(f"slack {method}: {error} (HTTP {status})", code=error,
                                retry_after=float(wait) if wait and str(wait).isdigit()
                                else None,
                                ambiguous=status >= 500 or error in SERVER_SIDE) from None
        except (SlackClientError, URLError, OSError, ValueError) as exc:
            # No answer (refused, dropped, timed out): the request may have reached Slack.
            raise DeliveryError(redact(f"slack {method}: {type(exc).__name__}: {exc}")[:300],
                                ambiguous=True) from None


def is_channel_id(channel: str) -> bool:
    """Whether `channel` is a Slack conversation id (C…, G…, D…) rather than a name."""
    return channel[:1] in ("C", "G", "D") and channel.isalnum() and channel.isupper()


class _NotForPosts(RetryHandler):
    """Another handler's in-call retries, except for chat.postMessage (ambiguous failures)."""

    def __init__(self, inner: RetryHandler) -> None:
        super().__init__(inner.max_retry_count, inner.interval_calculator)
        self.inner = inner

    def _can_retry(self, *, state: RetryState, request: HttpRequest,
                   response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        if request.url.endswith("chat.postMessage"):
            return False
        return self.inner._can_retry(state=state, request=request, response=response,
                                     error=error)


class _ShortRateLimitRetry(RateLimitErrorRetryHandler):
    """slack-sdk's 429 retry, but only when Slack asks for a short wait."""

    def _can_retry(self, *, state: RetryState, request: HttpRequest,
                   response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        if response is None or response.status_code != 429:
            return False
        values = [v for k, v in response.headers.items() if k.lower() == "retry-after"]
        wait = str(values[0] if values else "1")
        wait = wait if wait.isdigit() else str(values[0][0]) if values and values[0] else "1"
        return wait.isdigit() and int(wait) <= INCALL_WAIT_MAX


class LocalNotifier:
    """A notifier that keeps its messages on this side (a terminal, a recorder): there is
    no token to check, nothing to look up after a crash and no channel to join."""

    def check(self) -> None:
        return None

    def find_posted(self, channel: str, key: str, oldest: float,
                    thread_ts: str | None = None) -> Posted | None:
        return None

    def join(self, channel: str) -> bool:
        return True


class ConsoleNotifier(LocalNotifier):
    """Prints alerts, one readable block each: the default with no Slack token."""

    paced = False  # a terminal has no rate limit

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self._n = 0
        self._last: Message | None = None
        self._lock = threading.Lock()

    def post(self, channel: str, message: Message, key: str,
             thread_ts: str | None = None) -> Posted:
        with self._lock:
            self._n += 1
            where = f"{channel} (thread)" if thread_ts else channel
            if message == self._last:
                # The same alert routed to another channel: say so instead of repeating it.
                self.out.write(f"     … also to {where}\n\n")
            else:
                self.out.write(f"──── {where} ────\n{console_text(message)}\n\n")
            self._last = message
            self.out.flush()
            return Posted(channel, f"console.{self._n}")

    def update(self, channel_id: str, ts: str, message: Message) -> None:
        return None
