"""Small helpers the tests share: RSS documents, waiting for a condition, loopback servers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

FOUNDING_DAY = "Wed, 28 Jan 2026 09:00:00 GMT"
Entry = str | tuple[str, str | None, datetime | None] | dict[str, str]


def rss(entries: Iterable[Entry], title: str = "t") -> bytes:
    """The tests' one RSS 2.0 builder. An entry is a title; or (title, link, published); or
    a dict with `title` and optional `link`, `guid`, `date` (an RFC 822 string; by default
    the founding day, so an item's age never depends on when the test runs) and `summary`.
    The guid is the link when there is one, else the title."""
    parts = []
    for entry in entries:
        if isinstance(entry, dict):
            head, link = entry["title"], entry.get("link")
            guid, date = entry.get("guid", link or head), entry.get("date", FOUNDING_DAY)
            summary = entry.get("summary")
        else:
            head, link, when = (entry, None, None) if isinstance(entry, str) else entry
            guid, summary = link or head, None
            date = format_datetime(when, usegmt=True) if when else None
        parts.append(
            f"<item><title>{head}</title>"
            + (f"<link>{link}</link>" if link else "")
            + f'<guid isPermaLink="false">{guid}</guid>'
            + (f"<pubDate>{date}</pubDate>" if date else "")
            + (f"<description>{summary}</description>" if summary is not None else "")
            + "</item>")
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>{title}</title>" + "".join(parts) + "</channel></rss>").encode()


def wait_for(pred: Callable[[], Any], timeout: float = 30.0, every: float = 0.1) -> bool:
    """Poll `pred` until it is true or `timeout` seconds pass; True if it became true."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(every)
    return False


class LoopbackServer:
    """An HTTP server on a free 127.0.0.1 port, served from a thread while in a `with`."""

    def __init__(self, handler: Callable[..., BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        # A short poll interval: shutdown() waits for it, at every test's teardown.
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def poll(app: Any, feed: Any, force: bool = False) -> Any:
    """Poll one feed of `app` the one way the bot polls (`Poller.poll_all`): its report, or
    None when it was not due (and not forced)."""
    reports = app.poller.poll_all([feed], force=force)
    return reports[0] if reports else None


class GrowingFeed:
    """A feed that starts with a few `items` and shows one more every `grow_every` seconds,
    newest first (a behaviour for the loopback feed server)."""

    def __init__(self, name: str, items: list[dict[str, str]], grow_every: float) -> None:
        self.name, self.items, self.grow_every = name, items, grow_every
        self.started = time.monotonic()

    def visible(self) -> int:
        grown = int((time.monotonic() - self.started) / self.grow_every)
        return min(len(self.items), 3 + grown)

    def behaviour(self, h: BaseHTTPRequestHandler) -> bool:
        body = rss(self.items[: self.visible()][::-1], title=self.name)
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
        return True


def recv_exact(sock: socket.socket, n: int) -> bytes:
    """Exactly `n` bytes from `sock` (ConnectionError if it closes first)."""
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data
