"""The Socket Mode answers file: what each recent envelope was acknowledged with, on disk.

Slack redelivers an envelope whose ack it did not see, within minutes. The state's action log
answers such a redelivery the same, but only while the state is free, and what this process
remembers is gone after a restart; so an envelope applied before a restart and redelivered
after it while the state is busy would get a different answer ("Received; applying it in a
moment") instead of its first one. Each ack is therefore appended here, one JSON line flushed
and fsynced, before it is sent: every ack Slack saw is on disk, and a redelivery is answered
from this file (loaded at start) without the state.

The file lives beside the state file: `<state>.slack-answers` (`chipwatch.db` →
`chipwatch.slack-answers`), mode 0600 (command answers hold user text). It is bounded: once it
has `2 * KEEP` lines it is rewritten (a new file renamed over it) with the last `KEEP`
answers, far more than Slack redelivers in the minutes it retries.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from bot.slack.lines import append_line, fsync_dir

log = logging.getLogger("chipwatch.slack")
KEEP = 500  # answers kept: hours of a busy team's actions; Slack retries within minutes

Ack = dict[str, Any] | None


def answers_path(state_path: Path) -> Path:
    """Where the answers of a state file live: beside it, `<state>.slack-answers`."""
    return state_path.with_suffix(".slack-answers")


class Answers:
    """The last `bound` acks by envelope id, in memory and in the file; loaded when made."""

    def __init__(self, path: Path, bound: int = KEEP) -> None:
        self.path, self.bound = path, bound
        self._lock = threading.Lock()
        self._acks: OrderedDict[str, Ack] = OrderedDict()
        self._lines = 0  # lines in the file, compacted ones included
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        text = self.path.read_text("utf-8")
        for line in text.splitlines():
            self._lines += 1
            try:
                data = json.loads(line)
                self._put(str(data["envelope_id"]), data["ack"])
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short was never fsynced, so never acknowledged

    def get(self, envelope_id: str) -> tuple[bool, Ack]:
        """Whether this envelope was answered, and its ack."""
        with self._lock:
            if envelope_id in self._acks:
                return True, self._acks[envelope_id]
            return False, None

    def keep(self, envelope_id: str, ack: Ack) -> None:
        """Remember the ack, and write it durably (flushed, fsynced) before the caller sends
        it. An OSError (a full disk) propagates; the ack is still remembered in memory."""
        line = _line(envelope_id, ack)
        with self._lock:
            self._put(envelope_id, ack)
            if self._lines >= 2 * self.bound:
                self._rewrite()
            else:
                append_line(self.path, line)
                self._lines += 1

    def _put(self, envelope_id: str, ack: Ack) -> None:
        self._acks[envelope_id] = ack
        self._acks.move_to_end(envelope_id)
        while len(self._acks) > self.bound:
            self._acks.popitem(last=False)

    def _rewrite(self) -> None:
        """The file becomes the answers in memory (the last `bound`, the newest included):
        written beside it, fsynced, renamed over it, so a crash leaves one or the other."""
        text = "".join(_line(eid, ack) for eid, ack in self._acks.items())
        fresh = self.path.with_name(self.path.name + ".new")
        with os.fdopen(os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
            f.write(text.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(fresh, self.path)
        fsync_dir(self.path.parent)
        self._lines = len(self._acks)
        log.info("slack_answers_compacted kept=%d path=%s", self._lines, self.path)



def _line(envelope_id: str, ack: Ack) -> str:
    return json.dumps({"envelope_id": envelope_id, "ack": ack}, ensure_ascii=False,
                      separators=(",", ":")) + "\n"
