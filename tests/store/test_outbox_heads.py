"""The sender reads only each channel's oldest pending row: the same choice as reading every
pending row, without decoding the whole outbox once per message sent (issue 9, defect 4:
a run with many new alerts spent most of its time there)."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import SYSTEM_CLOCK
from bot.deliver import Sender
from bot.slack.blocks import Message
from bot.slack.notifier import ConsoleNotifier
from bot.store import SqliteStore, outbox

T0 = datetime(2026, 1, 28, 8, 0, tzinfo=UTC)


def _fill(db: SqliteStore, rows: list[tuple[str, str]], now: datetime = T0) -> None:
    """Rows of (channel, story): a story's first row in a channel is its parent alert, later
    ones reply in its thread."""
    with db.tx() as conn:
        for i, (channel, story) in enumerate(rows):
            text = f"{channel} {story} {i}"
            msg = Message(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}])
            parent = outbox.parent(conn, story, channel)
            if parent is None:
                row = outbox.enqueue(conn, f"alert|{story}|{channel}", channel, "alert", msg,
                                     now + timedelta(seconds=i), story, f"i{i}")
                assert row is not None
                outbox.set_parent(conn, story, channel, row)
            else:
                outbox.enqueue(conn, f"reply|i{i}|{channel}", channel, "reply", msg,
                               now + timedelta(seconds=i), story, f"i{i}")


def _first_per_channel(rows: list[tuple[outbox.OutboxRow, datetime]]
                       ) -> list[tuple[outbox.OutboxRow, datetime]]:
    seen: set[str] = set()
    out = []
    for row, due in rows:
        if row.channel not in seen:
            seen.add(row.channel)
            out.append((row, due))
    return out


def test_heads_are_the_oldest_pending_row_of_each_channel(tmp_path: Path) -> None:
    db = SqliteStore.open(tmp_path / "s.db")
    _fill(db, [("#a", "s1"), ("#b", "s1"), ("#a", "s2"), ("#c", "s3"), ("#b", "s1"),
               ("#a", "s1"), ("#c", "s3")])
    with db.reading() as conn:
        assert [r.channel for r, _ in outbox.heads(conn)] == ["#a", "#b", "#c"]
        assert outbox.heads(conn) == _first_per_channel(outbox.pending(conn))
        first, second = outbox.heads(conn)[0][0], outbox.pending(conn)[2][0]
    assert (first.channel, first.story_id, second.channel, second.story_id) == (
        "#a", "s1", "#a", "s2")
    with db.tx() as conn:  # #a's parent of s1 and its alert of s2 are sent
        outbox.mark(conn, first.id, "sent", now=T0, ts="1.0", channel_id="C1")
        outbox.mark(conn, second.id, "sent", now=T0, ts="2.0", channel_id="C1")
    with db.reading() as conn:
        heads = outbox.heads(conn)
        assert heads == _first_per_channel(outbox.pending(conn))
        # the reply in s1's thread is #a's head now, and it knows its parent's ts
        assert [(r.channel, r.kind, r.thread_ts) for r, _ in heads] == [
            ("#b", "alert", None), ("#c", "alert", None), ("#a", "reply", "1.0")]
    db.close()


@pytest.mark.slow
def test_draining_a_long_outbox_takes_linear_time(tmp_path: Path) -> None:
    """3,000 waiting messages over four channels, to the console: each send used to decode
    every waiting row (4.5 million decodes, minutes); now a few seconds at most."""
    db = SqliteStore.open(tmp_path / "s.db")
    channels = ["#a", "#b", "#c", "#d"]
    _fill(db, [(channels[i % 4], f"s{i}") for i in range(3000)], SYSTEM_CLOCK.now())
    out = io.StringIO()
    sender = Sender(db, ConsoleNotifier(out), SYSTEM_CLOCK, 0.0)
    sender.recover()
    started = time.perf_counter()
    report = sender.drain(max_wait=0)
    spent = time.perf_counter() - started
    assert report.sent == 3000
    assert spent < 30, f"draining 3,000 rows took {spent:.1f} s"
    with db.reading() as conn:
        assert outbox.counts(conn) == {"sent": 3000}
    db.close()
