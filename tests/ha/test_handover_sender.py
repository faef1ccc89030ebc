"""A new leader's sender on PostgreSQL: it keeps each channel's pace from the last message
another replica sent, and a replica that lost the lead posts nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.clock import FakeClock
from bot.deliver import Sender
from bot.slack.blocks import Message
from bot.slack.notifier import SlackNotifier
from bot.store import FencedError, open_store, outbox
from tests.conftest import TOKEN
from tests.support.fake_slack import FakeSlack


def test_the_pace_holds_across_a_change_of_sender(pg_url: str, fake_slack: FakeSlack) -> None:
    clock = FakeClock()
    db = open_store(pg_url, "unused")
    try:
        with db.tx() as conn:
            for n in range(2):
                outbox.enqueue(conn, f"k{n}", "#a", outbox.Kind.NOTICE, Message(f"m{n}"),
                               clock.now())
        notifier = SlackNotifier(TOKEN, fake_slack.base_url, timeout=5)
        old = Sender(db, notifier, clock, per_channel_interval=1.0)
        old.recover()
        assert old.drain(max_wait=0).sent == 1  # the old leader's last message, just now
        clock.advance(timedelta(seconds=0.4))
        new = Sender(db, notifier, clock, per_channel_interval=1.0)
        new.recover()  # it knows nothing but what the state says
        assert new.drain(max_wait=0).sent == 0  # 0.6 s of the channel's second still to go
        clock.advance(timedelta(seconds=0.6))
        assert new.drain(max_wait=0).sent == 1
        assert [m["text"] for m in fake_slack.state.top_level("#a")] == ["m0", "m1"]
    finally:
        db.close()


def test_a_sender_that_lost_the_lead_posts_nothing(pg_url: str, fake_slack: FakeSlack) -> None:
    clock = FakeClock()
    db = open_store(pg_url, "unused")
    try:
        with db.tx() as conn:
            outbox.enqueue(conn, "k", "#a", outbox.Kind.NOTICE, Message("m"), clock.now())
        sender = Sender(db, SlackNotifier(TOKEN, fake_slack.base_url, timeout=5), clock, 0.0)
        sender.recover()
        leading = [True]
        sender.may_send = lambda: leading[0]
        leading[0] = False  # the lease lapsed between the row's check-out and its post
        with pytest.raises(FencedError):
            sender.drain(max_wait=0)
        assert not fake_slack.state.messages
        with db.reading() as conn:
            assert outbox.counts(conn) == {"inflight": 1}  # the next leader looks it up
    finally:
        db.close()
