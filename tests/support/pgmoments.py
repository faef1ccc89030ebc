"""The moments a database restart matters to the bot, brought about on a real PostgreSQL
without touching the bot: the test's own session takes a lock the bot's next write must wait
on, and waits (in `pg_stat_activity`) until that write waits. The caller then stops the server
or cuts the waiting sessions, and calls the returned function to let the lock go."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import psycopg

from bot.store.base import WRITER_LOCK
from tests.support.fake_slack import FakeSlack
from tests.support.util import wait_for

Release = Callable[[], None]


def _waiters(direct: str, where: str, params: tuple[object, ...]) -> int:
    with psycopg.connect(direct, autocommit=True) as watch:
        row = watch.execute("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = "
                            f"'Lock' AND pid != pg_backend_pid() AND {where}",
                            params).fetchone()
    return int(row[0]) if row else 0


def _release(holder: psycopg.Connection[object]) -> Release:
    def release() -> None:
        with contextlib.suppress(psycopg.Error):  # a stopped server ended the session
            holder.close()
    return release


def batch_writing(direct: str) -> Release:
    """A batch's transaction is under way: its stories assigned, its `INSERT INTO items`
    waiting on the test's lock of the table (its outbox rows come next)."""
    holder = psycopg.connect(direct)
    holder.execute("LOCK TABLE items IN SHARE MODE")
    assert wait_for(lambda: _waiters(direct, "query LIKE %s", ("%INSERT INTO items%",)) > 0,
                    30, 0.02), "no batch came to write its items"
    return _release(holder)


def mark_sent_waiting(direct: str, slack: FakeSlack) -> Release:
    """Slack took a post and answered; the sender's record of it (mark sent, after marking
    the row in flight) waits on the writer lock, which the test took while Slack still held
    the answer, so nothing else of the sender's can come first."""
    holder = psycopg.connect(direct, autocommit=True)
    while True:
        assert wait_for(lambda: slack.state.answering > 0, 30, 0.001), "no post to Slack"
        row = holder.execute("SELECT pg_advisory_lock(%s), clock_timestamp()",
                             (WRITER_LOCK,)).fetchone()
        assert row is not None
        if slack.state.answering > 0:
            since = row[1]
            break
        holder.execute("SELECT pg_advisory_unlock(%s)", (WRITER_LOCK,))
    assert wait_for(lambda: slack.state.answering == 0, 30, 0.001)
    assert wait_for(lambda: _waiters(direct, "wait_event = 'advisory' AND query_start >= %s",
                                     (since,)) > 0, 30, 0.005), "the sender did not write"
    return _release(holder)


def cut_waiting(direct: str) -> int:
    """End the bot's sessions that wait on a lock (a connection cut mid-transaction, the
    server up); how many were ended."""
    with psycopg.connect(direct, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event_type = "
            "'Lock' AND pid != pg_backend_pid() AND application_name NOT LIKE "
            "'chipwatch-lease-%'").fetchall()
    return len(rows)
