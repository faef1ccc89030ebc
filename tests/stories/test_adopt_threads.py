"""When the story engine folds stories together, later reports find the surviving parent."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.slack.blocks import Message
from bot.store import SqliteStore, outbox

NOW = datetime(2026, 1, 28, 12, 0, tzinfo=UTC)


def test_loser_parent_is_adopted_only_where_the_winner_has_none(tmp_path: Path) -> None:
    db = SqliteStore.open(tmp_path / "s.db")
    with db.tx() as conn:
        for story, channel in (("win", "#a"), ("lose", "#a"), ("lose", "#b")):
            row = outbox.enqueue(conn, f"alert|{story}|{channel}", channel, "alert",
                                 Message(story), NOW, story)
            assert row is not None
            outbox.set_parent(conn, story, channel, row)
        outbox.adopt_threads(conn, "win", ("lose",))
        a, b = outbox.parent(conn, "win", "#a"), outbox.parent(conn, "win", "#b")
    assert a is not None and a.message.text == "win"  # the winner keeps its own parent
    assert b is not None and b.message.text == "lose"  # #b had only the loser's: adopted
