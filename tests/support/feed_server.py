"""A feed server on 127.0.0.1 serving captured feeds with ETag / Last-Modified support."""

from __future__ import annotations

import hashlib
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.util import LoopbackServer

Behaviour = Callable[[BaseHTTPRequestHandler], bool]


@dataclass
class Served:
    """One path's content; `behaviour` may take over the answer (hostile servers)."""

    body: bytes
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    behaviour: Behaviour | None = None

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest()[:16] + '"'


class FeedServer(LoopbackServer):
    """Serves `paths`; counts requests and 304s per path."""

    def __init__(self, latency: float = 0.0) -> None:
        self.paths: dict[str, Served] = {}
        self.requests: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.user_agents: set[str] = set()
        self.latency = latency
        self.lock = threading.Lock()
        super().__init__(_make_handler(self))
        self.server.request_queue_size = 256
        self.server.handle_error = _quiet_on_hangup(self.server.handle_error)  # type: ignore[method-assign]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, body: bytes, **kwargs: Any) -> str:
        self.paths[path] = Served(body, **kwargs)
        return self.url(path)


def _quiet_on_hangup(report: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    """Clients that hang up mid-answer (a fetch past its deadline or cap) are expected."""
    def handle_error(request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            report(request, client_address)
    return handle_error


def _make_handler(fs: FeedServer) -> Callable[..., BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            with fs.lock:
                fs.requests[self.path] += 1
                fs.user_agents.add(self.headers.get("User-Agent", ""))
            if fs.latency:
                threading.Event().wait(fs.latency)
            served = fs.paths.get(self.path)
            if served is None:
                return self._send(404, b"not found", "text/plain")
            if served.behaviour and served.behaviour(self):
                return None
            if served.status == 200 and self.headers.get("If-None-Match") == served.etag:
                with fs.lock:
                    fs.not_modified[self.path] += 1
                return self._send(304, b"", None, {"ETag": served.etag})
            headers = {"ETag": served.etag, **served.headers}
            return self._send(served.status, served.body, served.content_type, headers)

        def _send(self, status: int, body: bytes, ctype: str | None,
                  headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            if ctype:
                self.send_header("Content-Type", ctype)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

    return Handler
