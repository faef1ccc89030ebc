"""The processor thread of the scheduled loop: scheduler jobs fetch, one thread records."""

from __future__ import annotations

import logging
import queue
import threading

from bot.errors import StoreError
from bot.pipeline import Fetched
from bot.poller import BATCH_MAX, Poller, take_batch

log = logging.getLogger("chipwatch.poll")


class Processor:
    """Takes fetches from the scheduler's threads and records them in batches, so parsing
    and writes never hold up a fetch and never contend for the database."""

    def __init__(self, poller: Poller) -> None:
        self.poller = poller
        self.queue: queue.SimpleQueue[Fetched] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, name="processor", daemon=True)
        self.stop = threading.Event()

    def start(self) -> None:
        self.thread.start()

    def submit(self, fetched: Fetched) -> None:
        self.queue.put(fetched)

    def alive(self) -> bool:
        return self.thread.is_alive()

    def close(self, timeout: float = 30.0) -> None:
        """Record what was already fetched, then stop."""
        self.stop.set()
        if self.thread.ident is not None:  # a start that failed early never started it
            self.thread.join(timeout)

    def _loop(self) -> None:
        while not (self.stop.is_set() and self.queue.empty()):
            batch = take_batch(self.queue, BATCH_MAX, self.poller.clock, first_wait=0.5)
            if not batch:
                continue
            try:
                self.poller.process(batch)
            except StoreError as exc:  # fenced, or the database went away: fetched again later
                log.warning("batch_failed feeds=%d error=%s", len(batch), exc)
            except Exception:  # the processor must outlive any one batch
                log.exception("batch_failed feeds=%d", len(batch))
