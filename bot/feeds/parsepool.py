"""Feed parsing in worker processes: feedparser is pure-Python CPU work, so on a machine with
more than one core a worker parses while this process fetches and writes.

Workers come from a fork server (never a fork of this threaded process) and start only when
a poll has several feeds to parse. If a worker dies, parsing falls back to this process:
a broken pool costs speed, never items.
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from bot.feeds.adapter import parse_document, to_items
from bot.models import Item

if TYPE_CHECKING:  # only for annotations: workers need not import the HTTP stack
    from bot.feeds.fetch import FetchResult

log = logging.getLogger("chipwatch.parse")


class Parsed(NamedTuple):
    """A feed document's items, and why it yielded none when it is not a feed."""

    items: list[Item]
    problem: str | None


def parse_body(feed: str, source: str, body: bytes, content_type: str | None,
               fetched: datetime) -> Parsed:
    """Bytes → items (runs in a worker or inline; the same function either way)."""
    doc = parse_document(body, content_type)
    problem = doc.problem if doc.problem and not doc.entries else None
    return Parsed(to_items(feed, source, doc.entries, fetched), problem)


def _body_args(res: FetchResult) -> tuple[str, str, bytes, str | None, datetime]:
    return res.feed.name, res.feed.source, res.body, res.headers.get("content-type"), res.fetched


def parse_result(res: FetchResult) -> Parsed:
    """Parse a fetch result's body in this process."""
    return parse_body(*_body_args(res))


def _ready() -> bool:
    return True


class ParsePool:
    """A lazily started pool of parse workers."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._ready: Future[bool] | None = None
        self._broken = False

    def warm(self) -> None:
        """Start the workers now (they boot while the first fetches are in flight)."""
        if self._pool is None and not self._broken and self.workers > 0:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["bot.feeds.parsepool"])
            self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx)
            self._ready = self._pool.submit(_ready)

    def submit(self, res: FetchResult) -> Future[Parsed] | None:
        """Queue a parse in a worker; None (parse inline) when there is no working pool, or
        while its workers are still starting: waiting for them would cost more than it saves."""
        if self._pool is None or self._broken or not (self._ready and self._ready.done()):
            return None
        try:
            return self._pool.submit(parse_body, *_body_args(res))
        except RuntimeError:  # BrokenProcessPool is a RuntimeError too
            self._give_up()
            return None

    def result(self, future: Future[Parsed] | None, res: FetchResult) -> Parsed:
        """The worker's answer, or an inline parse when there is none or it failed."""
        if future is not None:
            try:
                return future.result()
            except Exception:
                self._give_up()
        return parse_result(res)

    def _give_up(self) -> None:
        if not self._broken:
            log.warning("parse_pool_broken action=parsing_in_process")
        self._broken = True

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
