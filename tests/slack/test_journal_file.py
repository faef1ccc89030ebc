"""The Socket Mode journal file, and the bounded wait for the state it stands in for: a write
transaction given `wait` gives up with `StateBusy` when another writer holds the state (a
thread of this process, another process on the SQLite file, a session holding PostgreSQL's
writer lock), and does nothing."""

from __future__ import annotations

import sqlite3
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.slack.journal import Entry, Journal, journal_path
from bot.slack.requests import ButtonPress, Command
from bot.store import SqliteStore, StateBusy, open_store
from bot.store.base import WRITER_LOCK

NOW = datetime(2026, 1, 28, 12, 0, tzinfo=UTC)
PRESS = ButtonPress("U1", "C1", "111.222", "chipwatch_not_relevant", "alert|x")
MUTE = Command("UADMIN1", "C2", "mute us-entity-list 2h")


def _entries() -> list[Entry]:
    return [Entry("env-1", PRESS, False, NOW, None),
            Entry("env-2", MUTE, True, NOW, {"response_type": "ephemeral", "text": "wait"})]


def test_entries_survive_a_new_process_in_order(tmp_path: Path) -> None:
    path = journal_path(tmp_path / "state" / "chipwatch.db")
    assert path.name == "chipwatch.slack-journal"
    first = Journal(path)
    for entry in _entries():
        first.append(entry)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # user ids and command text
    again = Journal(path)  # the next start
    assert again.load() == _entries()
    assert again.get("env-2") == _entries()[1]
    assert again.get("env-3") is None


def test_a_line_cut_short_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "j.slack-journal"
    journal = Journal(path)
    journal.append(_entries()[0])
    with open(path, "a", encoding="utf-8") as f:  # killed halfway through a write
        f.write(_entries()[1].to_json()[:40])
    assert Journal(path).load() == [_entries()[0]]
    # The next start writes its entry on a line of its own: only the torn line is lost.
    again = Journal(path)
    again.load()
    again.append(_entries()[1])
    assert Journal(path).load() == _entries()


def test_emptied_once_everything_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "j.slack-journal"
    journal = Journal(path)
    for entry in _entries():
        journal.append(entry)
    journal.done("env-1")
    assert Journal(path).load() == _entries()  # env-2 still waits: nothing rewritten yet
    journal.done("env-2")
    assert path.read_bytes() == b""
    assert journal.pending() == []


def test_set_aside_keeps_the_entry_and_the_error(tmp_path: Path) -> None:
    path = tmp_path / "j.slack-journal"
    journal = Journal(path)
    for entry in _entries():
        journal.append(entry)
    kept = journal.set_aside(_entries()[0], "KeyError: 'x'")
    assert kept.name == "j.slack-journal.failed"
    assert "env-1" in kept.read_text() and "KeyError" in kept.read_text()
    assert [e.envelope_id for e in journal.pending()] == ["env-2"]
    assert [e.envelope_id for e in Journal(path).load()] == ["env-2"]  # not replayed


def test_sqlite_wait_is_bounded_by_another_process_and_by_a_thread(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = SqliteStore.open(path)
    try:
        other = sqlite3.connect(path, isolation_level=None)  # another process's writer
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StateBusy), db.tx(wait=0.2) as conn:
            conn.execute("INSERT INTO rule_mutes (rule_id, until, user_id, action_id, created)"
                         " VALUES ('r', 'x', 'u', 1, 'x')")
        other.execute("ROLLBACK")
        other.close()
        # The connection's own busy timeout is back to the long one for everyone else.
        assert db.read("PRAGMA busy_timeout")[0][0] == 30000

        held, release = threading.Event(), threading.Event()

        def hold() -> None:
            with db.tx():
                held.set()
                release.wait(30)

        thread = threading.Thread(target=hold)
        thread.start()
        assert held.wait(30)
        with pytest.raises(StateBusy), db.tx(wait=0.2):
            pass
        release.set()
        thread.join()
        with db.tx(wait=0.2) as conn:  # free again: a bounded wait is an ordinary write
            conn.execute("DELETE FROM rule_mutes")
    finally:
        db.close()


def test_postgres_wait_for_the_writer_lock_is_bounded(pg_url: str, tmp_path: Path) -> None:
    import psycopg

    db = open_store(pg_url, tmp_path / "unused.db")
    other = psycopg.connect(pg_url, autocommit=True)
    try:
        other.execute("SELECT pg_advisory_lock(%s)", (WRITER_LOCK,))  # a writer, stuck
        with pytest.raises(StateBusy), db.tx(wait=0.3):
            pass
        other.execute("SELECT pg_advisory_unlock(%s)", (WRITER_LOCK,))
        with db.tx(wait=0.3) as conn:
            assert conn.execute("SELECT 1").fetchone()[0] == 1
    finally:
        other.close()
        db.close()
