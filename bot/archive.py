"""Archives of feed items, JSON lines (gzip or plain): read as a stream of `Archived` items.

One object a line: `id, title, summary, link, published, feed` (the format of
../shared/data/stream-dev and of `chipwatch cluster`'s input; `source` is taken when
present, else the feed's host; an item with `source` and no `feed` is that source's feed).
Lines are read one at a time, so memory does not grow with the archive's length.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import orjson

from bot.clock import parse_utc
from bot.feeds.adapter import MAX_TITLE, plain_text, summary_text
from bot.models import Item

REQUIRED = ("id", "title", "link", "published", "feed")
_REQUIRED = frozenset(REQUIRED)


class BadLine(ValueError):
    """A line that is not a usable item; the message says why."""


class Archived(NamedTuple):
    """One archived item, its text cleaned; it becomes an `Item` when a poll takes it."""

    id: str
    feed: str
    title: str
    link: str
    summary: str
    published: datetime
    source: str

    def polled(self, at: datetime) -> Item:
        """The item as a poll at `at` fetches it."""
        return Item(self.id, self.feed, self.title, self.link, self.summary, self.published,
                    at, self.source)


def to_record(raw: Any) -> Archived:
    """One decoded JSON object to an `Archived` item, its text cleaned as the feed adapter
    cleans it."""
    if not isinstance(raw, dict):
        raise BadLine("not a JSON object")
    if "feed" not in raw and raw.get("source"):
        # One archive format with `cluster`: an item may name its source instead of a feed.
        raw = {**raw, "feed": raw["source"]}
    if not raw.keys() >= _REQUIRED:
        missing = [k for k in REQUIRED if k not in raw]
        raise BadLine(f"missing field(s) {', '.join(missing)}; an item needs "
                      f"{', '.join(REQUIRED)} (or source for feed; summary is optional)")
    try:
        published = parse_utc(str(raw["published"]))
    except ValueError as exc:
        raise BadLine(f"bad published time {raw['published']!r}") from exc
    feed = str(raw["feed"])
    source = str(raw.get("source") or _host(feed))
    # The same clean-up as a fetched feed's entries: archived summaries are feed HTML.
    return Archived(str(raw["id"]), feed, plain_text(str(raw["title"] or ""), MAX_TITLE),
                    str(raw["link"] or ""), summary_text(str(raw.get("summary") or "")),
                    published, source)


@lru_cache(maxsize=4096)
def _host(feed: str) -> str:
    return urlsplit(feed).hostname or feed


@dataclass
class Progress:
    """How far through the archive file the reader is (compressed bytes for .gz)."""

    done: int = 0
    total: int = 0
    bad: int = 0


def read_archive(path: Path, progress: Progress | None = None,
                 on_bad: Callable[[int, str], None] | None = None) -> Iterator[Archived]:
    """The archive's items in file order; a bad line is reported to `on_bad(line_no,
    reason)` and skipped."""
    progress = progress or Progress()
    progress.total = path.stat().st_size
    with path.open("rb") as raw_file:
        lines: Iterable[bytes] = gzip.GzipFile(fileobj=raw_file) if path.suffix == ".gz" \
            else raw_file
        for number, line in enumerate(lines, start=1):
            if number % 1000 == 0:
                progress.done = raw_file.tell()
            if not line.strip():
                continue
            try:
                # orjson reads the bytes as they are: no text layer, and a line that is not
                # UTF-8 is one bad line rather than the end of the archive.
                yield to_record(orjson.loads(line))
            except (orjson.JSONDecodeError, BadLine) as exc:
                progress.bad += 1
                reason = f"not JSON ({exc.msg})" if isinstance(exc, orjson.JSONDecodeError) \
                    else str(exc)
                if on_bad is not None:
                    on_bad(number, reason)
        progress.done = progress.total
