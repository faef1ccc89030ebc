"""A sender's write to the state that fails mid-send (the database went away, or a commit's
answer was lost) leaves a row in flight while the same replica keeps the lead: the sender
looks it up in Slack again at its next drain, its channel waits behind it, and its thread's
replies are never dead-lettered for want of its ts (issue 18, item 3: alerts of 6 items lost,
nothing in the log). A reply whose parent is really dead says so in one log line."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.clock import SYSTEM_CLOCK
from bot.deliver import Sender
from bot.errors import StoreError
from bot.slack.blocks import Message
from bot.slack.notifier import SlackNotifier
from bot.store import SqliteStore, outbox
from bot.store.base import Conn
from bot.store.outbox import State
from tests.support.fake_slack import TOKEN, FakeSlack


class LosesOneWrite:
    """The state, whose next write transaction after `arm` fails the way a lost database
    connection does: `committed` — the commit happened, its answer never came; otherwise
    cut before the commit (rolled back). Everything else is the real SQLite store."""

    def __init__(self, db: SqliteStore) -> None:
        self.db = db
        self.armed: bool | None = None  # None: off; else whether the failing write commits
        self.skip = 0

    def arm(self, *, committed: bool, skip: int = 0) -> None:
        """Fail the write after `skip` more writes."""
        self.armed, self.skip = committed, skip

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)

    @contextmanager
    def tx(self) -> Iterator[Conn]:
        committed = self.armed
        if committed is not None and self.skip:
            self.skip -= 1
            committed = None
        if committed is None:
            with self.db.tx() as conn:
                yield conn
            return
        self.armed = None
        with self.db.tx() as conn:
            yield conn
            if not committed:
                raise StoreError("database connection lost: server closed the connection")
        raise StoreError("database connection lost: server closed the connection")


def _thread(db: SqliteStore, channel: str = "#alerts") -> None:
    """A story's parent alert and two replies in its thread, in one channel."""
    now = SYSTEM_CLOCK.now()
    with db.tx() as conn:
        for i, kind in enumerate((outbox.Kind.ALERT, outbox.Kind.REPLY, outbox.Kind.REPLY)):
            msg = Message(f"{kind} {i}", [{"type": "section",
                                            "text": {"type": "mrkdwn", "text": f"{kind} {i}"}}])
            key = f"alert|s1|{channel}" if kind == "alert" else f"reply|i{i}|{channel}"
            row = outbox.enqueue(conn, key, channel, kind, msg, now + timedelta(seconds=i),
                                 "s1", f"i{i}")
            if kind == "alert":
                assert row is not None
                outbox.set_parent(conn, "s1", channel, row)


def _sender(tmp_path: Path, slack: FakeSlack) -> tuple[SqliteStore, LosesOneWrite, Sender]:
    db = SqliteStore.open(tmp_path / "state.db")
    flaky = LosesOneWrite(db)
    sender = Sender(flaky, SlackNotifier(TOKEN, slack.base_url, timeout=5),  # type: ignore[arg-type]
                    SYSTEM_CLOCK, 0.0)
    _thread(db)
    sender.recover()
    return db, flaky, sender


def _drain_through_the_failure(sender: Sender) -> None:
    with pytest.raises(StoreError):
        sender.drain(max_wait=0.0)
    sender.drain(max_wait=0.0)  # the same sender (the same lead) goes on


def _delivered(db: SqliteStore, slack: FakeSlack) -> tuple[dict[str, int], list[str], list[str]]:
    with db.reading() as conn:
        counts = outbox.counts(conn)
        parent = outbox.parent(conn, "s1", "#alerts")
    assert parent is not None and parent.ts is not None, parent
    top = [m["text"] for m in slack.state.top_level("#alerts")]
    replies = [m["text"] for m in slack.state.replies("#alerts", parent.ts)]
    return counts, top, replies


@pytest.mark.parametrize("committed", [True, False], ids=["answer-lost", "cut"])
def test_a_parent_left_in_flight_before_its_post_is_checked_and_sent_once(
        tmp_path: Path, fake_slack: FakeSlack, committed: bool) -> None:
    db, flaky, sender = _sender(tmp_path, fake_slack)
    flaky.arm(committed=committed)  # the parent's mark-in-flight
    _drain_through_the_failure(sender)
    counts, top, replies = _delivered(db, fake_slack)
    assert counts == {State.SENT: 3}, counts
    assert top == ["alert 0"] and replies == ["reply 1", "reply 2"]


def test_a_parent_slack_took_whose_record_failed_is_found_not_reposted(
        tmp_path: Path, fake_slack: FakeSlack) -> None:
    db, flaky, sender = _sender(tmp_path, fake_slack)
    flaky.arm(committed=False, skip=1)  # in flight, posted, then its mark-sent is cut
    _drain_through_the_failure(sender)
    counts, top, replies = _delivered(db, fake_slack)
    assert counts == {State.SENT: 3}, counts
    assert top == ["alert 0"] and replies == ["reply 1", "reply 2"]


def test_a_reply_whose_parent_is_dead_is_dead_lettered_with_one_line(
        tmp_path: Path, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    db, _, sender = _sender(tmp_path, fake_slack)
    with db.tx() as conn:
        parent = outbox.parent(conn, "s1", "#alerts")
        assert parent is not None
        outbox.mark(conn, parent.id, State.DEAD, now=SYSTEM_CLOCK.now(), error="is_archived")
    with caplog.at_level(logging.ERROR, logger="chipwatch.deliver"):
        report = sender.drain(max_wait=0.0)
    assert report.dead == 2
    lines = [r.getMessage() for r in caplog.records if "slack_dead_letter" in r.getMessage()]
    assert len(lines) == 2 and all("parent alert was never delivered" in line
                                   for line in lines), lines
    assert fake_slack.state.top_level("#alerts") == []
