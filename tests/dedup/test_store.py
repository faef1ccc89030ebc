"""SqlStoryStore on a SQLite file: a restarted engine on the same database assigns the same way."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from bot.dedup import DedupSettings, StoryEngine, StoryInput
from bot.store.stories import STORY_SCHEMA, SqlStoryStore
from tests.dedup.helpers import FIXTURES, load_labelled


def _engine(
    path: Path, settings: DedupSettings | None = None
) -> tuple[StoryEngine, sqlite3.Connection]:
    conn = sqlite3.connect(path)
    settings = settings or DedupSettings()
    return StoryEngine(settings, SqlStoryStore.on(conn)), conn


def _items() -> list[StoryInput]:
    items, _ = load_labelled(FIXTURES / "uci-news-subset.csv", seed=5)
    return items


def test_restart_mid_stream_assigns_exactly_as_an_uninterrupted_run(tmp_path: Path) -> None:
    items = _items()
    reference = StoryEngine()
    expected = [reference.assign(i) for i in items]

    db = tmp_path / "state.db"
    engine, conn = _engine(db)
    got = [engine.assign(i) for i in items[:200]]
    conn.commit()
    conn.close()

    engine, conn = _engine(db)
    got += [engine.assign(i) for i in items[200:]]
    conn.commit()
    conn.close()
    assert got == expected


def test_store_does_not_commit(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    engine, conn = _engine(db)
    engine.assign(_items()[0])
    conn.rollback()
    conn.close()
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT count(*) FROM story_items").fetchone() == (0,)


def test_restart_loads_only_stories_inside_the_window(tmp_path: Path) -> None:
    items = _items()
    db = tmp_path / "state.db"
    engine, conn = _engine(db)
    for i in items:
        engine.assign(i)
    conn.commit()
    live_before = engine.live_stories
    conn.close()

    # The fixture spans 48h: with a 12h window only the latest quarter's stories are live.
    engine, conn = _engine(db, DedupSettings(window=timedelta(hours=12)))
    assert 0 < engine.live_stories < live_before
    conn.close()


def test_schema_tables_are_prefixed() -> None:
    conn = sqlite3.connect(":memory:")
    conn.executescript(STORY_SCHEMA)
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert names and all(n.startswith("story_") for n in names)


def test_a_follow_up_is_still_a_follow_up_after_a_restart(tmp_path: Path) -> None:
    """A restarted engine must know which members were follow-ups: they neither keep a story
    open nor count among its reports."""
    from dataclasses import replace

    from tests.dedup.helpers import item

    settings = replace(DedupSettings(), follow_tags=frozenset({"follow-up"}),
                       follow_window=timedelta(days=30), follow_joins_only=True)
    engine, conn = _engine(tmp_path / "s.db", settings)
    engine.assign(item("a", "US bans exports of advanced AI chips to China"))
    follow = replace(item("b", "How the US ban on AI chip exports hits China", minutes=60),
                     tags=frozenset({"follow-up"}))
    assert engine.assign(follow) is not None
    conn.commit()
    conn.close()
    _, conn = _engine(tmp_path / "s.db", settings)
    members = {m.item_id: m.follow for _, ms in SqlStoryStore.on(conn).load(timedelta(days=30))
               for m in ms}
    assert members == {"a": False, "b": True}
    conn.close()
