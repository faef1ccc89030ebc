"""The state file: WAL, ordered migrations, versioning, exact dedup across reopenings."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.models import Item
from bot.store import SqliteStore
from bot.store import items as item_store
from bot.store.migrations import MIGRATIONS

NOW = datetime(2026, 1, 28, 12, 0, tzinfo=UTC)


def _item(id_: str, link: str, title: str, feed: str = "f") -> Item:
    return Item(id_, feed, title, link, "", NOW, NOW, "F")


def test_open_migrates_to_the_latest_version_in_wal(tmp_path: Path) -> None:
    db = SqliteStore.open(tmp_path / "s" / "state.db")
    assert db.version == len(MIGRATIONS)
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    again = SqliteStore.open(tmp_path / "s" / "state.db")
    assert again.version == len(MIGRATIONS)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this chipwatch"):
        SqliteStore.open(path)


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="state file"):
        SqliteStore.open(path)


def test_exact_dedup_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = SqliteStore.open(path)
    with db.tx() as conn:
        twice = [_item("a", "https://x.com/1", "One"), _item("a", "https://x.com/1", "One")]
        fresh = item_store.known(conn, twice, NOW).take(twice)
        assert len(fresh) == 1  # duplicates within one batch fold too
        item_store.insert(conn, fresh[0], None, "nomatch", None)
    db.close()
    db = SqliteStore.open(path)
    candidates = [
        _item("a", "https://x.com/other", "Other"),  # same id
        _item("b", "http://X.com/1/?utm_source=rss&fbclid=z", "Two"),  # same URL, normalized
        _item("c", "https://x.com/3", "One"),  # same title in the same feed
        _item("d", "https://x.com/4", "One", feed="g"),  # same title elsewhere: a new item
    ]
    assert [i.id for i in item_store.known(db.conn, candidates, NOW).take(candidates)] == ["d"]


def test_dry_run_copy_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SqliteStore.open(path).close()
    copy = SqliteStore.open(path, memory_copy=True)
    with copy.tx() as conn:
        item_store.insert(conn, _item("z", "https://x.com/z", "Z"), None, "nomatch", None)
    copy.close()
    assert SqliteStore.open(path).read("SELECT COUNT(*) FROM items")[0][0] == 0
