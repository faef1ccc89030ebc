"""The story engine after a transaction that held its writes rolled back (the database went
away mid-batch): it must not keep the batch's stories in memory only. Told (as the poller
tells it on any failed batch), it rebuilds itself from the store, so the item fetched again
gets a story that is written with it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.dedup import DedupSettings
from bot.models import Item, Match, RuleHit, Severity
from bot.store import SqliteStore
from bot.stories import EngineStories, make_stories

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MATCH = Match((RuleHit("r", ("h200",)),), frozenset({"nvidia"}), Severity.HIGH)


def _item(n: int, title: str) -> Item:
    return Item(f"wire-{n}", "wire", title, f"https://wire.example.com/{n}", "", T0, T0,
                "wire")


def _stored(db: SqliteStore, item_id: str) -> list[str]:
    return [r[0] for r in db.read("SELECT story_id FROM story_items WHERE item_id = ?",
                                  (item_id,))]


def test_an_item_of_a_rolled_back_batch_gets_its_story_written_when_it_returns(
        tmp_path: Path) -> None:
    db = SqliteStore.open(tmp_path / "state.db")
    stories = make_stories(DedupSettings(), db)
    assert isinstance(stories, EngineStories)
    first = _item(1, "China approves H200 imports for Alibaba")
    with pytest.raises(ConnectionError), db.tx():
        assert stories.assign(first, MATCH) is not None
        raise ConnectionError("the database went away before the commit")
    stories.reload_later()  # what the poller does when a batch fails
    with db.tx():
        again = stories.assign(first, MATCH)
        later = stories.assign(_item(2, "China approves H200 imports for Alibaba, Tencent"),
                               MATCH)
    assert again is not None and later is not None
    assert _stored(db, first.id) == [again[0]]
    assert later[0] == again[0]  # a report of the same development joins the story written


def test_a_fresh_engine_and_a_reloaded_one_agree(tmp_path: Path) -> None:
    db = SqliteStore.open(tmp_path / "state.db")
    stories = make_stories(DedupSettings(), db)
    assert isinstance(stories, EngineStories)
    with db.tx():
        one = stories.assign(_item(1, "US adds SMIC to entity list over chip exports"), MATCH)
    stories.reload_later()
    with db.tx():
        two = stories.assign(_item(2, "US adds SMIC to entity list over chip exports, again"),
                             MATCH)
    assert one is not None and two is not None and two[0] == one[0]
    assert two[1] == 1  # one source: the wire
