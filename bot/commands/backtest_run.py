"""One pass of an archive through a wired bot, for `chipwatch backtest`: the messages the
bot would have posted, how many items were read, and the archived text of chosen items (the
labelled ones, so a report can show what was missed and why)."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.clock import FakeClock

if TYPE_CHECKING:
    from bot.archive import Archived, Progress
    from bot.config import Config
    from bot.runtime.backtest import Sent
    from bot.store.base import Store

log = logging.getLogger("chipwatch")
QUIET = {"chipwatch": logging.WARNING, "chipwatch.health": logging.ERROR}


@dataclass
class Outcome:
    """What one pass produced."""

    sent: list[Sent] = field(default_factory=list)
    seen: int = 0
    bad: int = 0
    seconds: float = 0.0
    first: datetime | None = None
    last: datetime | None = None
    kept: dict[str, Archived] = field(default_factory=dict)  # item id → its archived text
    sizes: dict[str, int] = field(default_factory=dict)
    keep: tuple[timedelta, timedelta] | None = None


class Bar:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""

    def __init__(self, progress: Progress) -> None:
        self.progress, self.on = progress, sys.stderr.isatty()
        self.next = 0.0

    def tick(self) -> None:
        now = time.monotonic()
        if not self.on or now < self.next:
            return
        self.next = now + 0.25
        share = self.progress.done / (self.progress.total or 1)
        sys.stderr.write(f"\r[{'#' * int(share * 30):<30}] {share:4.0%}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.on:
            sys.stderr.write("\r" + " " * 40 + "\r")


def window(items: Iterator[Archived], start: datetime | None,
           end: datetime | None) -> Iterator[Archived]:
    """The items published from `start` through the day of `end`."""
    for item in items:
        if start is not None and item.published < start:
            continue
        if end is not None and item.published.date() > end.date():
            return  # an archive is in publication order
        yield item


def replay(config: Config, archive: Path, start: datetime | None, end: datetime | None,
           state: Store | None = None, keep_ids: Collection[str] = (),
           on_message: Callable[[Sent], None] | None = None) -> Outcome:
    """Run the archive (within the window) through `config`'s stages; each message goes to
    `on_message` as it is posted and into the outcome."""
    from bot.app import App
    from bot.archive import Progress, read_archive
    from bot.commands import backtest_state
    from bot.runtime.backtest import Backtest, Recorder

    if logging.getLogger().level == logging.INFO:
        # One line per poll of every archived feed would drown the report, and an archive's
        # feeds go quiet overnight: their health notices are noise here.
        for name, level in QUIET.items():
            logging.getLogger(name).setLevel(level)
    clock = FakeClock(datetime(2000, 1, 1, tzinfo=UTC))
    recorder = Recorder()
    app = App.for_backtest(config, clock, recorder, state)
    progress = Progress()
    bar = Bar(progress)
    out = Outcome()

    def counted(items: Iterator[Archived]) -> Iterator[Archived]:
        for out.seen, item in enumerate(items, start=1):
            if out.seen == 1:
                clock.advance(item.published - clock.now())
                out.first = item.published
            elif out.seen % 2000 == 0:
                bar.tick()
            if item.id in keep_ids:
                out.kept[item.id] = item
            out.last = item.published
            yield item

    def bad(line: int, reason: str) -> None:
        log.warning("archive_bad_line file=%s line=%d error=%s", archive, line, reason)

    started = time.monotonic()
    items = read_archive(archive, progress, bad)
    if start or end:
        items = window(items, start, end)
    run = Backtest(app, recorder, clock)
    run.keep = out.keep = backtest_state.keep_for(config)
    try:
        for message in run.run(counted(items)):
            if on_message is not None:
                on_message(message)
            out.sent.append(message)
    finally:
        bar.close()
        app.close()
        for name in QUIET:
            logging.getLogger(name).setLevel(logging.NOTSET)
    out.seconds = time.monotonic() - started
    out.bad, out.sizes = progress.bad, run.sizes
    return out
