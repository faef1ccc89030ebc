"""The journal's entries applied in the background, oldest first, each until it is in the
state: a busy or absent state is waited out (with a growing pause), never a reason to drop an
action Slack was told we have. An entry that fails for any other reason (a bug) is retried a
few times, then set aside in `<journal>.failed` so the ones behind it go on."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from bot.errors import StoreError
from bot.slack.journal import Entry, Journal

log = logging.getLogger("chipwatch.slack")
FIRST_PAUSE = 0.2  # seconds before the first retry; doubled up to MAX_PAUSE
MAX_PAUSE = 30.0
ATTEMPTS = 5  # failures not of the state's making before an entry is set aside


class Backlog:
    """A thread that applies `journal`'s waiting entries with `apply`, one at a time."""

    def __init__(self, journal: Journal, apply: Callable[[Entry], None]) -> None:
        self.journal, self.apply = journal, apply
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slack-backlog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def kick(self) -> None:
        """An entry was added: look now rather than at the next pause's end."""
        self._wake.set()

    def close(self, timeout: float = 10.0) -> None:
        """Stop after the entry in hand (its transaction commits or rolls back whole)."""
        self._stop.set()
        self._wake.set()
        if self._thread.ident is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        pause, failures = FIRST_PAUSE, 0
        while not self._stop.is_set():
            waiting = self.journal.pending()
            if not waiting:
                self._wake.wait(5.0)  # a timeout too: nothing is lost if a kick is missed
                self._wake.clear()
                continue
            entry = waiting[0]
            try:
                self.apply(entry)
            except StoreError as exc:  # busy, away, fenced: the state's, so wait it out
                log.warning("slack_action_waiting envelope=%s error=%s retry_in=%.1fs",
                            entry.envelope_id, exc, pause)
            except Exception as exc:
                failures += 1
                log.exception("slack_action_failed envelope=%s attempt=%d", entry.envelope_id,
                              failures)
                if failures >= ATTEMPTS:
                    kept = self.journal.set_aside(entry, f"{type(exc).__name__}: {exc}")
                    log.error("slack_action_set_aside envelope=%s kept_in=%s",
                              entry.envelope_id, kept)
                    pause, failures = FIRST_PAUSE, 0
                    continue
            else:
                self.journal.done(entry.envelope_id)
                pause, failures = FIRST_PAUSE, 0
                continue
            self._stop.wait(pause)
            pause = min(pause * 2, MAX_PAUSE)
