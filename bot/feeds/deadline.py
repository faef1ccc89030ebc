"""A total deadline for HTTP fetches, enforced on every socket operation.

httpx only knows per-operation timeouts: a server that trickles one byte every few seconds
(in the headers or the body) keeps a read timeout happy forever. Here an httpcore network
backend clamps every connect, read and write to the time left before the calling thread's
deadline, so no fetch outlives it, whatever the server does.

A stop (SIGTERM, Ctrl-C) cancels every fetch in flight: reads wait in slices of at most
SLICE seconds and look at the stop event between slices, and every later socket operation
fails at once, so a stopping bot never waits out a slow server. (A connect in progress
cannot be sliced; it is bounded by the connect timeout.)
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

from bot.clock import Clock

SLICE = 0.25  # seconds a read waits before it looks at the stop event again


class Deadlines:
    """Per-thread deadlines (each fetch runs in its caller's thread), read off one Clock,
    and a stop event that cancels them all."""

    def __init__(self, clock: Clock, stop: threading.Event | None = None) -> None:
        self.clock = clock
        self.stop = stop or threading.Event()
        self._local = threading.local()

    @contextmanager
    def within(self, seconds: float) -> Iterator[float]:
        """Set this thread's deadline `seconds` from now for the duration of the block."""
        deadline = self.clock.monotonic() + seconds
        self._local.deadline = deadline
        try:
            yield deadline
        finally:
            self._local.deadline = None

    def left(self) -> float | None:
        """Seconds until this thread's deadline (None without one)."""
        deadline: float | None = getattr(self._local, "deadline", None)
        return None if deadline is None else deadline - self.clock.monotonic()

    def clamp(self, timeout: float | None, exc: type[Exception]) -> float | None:
        """`timeout` cut to the time left; raises `exc` when none is left or the bot stops."""
        if self.stop.is_set():
            raise exc("fetch cancelled: the bot is stopping")
        left = self.left()
        if left is None:
            return timeout
        if left <= 0:
            raise exc("total fetch deadline passed")
        return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadlines: Deadlines) -> None:
        self.inner = inner
        self.deadlines = deadlines

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        clock = self.deadlines.clock
        end = None if timeout is None else clock.monotonic() + timeout
        while True:
            left = None if end is None else max(end - clock.monotonic(), 0.0)
            limit = self.deadlines.clamp(left, httpcore.ReadTimeout)
            if limit is not None and limit <= 0:
                raise httpcore.ReadTimeout("timed out")
            step = SLICE if limit is None else min(limit, SLICE)
            try:
                return self.inner.read(max_bytes, step)
            except httpcore.ReadTimeout:
                if limit is not None and step >= limit:
                    raise  # the whole timeout (or the deadline) passed, not just a slice

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, self.deadlines.clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        inner = self.inner.start_tls(ssl_context, server_hostname,
                                     self.deadlines.clamp(timeout, httpcore.ConnectTimeout))
        return _Stream(inner, self.deadlines)

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, deadlines: Deadlines) -> None:
        self.inner = httpcore.SyncBackend()
        self.deadlines = deadlines

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        timeout = self.deadlines.clamp(timeout, httpcore.ConnectTimeout)
        return _Stream(self.inner.connect_tcp(host, port, timeout, local_address,
                                              socket_options), self.deadlines)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        timeout = self.deadlines.clamp(timeout, httpcore.ConnectTimeout)
        return _Stream(self.inner.connect_unix_socket(path, timeout, socket_options),
                       self.deadlines)

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


def deadline_transport(deadlines: Deadlines, limits: httpx.Limits) -> httpx.HTTPTransport:
    """httpx's own transport, its connection pool built on the deadline-clamping backend."""
    transport = httpx.HTTPTransport(limits=limits)
    # Why replace the pool: HTTPTransport takes no network backend, and the pool is where
    # httpcore accepts one; everything else (exception mapping, streaming) stays httpx's.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_Backend(deadlines),
    )
    return transport
