"""The Socket Mode journal: envelopes acknowledged before the state could take them.

Slack wants each envelope acknowledged within 3 s. When the state stays busy longer than an
envelope may wait (another writer holds it, the database is away), the request is appended
here as one JSON line, flushed and fsynced, and only then acknowledged: what Slack saw
acknowledged is on disk. `bot.slack.backlog` applies the entries in order once the state is
free, and the next start (of Socket Mode, on taking the lead) replays what is left. The
state's action log is keyed by envelope id, so replaying an entry already applied changes
nothing. The file is emptied once every entry is in the state; an entry that keeps failing
for a reason other than the state is set aside in `<journal>.failed`, never dropped.

The file lives beside the state file: `<state>.slack-journal` (e.g. `chipwatch.db` →
`chipwatch.slack-journal`), mode 0600 (it holds user ids and command text).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.slack.lines import append_line
from bot.slack.requests import ButtonPress, Command, Request

log = logging.getLogger("chipwatch.slack")


@dataclass(frozen=True)
class Entry:
    """One acknowledged envelope not yet in the state: the request, whether its user was an
    admin when it came, when it came, and the ack Slack was given (a redelivery gets it)."""

    envelope_id: str
    request: Request
    admin: bool
    received: datetime
    ack: dict[str, Any] | None

    def to_json(self) -> str:
        kind = "button" if isinstance(self.request, ButtonPress) else "command"
        return json.dumps({"envelope_id": self.envelope_id, "kind": kind,
                           "request": asdict(self.request), "admin": self.admin,
                           "received": self.received.isoformat(), "ack": self.ack},
                          ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> Entry:
        data = json.loads(line)
        make = ButtonPress if data["kind"] == "button" else Command
        return cls(data["envelope_id"], make(**data["request"]), bool(data["admin"]),
                   datetime.fromisoformat(data["received"]), data["ack"])


def journal_path(state_path: Path) -> Path:
    """Where the journal of a state file lives: beside it, `<state>.slack-journal`."""
    return state_path.with_suffix(".slack-journal")


def failed_path(path: Path) -> Path:
    """Where a journal's entries set aside go: `<journal>.failed`."""
    return path.with_name(path.name + ".failed")


def on_disk(path: Path) -> dict[str, Any]:
    """What a journal holds, read from its files alone (for `status`, beside a running bot):
    entries waiting, when the oldest came, entries set aside; `error` if unreadable."""
    try:
        waiting = Journal(path).load()
        aside = set_aside_ids(path)
    except OSError as exc:  # another user's 0600 file, say
        return {"error": str(exc)}
    oldest = min((e.received for e in waiting), default=None)
    return {"waiting": len(waiting), "oldest": oldest.isoformat() if oldest else None,
            "set_aside": len(aside), "failed": str(failed_path(path))}


def set_aside_ids(path: Path) -> set[str]:
    """The envelope ids of a journal's entries set aside (in `<journal>.failed`)."""
    failed = failed_path(path)
    if not failed.exists():
        return set()
    ids = set()
    for line in failed.read_text("utf-8").splitlines():
        try:
            ids.add(str(json.loads(line)["envelope_id"]))
        except (ValueError, KeyError, TypeError):
            continue  # cut short by a kill: its entry is still in the journal
    return ids


class Journal:
    """The journal file and, in memory, its entries not yet applied (in arrival order)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._pending: dict[str, Entry] = {}

    def load(self) -> list[Entry]:
        """Read the file: the entries waiting to be applied. A last line cut short (killed
        while writing it) was never fsynced, so never acknowledged: it is skipped; so is an
        entry set aside (it stays in the file until the others are applied)."""
        with self._lock:
            self._pending.clear()
            if not self.path.exists():
                return []
            aside = set_aside_ids(self.path)
            for number, line in enumerate(self.path.read_text("utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    entry = Entry.from_json(line)
                except (ValueError, KeyError, TypeError) as exc:
                    log.warning("slack_journal_line_skipped path=%s line=%d error=%s",
                                self.path, number, exc)
                    continue
                if entry.envelope_id not in aside:
                    self._pending.setdefault(entry.envelope_id, entry)
            return list(self._pending.values())

    def append(self, entry: Entry) -> None:
        """Write one entry durably (flushed, fsynced) before the caller acknowledges it; an
        OSError (a full disk) propagates: the envelope must then not be acknowledged."""
        with self._lock:
            append_line(self.path, entry.to_json() + "\n")
            self._pending[entry.envelope_id] = entry

    def get(self, envelope_id: str) -> Entry | None:
        """The waiting entry of this envelope, if it is waiting."""
        with self._lock:
            return self._pending.get(envelope_id)

    def pending(self) -> list[Entry]:
        """The waiting entries, oldest first."""
        with self._lock:
            return list(self._pending.values())

    def done(self, envelope_id: str) -> None:
        """The entry is in the state now; the file is emptied when nothing else waits."""
        with self._lock:
            self._pending.pop(envelope_id, None)
            if not self._pending and self.path.exists():
                # Emptied in place only once everything is committed: a crash before this
                # replays entries the action log then finds applied.
                with open(self.path, "r+b") as f:
                    f.truncate(0)
                    os.fsync(f.fileno())

    def set_aside(self, entry: Entry, error: str) -> Path:
        """Move an entry that cannot be applied to `<journal>.failed` (kept for an
        operator, with the error), so it no longer holds up the ones behind it."""
        failed = failed_path(self.path)
        data = json.loads(entry.to_json()) | {"error": error}
        append_line(failed, json.dumps(data, ensure_ascii=False) + "\n")
        self.done(entry.envelope_id)
        return failed

