"""Fetch feed bytes over HTTP (httpx) or from local files, politely and within hard limits.

Conditional GET (ETag / Last-Modified), a connect timeout and a total deadline, a cap on the
*decompressed* body, bounded redirects and a User-Agent naming the bot. Never raises for a
feed's fault: every failure comes back as a FetchResult with outcome ERROR and a reason.
"""

from __future__ import annotations

import ssl
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
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

DRAIN_MAX = 65536  # bytes of a non-feed answer read to keep its connection
KEEP_ALIVE = 2  # idle connections an origin keeps between fetches
MAX_ORIGINS = 256  # origins whose idle connections are kept (least recently used go first)
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

    @property
    def read_timeout(self) -> float:
        """How long a server may send nothing (before its answer, or between two pieces of
        it): the connect timeout, at least 5 s, at most the total deadline."""
        return min(self.total_timeout, max(self.connect_timeout, 5.0))


def _timeout_error(exc: httpx.TimeoutException, limits: FetchLimits) -> str:
    """Which wait ran out, and the setting behind it."""
    if isinstance(exc, httpx.ReadTimeout):
        return (f"no data for {limits.read_timeout:g}s (read timeout: fetch.connect_timeout, "
                "at least 5s)")
    if isinstance(exc, httpx.ConnectTimeout):
        return f"no connection within {limits.connect_timeout:g}s (fetch.connect_timeout)"
    return f"timeout ({type(exc).__name__})"


class Fetcher(Protocol):
    """Fetches one feed; never raises for the feed's fault."""

    def fetch(self, feed: FeedSpec, validators: Validators) -> FetchResult: ...


class _TooLarge(Exception):
    pass


class _Deadline(Exception):
    pass


class HttpFetcher:
    """The real fetcher: httpx with keep-alive, one small connection pool per origin.

    Why per origin: a poll has dozens of fetches in flight, and httpcore's one shared pool
    scans every waiting request against every connection whenever one finishes; small pools
    (a host has at most `fetch.per_host` fetches in flight) keep that cheap. At most
    `max_origins` idle origins keep their connections, so descriptors stay bounded.
    """

    def __init__(
        self,
        clock: Clock,
        limits: FetchLimits | None = None,
        transport: httpx.BaseTransport | None = None,
        max_connections: int = 64,
        stop: threading.Event | None = None,
        max_origins: int = MAX_ORIGINS,
    ) -> None:
        self.clock = clock
        self.limits = limits or FetchLimits()
        self.deadlines = Deadlines(clock, stop)  # a set `stop` cancels fetches in flight
        self.max_connections, self.max_origins = max_connections, max_origins
        self._transport = transport  # a test's transport serves every origin
        self._ssl: ssl.SSLContext | None = None
        self._origins: dict[str, _Origin] = {}  # least recently used first
        self._lock = threading.Lock()

    def _client(self) -> httpx.Client:
        read = self.limits.read_timeout
        pool = httpx.Limits(max_connections=self.max_connections,
                            max_keepalive_connections=KEEP_ALIVE)
        transport = self._transport
        if transport is None:
            if self._ssl is None:  # one CA bundle read, for the first origin
                self._ssl = httpx.create_ssl_context()
            transport = deadline_transport(self.deadlines, pool, self._ssl)
        return httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(read, connect=self.limits.connect_timeout),
            follow_redirects=True,
            max_redirects=self.limits.max_redirects,
            headers={"User-Agent": self.limits.user_agent, "Accept-Encoding": "gzip, deflate"},
            limits=pool,
        )

    @contextmanager
    def _using(self, url: str) -> Iterator[httpx.Client]:
        """The origin's client, counted busy while the block runs (only idle ones close)."""
        parts = urlsplit(url)
        key = "" if self._transport is not None else f"{parts.scheme}://{parts.netloc.lower()}"
        with self._lock:
            origin = self._origins.pop(key, None) or _Origin(self._client())
            self._origins[key] = origin  # now the most recently used
            origin.busy += 1
            excess = len(self._origins) - self.max_origins
            if excess > 0:
                for k in [k for k, o in self._origins.items() if o.busy == 0][:excess]:
                    self._origins.pop(k).client.close()
        try:
            yield origin.client
        finally:
            with self._lock:
                origin.busy -= 1

    def close(self) -> None:
        with self._lock:
            origins, self._origins = list(self._origins.values()), {}
        for origin in origins:
            origin.client.close()

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
            with self._using(feed.url) as client, \
                    self.deadlines.within(self.limits.total_timeout) as deadline, \
                    client.stream("GET", feed.url, headers=headers) as resp:
                hdrs = {k.lower(): v for k, v in resp.headers.items()}
                outcome = classify(resp.status_code)
                if outcome is not Outcome.OK:
                    _finish(resp)
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
            return _error(feed, now, _timeout_error(exc, self.limits))
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


@dataclass
class _Origin:
    client: httpx.Client
    busy: int = 0


def _finish(resp: httpx.Response) -> None:
    """Read what is left of an answer that is not a feed (a 304 has nothing left) so its
    connection goes back to the pool: closing a response mid-body closes its connection,
    and then every feed of a host paid for a new one. A large error page is not read: its
    connection is dropped instead."""
    declared = resp.headers.get("content-length", "")
    if resp.status_code != 304 and not (declared.isdigit() and int(declared) <= DRAIN_MAX):
        return
    # A failure here loses only the connection: the status already says what we need.
    with suppress(httpx.HTTPError):
        resp.read()


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
