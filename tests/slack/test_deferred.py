"""The deferred path: the state held past the wait an envelope may take. The envelope is
journaled, acknowledged, answered the same when redelivered (before and after it is
applied), applied once the state is free, and kept through failed tries. On SQLite (another
process's write on the file, a thread of the bot's own) and on PostgreSQL (the writer lock)."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.slack.buttons import NOT_RELEVANT
from bot.slack.interactions import DEFERRED
from bot.store.base import WRITER_LOCK
from tests.slack.conftest import ADMIN, H200, USER, TwoWay
from tests.support.fake_socket import button, command
from tests.support.figures import FIGURES
from tests.support.util import wait_for

pytestmark = pytest.mark.slow  # Socket Mode end to end over a real websocket on loopback


@contextmanager
def file_held(w: TwoWay) -> Iterator[None]:
    """Another process's write transaction on the state file (a backup, `state copy`…)."""
    other = sqlite3.connect(w.tmp / "state" / "chipwatch.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


@contextmanager
def lines(name: str = "chipwatch.slack") -> Iterator[list[str]]:
    """The bot's log lines of `name`, from every thread, as they come."""
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    logger, handler = logging.getLogger(name), Keep()
    logger.addHandler(handler)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)


def _journal(w: TwoWay) -> Path:
    return w.tmp / "state" / "chipwatch.slack-journal"


def _press(w: TwoWay) -> dict[str, object]:
    parent = w.parent("#chip-alerts")
    return button(USER, w.slack.state.channel_id("#chip-alerts"), parent["ts"], NOT_RELEVANT)


def test_busy_file_journals_acks_and_answers_the_same(two_way: TwoWay) -> None:
    w = two_way
    w.start({"wire-a": H200[:1]})
    mute = command(ADMIN, "CANY", "mute us-entity-list 2h")
    with file_held(w), lines() as log:
        pressed, ack, _ = w.send("interactive", _press(w))
        assert ack.get("payload") in (None, {})
        muted, first, took = w.send("slash_commands", mute)
        assert first["payload"]["text"] == DEFERRED
        FIGURES.setdefault("deferred Socket Mode ack (s, state held)", {})["sqlite file"] = (
            f"{took:.2f}",)
        _, again, _ = w.send("slash_commands", mute, envelope_id=muted, retry=1)
        assert again["payload"] == first["payload"]  # still waiting: the same answer
        assert len(_journal(w).read_text().splitlines()) == 2  # on disk before the acks
        assert w.rows("SELECT COUNT(*) FROM slack_actions") == [(0,)]
        assert sum("slack_action_deferred" in line and "reason=state_busy" in line
                   for line in log) == 2
    # The state is free: both applied, in order, each answered once (ephemeral).
    assert wait_for(lambda: w.rows("SELECT COUNT(*) FROM slack_actions") == [(2,)])
    assert w.rows("SELECT envelope_id FROM slack_actions ORDER BY id") == [(pressed,), (muted,)]
    assert w.rows("SELECT COUNT(*) FROM feedback") == [(1,)]
    assert w.rows("SELECT rule_id FROM rule_mutes") == [("us-entity-list",)]
    answers = [m["text"] for m in w.ephemeral(2)]
    assert answers[0].startswith("Thanks: recorded as a false alert")
    assert answers[1].startswith("Muted `us-entity-list` until")
    assert wait_for(lambda: _journal(w).read_bytes() == b"")  # emptied once all are in
    _, late, _ = w.send("slash_commands", mute, envelope_id=muted, retry=2)
    assert late["payload"] == first["payload"]  # applied now, answered as the first time
    w.send("interactive", _press(w), envelope_id=pressed, retry=1)
    assert w.rows("SELECT COUNT(*) FROM slack_actions") == [(2,)]
    w.deliver()
    assert len(w.slack.state.top_level("#ops")) == 2  # one audit line each
    assert len(w.slack.state.ephemeral) == 2  # no second answer for a redelivery


def test_redelivery_after_a_restart_is_answered_from_the_action_log(two_way: TwoWay) -> None:
    w = two_way
    w.start({"wire-a": H200[:1]})
    mute = command(ADMIN, "CANY", "mute us-entity-list 2h")
    with file_held(w):
        muted, first, _ = w.send("slash_commands", mute)
    assert wait_for(lambda: w.rows("SELECT COUNT(*) FROM rule_mutes") == [(1,)])
    w.start({"wire-a": H200[:1]})  # a new process: nothing in memory, the journal empty
    _, again, _ = w.send("slash_commands", mute, envelope_id=muted, retry=1)
    assert again["payload"] == first["payload"]
    assert w.rows("SELECT COUNT(*) FROM slack_actions") == [(1,)]


def test_new_envelopes_queue_behind_waiting_ones(two_way: TwoWay) -> None:
    w = two_way
    w.start({"wire-a": H200[:1]})
    assert w.app is not None and w.app.interactions is not None
    w.app.interactions.backlog_wait = 0.2  # the backlog's tries fail fast while held
    held, release = threading.Event(), threading.Event()

    def hold() -> None:  # a thread of the bot's own (a long poll batch) holds the state
        assert w.app is not None
        with w.app.db.tx():
            held.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    with lines() as log:
        holder.start()
        assert held.wait(30)
        try:
            w.send("slash_commands", command(ADMIN, "CANY", "mute us-entity-list 2h"))
            # The backlog's tries fail (the state stays busy) and are retried, not lost.
            assert wait_for(lambda: sum("slack_action_waiting" in x for x in log) >= 2)
        finally:
            release.set()
            holder.join()
        # Free now, but the mute may still wait: the unmute goes behind it, never before.
        _, ack, _ = w.send("slash_commands", command(ADMIN, "CANY", "unmute us-entity-list"))
    assert wait_for(lambda: w.rows("SELECT COUNT(*) FROM slack_actions") == [(2,)])
    assert w.rows("SELECT COUNT(*) FROM rule_mutes") == [(0,)]  # mute, then unmute
    assert w.rows("SELECT kind FROM slack_actions ORDER BY id") == [("command:mute",),
                                                                      ("command:unmute",)]
    assert ack["payload"]["text"] in (DEFERRED, "Unmuted `us-entity-list`.")


def test_postgres_writer_lock_held_is_journaled_within_the_bound(two_way: TwoWay,
                                                                 pg_url: str) -> None:
    import psycopg

    w = two_way
    w.extra = {"database": pg_url}
    app = w.start({"wire-a": H200[:1]})
    app.leader.start()  # Socket Mode runs on the leader: hold the lead, as `run` does
    assert wait_for(lambda: app.leader.term is not None)
    other = psycopg.connect(pg_url, autocommit=True)
    try:
        other.execute("SELECT pg_advisory_lock(%s)", (WRITER_LOCK,))  # a writer that stalls
        # Unbounded, the ack would wait for the lock; the lock is held until the ack comes.
        muted, first, took = w.send("slash_commands", command(ADMIN, "CANY",
                                                              "mute us-entity-list 2h"))
        assert first["payload"]["text"] == DEFERRED
        FIGURES.setdefault("deferred Socket Mode ack (s, state held)", {})["postgresql"] = (
            f"{took:.2f}",)
        assert w.rows("SELECT COUNT(*) FROM slack_actions") == [(0,)]
    finally:
        other.execute("SELECT pg_advisory_unlock(%s)", (WRITER_LOCK,))
        other.close()
    assert wait_for(lambda: w.rows("SELECT COUNT(*) FROM rule_mutes") == [(1,)])
    assert w.ephemeral(1)[0]["text"].startswith("Muted `us-entity-list` until")
    _, again, _ = w.send("slash_commands", command(ADMIN, "CANY", "mute us-entity-list 2h"),
                         envelope_id=muted, retry=1)
    assert again["payload"] == first["payload"]
    app.leader.release()
