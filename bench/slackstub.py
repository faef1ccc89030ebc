"""A stand-in for the Slack Web API on loopback, for the benchmarks (they import no test code).

The real `slack_sdk.WebClient` talks to it through `base_url`. It answers the methods the
sender uses (auth.test, chat.postMessage, chat.update, conversations.history / replies /
list / join), records every call with its arrival time, and can answer the next calls for a
channel with an injected failure (HTTP status, Slack error, Retry-After).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

TOKEN = "xoxb-bench-0000000000-stub"


@dataclass
class Failure:
    """Answer one matching call with this instead of doing it."""

    status: int = 429
    error: str = "ratelimited"
    retry_after: int | None = None
    channel: str | None = None  # only calls for this channel (None: any)


class SlackStub:
    """The stub server; read `calls` and `messages` under `lock`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[tuple[str, dict[str, Any], float]] = []  # method, args, time.time()
        self.messages: dict[str, list[dict[str, Any]]] = {}  # channel id -> posts, in order
        self.failures: list[Failure] = []
        self._serial = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def __enter__(self) -> SlackStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def channel_id(channel: str) -> str:
        if channel.startswith("C") and channel.isupper():
            return channel
        return "C" + hashlib.sha1(channel.lstrip("#").encode()).hexdigest()[:9].upper()

    def top_level(self, channel: str) -> list[dict[str, Any]]:
        """Posts in a channel that are not thread replies, in order."""
        with self.lock:
            return [m for m in self.messages.get(self.channel_id(channel), [])
                    if not m.get("thread_ts")]

    def answer(self, method: str, args: dict[str, Any]) -> tuple[int, dict[str, Any], int | None]:
        """(HTTP status, JSON body, Retry-After) for one call."""
        channel = str(args.get("channel") or "")
        with self.lock:
            self.calls.append((method, args, time.time()))
            for i, f in enumerate(self.failures):
                if f.channel in (None, channel):
                    del self.failures[i]
                    return f.status, {"ok": False, "error": f.error}, f.retry_after
            return 200, self._do(method, args, self.channel_id(channel)), None

    def _do(self, method: str, args: dict[str, Any], cid: str) -> dict[str, Any]:
        posts = self.messages.setdefault(cid, []) if args.get("channel") else []
        if method == "auth.test":
            return {"ok": True, "user_id": "UBENCH", "team_id": "TBENCH"}
        if method == "conversations.join":
            return {"ok": True, "channel": {"id": cid}}
        if method == "conversations.list":
            return {"ok": True, "channels": [], "response_metadata": {"next_cursor": ""}}
        if method == "conversations.history":
            top = [m for m in reversed(posts) if not m.get("thread_ts")]
            return {"ok": True, "messages": top, "has_more": False}
        if method == "conversations.replies":
            thread = [m for m in posts if args.get("ts") in (m["ts"], m.get("thread_ts"))]
            return {"ok": True, "messages": thread, "has_more": False}
        if method == "chat.postMessage":
            self._serial += 1
            ts = f"{1800000000 + self._serial}.{self._serial:06d}"
            posts.append({"ts": ts, "text": args.get("text"), "blocks": args.get("blocks"),
                          "thread_ts": args.get("thread_ts"), "metadata": args.get("metadata")})
            return {"ok": True, "channel": cid, "ts": ts, "message": posts[-1]}
        if method == "chat.update":
            for m in posts:
                if m["ts"] == args.get("ts"):
                    m["text"], m["blocks"] = args.get("text"), args.get("blocks")
                    return {"ok": True, "channel": cid, "ts": m["ts"]}
            return {"ok": False, "error": "message_not_found"}
        return {"ok": False, "error": "unknown_method"}


def _handler(stub: SlackStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            path, _, query = self.path.partition("?")
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            if "json" in (self.headers.get("Content-Type") or ""):
                args: dict[str, Any] = json.loads(raw or "{}")
            else:
                args = {k: v[0] for k, v in parse_qs(raw).items()}
            args.update({k: v[0] for k, v in parse_qs(query).items()})
            for key in ("blocks", "metadata"):
                if isinstance(args.get(key), str):
                    args[key] = json.loads(args[key])
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                status, body, retry = 200, {"ok": False, "error": "invalid_auth"}, None
            else:
                status, body, retry = stub.answer(path.rsplit("/", 1)[-1], args)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            if retry is not None:
                self.send_header("Retry-After", str(retry))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST

    return Handler
