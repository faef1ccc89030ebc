"""Fetch feed bytes over HTTP (httpx) or from local files, politely and within hard limits.

Conditional GET (ETag / Last-Modified), a connect timeout and a total deadline, a cap on the
*decompressed* body, bounded redirects and a User-Agent naming the bot. Never raises for a
feed's fault: every failure comes back as a FetchResult with outcome ERROR and a reason.
"""

from __future__ import annotations

import threading
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import httpx

from bot import __version__
from bot.clock import Clock
from bot.feeds.deadline import Deadlines, deadline_transport
from bot.feeds.response import Outcome, classify, max_age_seconds, retry_after
from bot.models import FeedSpec

USER_AGENT = f"chipwatch/{__version__} (+https://github.com/chipwatch/chipwatch; news alert bot)"


@dataclass(frozen=True)
class Validators:
    """What the last good response told us, for the next conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """The outcome of fetching one feed; `body` only when outcome is OK."""

    feed: FeedSpec
    outcome: Outcome
    fetched: datetime
    status: int | None = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    validators: Validators = Validators()
    retry_after: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class FetchLimits:
    """Hard limits on one fetch."""

    connect_timeout: float = 10.0
    total_timeout: float = 30.0
    max_bytes: int = 10_000_000
    max_redirects: int = 5
    user_agent: str = USER_AGENT


class Fetcher(Protocol):
    """Fetches one feed; never raises for the feed's fault."""

    def fetch(self, feed: FeedSpec, validators: Validators) -> FetchResult: ...


class _TooLarge(Exception):
    pass


class _Deadline(Exception):
    pass


class HttpFetcher:
    """The real fetcher: one pooled httpx client (keep-alive) shared by all feeds."""

    def __init__(
        self,
        clock: Clock,
        limits: FetchLimits | None = None,
        transport: httpx.BaseTransport | None = None,
        max_connections: int = 64,
        stop: threading.Event | None = None,
    ) -> None:
        self.clock = clock
        self.limits = limits or FetchLimits()
        self.deadlines = Deadlines(clock, stop)  # a set `stop` cancels fetches in flight
        read = min(self.limits.total_timeout, max(self.limits.connect_timeout, 5.0))
        pool = httpx.Limits(max_connections=max_connections,
                            max_keepalive_connections=max_connections)
        self.client = httpx.Client(
            transport=transport or deadline_transport(self.deadlines, pool),
            timeout=httpx.Timeout(read, connect=self.limits.connect_timeout),
            follow_redirects=True,
            max_redirects=self.limits.max_redirects,
            headers={"User-Agent": self.limits.user_agent, "Accept-Encoding": "gzip, deflate"},
            limits=pool,
        )

    def close(self) -> None:
        self.client.close()

    def fetch(self, feed: FeedSpec, validators: Validators) -> FetchResult:
        now = self.clock.now()
        if feed.url.startswith("file:"):
            return _fetch_file(feed, validators, now, self.limits.max_bytes)
        headers = {}
        if validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        started = self.clock.monotonic()
        try:
            with self.deadlines.within(self.limits.total_timeout) as deadline, \
                    self.client.stream("GET", feed.url, headers=headers) as resp:
                hdrs = {k.lower(): v for k, v in resp.headers.items()}
                outcome = classify(resp.status_code)
                if outcome is not Outcome.OK:
                    return FetchResult(feed, outcome, now, resp.status_code, headers=hdrs,
                                       validators=validators, retry_after=_floor(hdrs, now),
                                       error=None if outcome is Outcome.NOT_MODIFIED
                                       else f"HTTP {resp.status_code}")
                body = self._read(resp, deadline)
        except _TooLarge:
            return _error(feed, now, f"body over {self.limits.max_bytes} bytes")
        except _Deadline:
            return _error(feed, now, f"no complete answer within {self.limits.total_timeout:g}s")
        except httpx.TooManyRedirects:
            return _error(feed, now, f"more than {self.limits.max_redirects} redirects")
        except httpx.TimeoutException as exc:
            if self.deadlines.stop.is_set():
                return _error(feed, now, "cancelled: the bot is stopping")
            if self.clock.monotonic() - started >= self.limits.total_timeout * 0.99:
                return _error(feed, now,
                              f"no complete answer within {self.limits.total_timeout:g}s")
            return _error(feed, now, f"timeout ({type(exc).__name__})")
        except (httpx.HTTPError, zlib.error, OSError, ValueError) as exc:
            return _error(feed, now, f"{type(exc).__name__}: {exc}"[:300])
        new = Validators(hdrs.get("etag"), hdrs.get("last-modified"))
        return FetchResult(feed, Outcome.OK, now, resp.status_code, body, hdrs, new,
                           retry_after=_floor(hdrs, now))

    def _read(self, resp: httpx.Response, deadline: float) -> bytes:
        """Read the body, decompressing ourselves so the cap applies to what we keep: at most
        `max_bytes` of output ever exists, however well the input compresses (gzip bombs)."""
        cap = self.limits.max_bytes
        coding = resp.headers.get("content-encoding", "identity").lower().strip()
        inflate = zlib.decompressobj(47) if coding in ("gzip", "deflate", "x-gzip") else None
        declared = resp.headers.get("content-length", "")
        if inflate is None and declared.isdigit() and int(declared) > cap:
            raise _TooLarge  # refuse before reading a byte
        chunks: list[bytes] = []
        size = 0
        for raw in resp.iter_raw():
            if self.clock.monotonic() > deadline:
                raise _Deadline
            data = inflate.decompress(raw, cap + 1 - size) if inflate else raw
            size += len(data)
            if size > cap:
                raise _TooLarge
            chunks.append(data)
        if inflate is not None:
            chunks.append(inflate.flush(cap + 1 - size))
            if size + len(chunks[-1]) > cap:
                raise _TooLarge
        return b"".join(chunks)


def _floor(headers: dict[str, str], now: datetime) -> float | None:
    ra = retry_after(headers, now)
    return ra if ra is not None else max_age_seconds(headers)


def _error(feed: FeedSpec, now: datetime, reason: str) -> FetchResult:
    return FetchResult(feed, Outcome.ERROR, now, error=reason)


def _fetch_file(feed: FeedSpec, validators: Validators, now: datetime, cap: int) -> FetchResult:
    path = Path(unquote(urlsplit(feed.url).path))
    try:
        stat = path.stat()
        stamp = format_datetime(datetime.fromtimestamp(stat.st_mtime, now.tzinfo), usegmt=True)
        if validators.last_modified == stamp:
            return FetchResult(feed, Outcome.NOT_MODIFIED, now, validators=validators)
        if stat.st_size > cap:
            return _error(feed, now, f"file over {cap} bytes")
        body = path.read_bytes()
    except OSError as exc:
        return _error(feed, now, f"cannot read {path}: {exc.strerror}")
    return FetchResult(feed, Outcome.OK, now, body=body, validators=Validators(None, stamp))
