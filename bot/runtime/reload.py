"""Hot reload: the running bot picks up an edited config file, or keeps its last good one.

A scheduler job stats the file every few seconds; when its mtime or size changed and then
held still for one more poll (an editor may still be writing), the content hash decides
whether anything really changed. SIGHUP forces a reload. A good file replaces the running
config in one reference swap (a poll in flight finishes with the config it started with)
and feed jobs are rescheduled for added, removed and changed feeds. An invalid file is
rejected: one log line per problem, and one notice to `ops_channel` through the outbox
(once per bad content), while the bot runs on.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.clock import Clock
from bot.config import Config
from bot.config.live import LiveConfig
from bot.config.validate import validate
from bot.errors import ConfigError, Problem
from bot.slack.blocks import Message, cut, escape
from bot.store import outbox
from bot.store.base import Store

log = logging.getLogger("chipwatch.reload")
POLL_SECONDS = 2.0
# Settings a running bot does not swap: they are built into long-lived objects.
RESTART_SETTINGS = ("state_path", "state_url", "slack", "fetch", "metrics_listen", "dedup",
                    "failover", "replica")
OnSwap = Callable[[Config, Config], None]
NOTICE_LINES = 20


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _hash(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def notice_message(path: Path, problems: list[Problem]) -> Message:
    """The ops-channel notice for a rejected config: what is wrong, one line per problem."""
    head = (f":warning: chipwatch rejected an edit to `{escape(str(path))}` and keeps running "
            f"on the last good config ({len(problems)} problem"
            f"{'s' * (len(problems) != 1)}):")
    lines = [escape(str(p)) for p in problems[:NOTICE_LINES]]
    if len(problems) > NOTICE_LINES:
        lines.append(f"… and {len(problems) - NOTICE_LINES} more")
    body = cut("\n".join(lines), 2990)
    return Message(cut(f"chipwatch rejected a config edit: {len(problems)} problems", 300), [
        {"type": "section", "text": {"type": "mrkdwn", "text": head, "verbatim": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"```{body}```",
                                     "verbatim": True}},
    ])


class Reloader:
    """Watches the running config's file and swaps in good edits; `on_swap(old, new)` lets
    the owner follow a swap (the loop reschedules feed jobs)."""

    def __init__(self, live: LiveConfig, db: Store, clock: Clock, wake: threading.Event,
                 on_swap: OnSwap) -> None:
        self.live, self.db, self.clock, self.wake = live, db, clock, wake
        self.on_swap = on_swap
        self.path = Path(live.current.path)
        self.requested = threading.Event()
        self._lock = threading.Lock()
        self._stat = _stat(self.path)
        self._hash = _hash(self.path)
        self._good_hash = self._hash
        self._pending: tuple[int, int] | None = None

    def install(self, scheduler: BaseScheduler) -> None:
        """Add the polling job; take SIGHUP when running in the main thread."""
        scheduler.add_job(self.check, IntervalTrigger(seconds=POLL_SECONDS),
                               id="config-reload", name="config-reload")
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGHUP, self._on_sighup)

    def _on_sighup(self, _signum: int, _frame: FrameType | None) -> None:
        # Only set a flag: a signal handler must not take the locks logging and SQLite use.
        self.requested.set()

    def check(self) -> None:
        """The polling job: reload when asked to, or when the file settled on new content."""
        if self.requested.is_set():
            self.requested.clear()
            log.info("config_reload_requested file=%s by=SIGHUP", self.path)
            self.reload()
            return
        stat = _stat(self.path)
        if stat == self._stat:
            self._pending = None
            return
        if stat != self._pending:
            self._pending = stat  # changed: wait one more poll for the writer to finish
            return
        self._pending, self._stat = None, stat
        if _hash(self.path) != self._hash:
            self.reload()

    def reload(self) -> bool:
        """Load the file; swap it in if valid, else reject it. True when swapped in."""
        with self._lock:
            self._stat = _stat(self.path)
            self._hash = digest = _hash(self.path)
            try:
                new = validate(self.path).config_or_raise()
            except ConfigError as exc:
                self._reject(exc.problems, digest)
                return False
            self._good_hash = digest
            self.apply(new)
            return True

    def _reject(self, problems: list[Problem], digest: str) -> None:
        log.error("config_reload_rejected file=%s problems=%d action=kept_last_good_config",
                  self.path, len(problems))
        for p in problems:
            log.error("config_problem %s", p)
        channel = self.live.current.settings.ops_channel
        if not channel:
            return
        # Keyed by the last good and the bad content: posted once per bad edit, durably.
        key = f"notice|config|{self._good_hash[:12]}|{digest[:12]}"
        with self.db.tx() as conn:
            queued = outbox.enqueue(conn, key, channel, outbox.Kind.NOTICE,
                                    notice_message(self.path, problems), self.clock.now())
        if queued:
            self.wake.set()

    def apply(self, new: Config) -> None:
        """Swap `new` in for every holder at once and tell the owner."""
        old = self.live.swap(new)
        self.on_swap(old, new)
        before = {f.name: f for f in old.feeds}
        after = {f.name: f for f in new.feeds}
        log.info("config_reloaded file=%s feeds=%d rules=%d routes=%d feeds_added=%s "
                 "feeds_removed=%s feeds_changed=%s", self.path, len(new.feeds),
                 len(new.rules), len(new.routes),
                 ",".join(n for n in after if n not in before) or "-",
                 ",".join(n for n in before if n not in after) or "-",
                 ",".join(n for n, f in after.items() if n in before and before[n] != f) or "-")
        for w in new.warnings:
            log.warning("config_warning %s", w)
        for e in new.example_failures:
            log.warning("config_example_failed %s", e)
        for key in RESTART_SETTINGS:
            if getattr(old.settings, key) != getattr(new.settings, key):
                log.warning("config_reload_needs_restart key=%s (kept the running value)", key)
