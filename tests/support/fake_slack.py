"""A fake Slack Web API on 127.0.0.1 for the real `slack_sdk.WebClient(base_url=...)`.

It keeps every message per channel, answers chat.postMessage / chat.update / auth.test /
conversations.history / conversations.replies / conversations.join like Slack does (history
holds top-level messages and thread broadcasts only; a reply is found in its thread with
conversations.replies), checks Block Kit limits the way Slack rejects them
(`invalid_blocks`), and can inject faults: 429 with Retry-After, 5xx,
slow answers and permanent errors per channel.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from tests.support.util import LoopbackServer

TOKEN = "xoxb-test-0000000000-secret"
APP_TOKEN = "xapp-1-test-0000000000-secret"


@dataclass
class Fault:
    """One injected answer: HTTP status, Slack error, Retry-After, delay before answering."""

    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    delay: float = 0.0
    method: str | None = None  # only for this API method (None: any)
    channel: str | None = None  # only for this channel (None: any)
    slow_answer: float = 0.0  # handle the call normally, then wait this long before answering


@dataclass
class SlackState:
    """Everything the fake has seen; tests read it."""

    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # monotonic arrival time of each call
    names: dict[str, str] = field(default_factory=dict)  # channel name → id, once seen
    faults: list[Fault] = field(default_factory=list)
    sticky: list[Fault] = field(default_factory=list)
    ts_counter: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    ephemeral: list[dict[str, Any]] = field(default_factory=list)  # chat.postEphemeral calls
    groups: dict[str, list[str]] = field(default_factory=dict)  # user group id → members
    socket_url: Callable[[], str] | None = None  # apps.connections.open answers this
    # Calls done on our side whose answer is held back (`slow_answer`): a client killed now
    # dies between Slack's ok and its own record of it, the window crash tests must hit.
    answering: int = 0

    def channel_id(self, name: str) -> str:
        if name.startswith("C") and name[1:].isalnum() and name.upper() == name:
            return name
        return "C" + hashlib.sha1(name.lstrip("#").encode()).hexdigest()[:10].upper()

    def top_level(self, channel: str) -> list[dict[str, Any]]:
        """Messages in a channel that are not thread replies."""
        return [m for m in self.messages.get(self.channel_id(channel), [])
                if not m.get("thread_ts")]

    def replies(self, channel: str, ts: str) -> list[dict[str, Any]]:
        return [m for m in self.messages.get(self.channel_id(channel), [])
                if m.get("thread_ts") == ts]


def validate_blocks(blocks: list[dict[str, Any]]) -> str | None:
    """Slack's own limits; returns the reason a real Slack would reject these blocks."""
    if len(blocks) > 50:
        return "too many blocks"
    for b in blocks:
        kind = b.get("type")
        text = (b.get("text") or {}).get("text", "")
        if kind == "header" and (not text or len(text) > 150 or b["text"]["type"] != "plain_text"):
            return "bad header"
        if kind == "section" and (not text or len(text) > 3000):
            return "bad section"
        if kind == "context" and not 1 <= len(b.get("elements", [])) <= 10:
            return "bad context"
        if len(b.get("block_id", "")) > 255:
            return "bad block_id"
        if kind == "actions":
            if not 1 <= len(b.get("elements", [])) <= 25:
                return "bad actions"
            for e in b.get("elements", []):
                url = e.get("url", "")
                if url and (len(url) > 3000 or not url.startswith(("http://", "https://"))):
                    return "bad url"
                if e.get("type") == "button" and (
                        not 1 <= len(e.get("text", {}).get("text", "")) <= 75
                        or e["text"].get("type") != "plain_text"
                        or len(e.get("action_id", "")) > 255 or len(e.get("value", "")) > 2000
                        or e.get("style") not in (None, "primary", "danger")):
                    return "bad button"
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    if len(block_ids) != len(set(block_ids)):
        return "duplicate block_id"
    return None


class FakeSlack(LoopbackServer):
    """Starts the server on a free loopback port; `base_url` goes to WebClient."""

    def __init__(self) -> None:
        self.state = SlackState()
        super().__init__(_make_handler(self.state))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"


def _fault_for(state: SlackState, method: str, channel: str | None) -> Fault | None:
    def fits(f: Fault) -> bool:
        return (f.method in (None, method)) and (f.channel in (None, channel))

    with state.lock:
        for f in state.sticky:
            if fits(f):
                return f
        for i, f in enumerate(state.faults):
            if fits(f):
                return state.faults.pop(i)
    return None


def _true(value: Any) -> bool:
    return str(value).lower() in ("1", "true")


def _metadata(msgs: list[dict[str, Any]], args: dict[str, Any]) -> list[dict[str, Any]]:
    """Messages as Slack lists them: metadata only when include_all_metadata is set."""
    if _true(args.get("include_all_metadata")):
        return list(msgs)
    return [{k: v for k, v in m.items() if k != "metadata"} for m in msgs]


def _make_handler(state: SlackState) -> Callable[..., BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            path, _, query = self.path.partition("?")
            method = path.rsplit("/", 1)[-1]
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            if "json" in (self.headers.get("Content-Type") or ""):
                args = json.loads(raw or "{}")
            else:
                args = {k: v[0] for k, v in parse_qs(raw).items()}
                for key in ("blocks", "metadata"):
                    if isinstance(args.get(key), str):
                        args[key] = json.loads(args[key])
            args.update({k: v[0] for k, v in parse_qs(query).items()})  # GET methods
            channel = args.get("channel")
            with state.lock:
                state.calls.append((method, args))
                state.times.append(time.monotonic())
            token = TOKEN if method != "apps.connections.open" else APP_TOKEN
            if self.headers.get("Authorization") != f"Bearer {token}":
                return self._answer(200, {"ok": False, "error": "invalid_auth"})
            fault = _fault_for(state, method, channel)
            if fault:
                time.sleep(fault.delay)
                if fault.status != 200 or fault.error:
                    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
                    body = {"ok": False, "error": fault.error or "ratelimited"}
                    return self._answer(fault.status, body, headers)
            answer = self._handle(method, args)
            if fault and fault.slow_answer:
                with state.lock:
                    state.answering += 1
                try:
                    time.sleep(fault.slow_answer)  # done on our side, the client still waiting
                finally:
                    with state.lock:
                        state.answering -= 1
            self._answer(200, answer)

        do_GET = do_POST

        def _handle(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
            with state.lock:
                if method == "auth.test":
                    return {"ok": True, "user_id": "UBOT", "team_id": "T1"}
                if method == "apps.connections.open":
                    if state.socket_url is None:
                        return {"ok": False, "error": "socket_mode_not_enabled"}
                    return {"ok": True, "url": state.socket_url()}
                if method == "chat.postEphemeral":
                    state.ephemeral.append(dict(args))
                    return {"ok": True, "message_ts": f"{1800000000 + len(state.ephemeral)}.0"}
                if method == "chat.getPermalink":
                    ts = str(args.get("message_ts", ""))
                    return {"ok": True, "channel": args.get("channel"), "permalink":
                            f"https://fake.slack.com/archives/{args.get('channel')}/"
                            f"p{ts.replace('.', '')}"}
                if method == "usergroups.users.list":
                    return {"ok": True, "users": state.groups.get(args.get("usergroup"), [])}
                if method == "conversations.join":
                    return {"ok": True, "channel": {"id": state.channel_id(args["channel"])}}
                if method == "conversations.history":
                    # Newest first; thread replies are not in a channel's history (only
                    # those also sent to the channel, reply_broadcast).
                    msgs = [m for m in reversed(state.messages.get(args["channel"], []))
                            if not m.get("thread_ts") or m.get("reply_broadcast")]
                    return {"ok": True, "messages": _metadata(msgs, args), "has_more": False}
                if method == "conversations.replies":
                    # The parent first, then its replies, oldest first; `ts` may name the
                    # parent or any reply of the thread.
                    msgs = state.messages.get(args["channel"], [])
                    hit = next((m for m in msgs if m["ts"] == args.get("ts")), None)
                    if hit is None:
                        return {"ok": False, "error": "thread_not_found"}
                    root = hit.get("thread_ts") or hit["ts"]
                    thread = [m for m in msgs if m["ts"] == root or m.get("thread_ts") == root]
                    return {"ok": True, "messages": _metadata(thread, args), "has_more": False}
                if method == "conversations.list":
                    return {"ok": True, "channels": [{"id": cid, "name": name}
                                                     for name, cid in state.names.items()],
                            "response_metadata": {"next_cursor": ""}}
                blocks = args.get("blocks") or []
                if isinstance(blocks, str):
                    blocks = json.loads(blocks)
                if validate_blocks(blocks):
                    return {"ok": False, "error": "invalid_blocks"}
                cid = state.channel_id(args["channel"])
                if cid != args["channel"]:
                    state.names[args["channel"].lstrip("#")] = cid
                if method == "chat.postMessage":
                    if not args.get("text") and not blocks:
                        return {"ok": False, "error": "no_text"}
                    state.ts_counter += 1
                    ts = f"{1700000000 + state.ts_counter}.{state.ts_counter:06d}"
                    msg = {"ts": ts, "text": args.get("text"), "blocks": blocks,
                           "thread_ts": args.get("thread_ts"), "metadata": args.get("metadata"),
                           "reply_broadcast": _true(args.get("reply_broadcast"))}
                    state.messages.setdefault(cid, []).append(msg)
                    return {"ok": True, "channel": cid, "ts": ts, "message": msg}
                if method == "chat.update":
                    for m in state.messages.get(cid, []):
                        if m["ts"] == args.get("ts"):
                            m["text"], m["blocks"] = args.get("text"), blocks
                            m["edited"] = m.get("edited", 0) + 1
                            return {"ok": True, "channel": cid, "ts": m["ts"]}
                    return {"ok": False, "error": "message_not_found"}
            return {"ok": False, "error": "unknown_method"}

        def _answer(self, status: int, body: dict[str, Any],
                    headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

    return Handler
