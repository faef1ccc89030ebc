"""Hostile and broken feed answers, served through FeedServer's `behaviour` hook or as bodies.

Each builder returns what `FeedServer.serve` takes; the slow ones stop on their own after
`HOLD` seconds (or when the client hangs up) so a test never leaves a thread spinning.
"""

from __future__ import annotations

import random
import threading
import zlib
from collections.abc import Callable
from email.utils import format_datetime
from functools import cache
from http.server import BaseHTTPRequestHandler

from bot.clock import SYSTEM_CLOCK

HOLD = 30.0  # how long a trickling answer keeps going if nobody hangs up
Behaviour = Callable[[BaseHTTPRequestHandler], bool]


@cache
def gzip_bomb(size: int = 1 << 30) -> bytes:
    """`size` zero bytes, gzipped (1 GiB → about 1 MB on the wire)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    out = [z.compress(block) for _ in range(size >> 20)]
    out.append(z.flush())
    return b"".join(out)


def billion_laughs() -> bytes:
    ents = ['<!ENTITY lol0 "lollollollol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    return ('<?xml version="1.0"?>\n<!DOCTYPE rss [\n' + "\n".join(ents) + "\n]>\n"
            '<rss version="2.0"><channel><title>t</title><item><title>H200 China imports &lol9;'
            "</title><link>https://e.com/a</link></item></channel></rss>").encode()


def quadratic_blowup() -> bytes:
    """One big "safe" entity referenced many times: feedparser's loose parser expands it
    (300 KB in, gigabytes out) unless the document is refused first."""
    return ('<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY big "' + "A" * 200_000
            + '">\n]>\n<rss version="2.0"><channel><title>t</title><item><title>'
            + "&big;" * 20_000 + "</title><link>https://e.com/q</link></item></channel></rss>"
            ).encode()


def external_entity() -> bytes:
    return (b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            b'<rss version="2.0"><channel><title>t</title><item><title>H200 China import &xxe;'
            b"</title><link>https://e.com/x</link></item></channel></rss>")


def garbage(n: int = 100_000, seed: int = 4) -> bytes:
    return random.Random(seed).randbytes(n)


def _hold(step: Callable[[int], bytes], every: float) -> Callable[[BaseHTTPRequestHandler], None]:
    """Write `step(i)` every `every` seconds until the client leaves or HOLD passes."""
    def run(h: BaseHTTPRequestHandler) -> None:
        pause = threading.Event()
        for i in range(int(HOLD / every)):
            try:
                h.wfile.write(step(i))
                h.wfile.flush()
            except OSError:
                return
            pause.wait(every)
        h.close_connection = True
    return run


def trickle_body(every: float = 0.2) -> Behaviour:
    """Headers at once, then one byte of body every `every` seconds, forever."""
    def behaviour(h: BaseHTTPRequestHandler) -> bool:
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        h.send_header("Content-Length", "10000000")
        h.end_headers()
        _hold(lambda i: b"<rss"[i % 4: i % 4 + 1] or b" ", every)(h)
        return True
    return behaviour


def trickle_headers(every: float = 0.2) -> Behaviour:
    """A status line, then one header byte every `every` seconds: the body never starts."""
    def behaviour(h: BaseHTTPRequestHandler) -> bool:
        h.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        _hold(lambda i: b"a", every)(h)
        return True
    return behaviour


def endless(total: int = 50_000_000, block: int = 1 << 20, declared: bool = False) -> Behaviour:
    """`total` bytes of an RSS-looking body, with its Content-Length or (by default) none,
    so the client must read until the server closes."""
    def behaviour(h: BaseHTTPRequestHandler) -> bool:
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        if declared:
            h.send_header("Content-Length", str(total))
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        chunk = b"<rss version='2.0'><channel>" + b" " * (block - 28)
        try:
            for _ in range(total // block):
                h.wfile.write(chunk)
        except OSError:
            pass
        return True
    return behaviour


def retry_after_date(seconds: float) -> str:
    """An HTTP-date `seconds` from now (the Retry-After form servers like least)."""
    from datetime import timedelta

    return format_datetime(SYSTEM_CLOCK.now() + timedelta(seconds=seconds), usegmt=True)

