"""Retention (`state.keep`) on SQLite and on a real PostgreSQL: what is old goes, in batches;
what is still in use stays (rows not sent, a live story's parent and items, alerts waiting
for a digest, escalations not posted, mutes in force, each feed's newest items); SQLite gives
the space back; the run is recorded for `status`."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.models import Item, Match, RuleHit, Severity
from bot.runtime import retention
from bot.slack.blocks import Message
from bot.store import Store, digests, open_store, outbox
from bot.store import items as item_store
from bot.store import retention as retention_sql
from bot.store.actions import escalate, log_action, mute_rule, mute_story
from bot.store.base import Conn
from bot.store.outbox import Kind, State
from bot.store.stories import _ts

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
KEEP, UNMATCHED = timedelta(days=90), timedelta(days=30)
OLD, RECENT = NOW - timedelta(days=120), NOW - timedelta(days=5)
MATCH = Match((RuleHit("r", ("t",)),), frozenset({"x"}), Severity.HIGH)


@pytest.fixture
def store(backend: str | None, tmp_path: Path) -> Iterator[Store]:
    db = open_store(backend, tmp_path / "state.db")
    yield db
    db.close()


def _item(conn: Conn, id_: str, when: datetime, story: str | None = None,
          status: str = "alert", feed: str = "f") -> None:
    item = Item(id_, feed, f"Headline {id_}", f"https://x.example/{id_}", "s", when, when, "X")
    item_store.insert(conn, item, MATCH if status != "nomatch" else None, status, story)


def _story(conn: Conn, story: str, first: datetime, last: datetime) -> None:
    conn.execute("INSERT INTO story_stories (id, first_seen, last_seen, size, sources) "
                 "VALUES (?, ?, ?, 1, 1)", (story, _ts(first), _ts(last)))
    conn.execute("INSERT INTO story_items (seq, item_id, story_id, url_key, title_key, source, "
                 "published, features) VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM "
                 "story_items), ?, ?, '', '', 'X', ?, '{}')", (f"{story}-1", story, _ts(first)))


def _post(conn: Conn, key: str, when: datetime, story: str | None, item: str | None,
          state: State = State.SENT, parent: bool = False) -> int:
    row = outbox.enqueue(conn, key, "#c", Kind.ALERT if parent else Kind.REPLY,
                         Message(key, []), when, story, item)
    assert row is not None
    if state is not State.PENDING:
        outbox.mark(conn, row, state, now=when, ts="1.0")
    if parent:
        assert story is not None
        outbox.set_parent(conn, story, "#c", row)
    return row


def _run(store: Store, stop: threading.Event | None = None) -> retention.Report:
    return retention.run(store, KEEP, UNMATCHED, NOW, FakeClock(NOW), stop)


def _ids(store: Store, table: str, column: str = "id") -> set[str]:
    return {str(r[0]) for r in store.read(f"SELECT {column} FROM {table}")}


def test_old_goes_and_what_is_in_use_stays(store: Store) -> None:
    with store.tx() as conn:
        # A closed story: everything of it goes.
        _story(conn, "closed", OLD, OLD)
        _item(conn, "closed-1", OLD, "closed")
        _post(conn, "alert|closed|#c", OLD, "closed", "closed-1", parent=True)
        action = log_action(conn, "env-old", "button:mute_story", "U1", "C1", "1.0", OLD)
        mute_story(conn, "closed", "#c", "U1", action, OLD)
        # A live story begun long ago: its parent, its first item and its mute stay.
        _story(conn, "live", OLD, RECENT)
        _item(conn, "live-1", OLD, "live")
        _post(conn, "alert|live|#c", OLD, "live", "live-1", parent=True)
        action = log_action(conn, "env-live", "button:mute_story", "U1", "C1", "2.0", OLD)
        mute_story(conn, "live", "#c", "U1", action, OLD)
        # A closed story whose escalation is not posted yet: held until it is.
        _story(conn, "escalating", OLD, OLD)
        escalate(conn, "escalating", 5, OLD)
        # Old rows not yet sent, and their items: never taken.
        _item(conn, "waiting", OLD)
        _post(conn, "reply|waiting|#c", OLD, None, "waiting", State.PENDING)
        _item(conn, "flying", OLD)
        _post(conn, "reply|flying|#c", OLD, None, "flying", State.INFLIGHT)
        _item(conn, "dead", OLD)
        _post(conn, "reply|dead|#c", OLD, None, "dead", State.DEAD)
        # An old alert waiting for its digest; an old one already digested and sent.
        _item(conn, "digest-wait", OLD)
        digests.add(conn, "#d", "s1", "digest-wait", "t", "l", "X", 3, "[]",
                    OLD.isoformat(), OLD.isoformat())
        _item(conn, "digest-done", OLD)
        digests.add(conn, "#d", "s2", "digest-done", "t", "l", "X", 3, "[]",
                    OLD.isoformat(), OLD.isoformat())
        conn.execute("UPDATE digest_entries SET digest_key = 'digest|#d|1' WHERE item_id = ?",
                     ("digest-done",))
        _post(conn, "digest|#d|1", OLD, None, None)
        # Rule mutes: one ended long ago, one in force.
        ended = log_action(conn, "env-r1", "button:mute_rule", "U1", "C1", "3.0", OLD)
        mute_rule(conn, "r-ended", OLD + timedelta(days=1), "U1", ended, OLD)
        force = log_action(conn, "env-r2", "command:mute", "U1", "C1", None, OLD)
        mute_rule(conn, "r-force", NOW + timedelta(days=1), "U1", force, OLD)
        # Recent rows stay whatever they are.
        _item(conn, "recent", RECENT)
        _post(conn, "notice|recent", RECENT, None, None)
    report = _run(store)
    assert report.removed["stories"] == 1 and not report.stopped

    assert _ids(store, "story_stories") == {"live", "escalating"}
    assert _ids(store, "story_items", "story_id") == {"live", "escalating"}
    assert _ids(store, "story_mutes", "story_id") == {"live"}
    assert _ids(store, "threads", "story_id") == {"live"}
    assert _ids(store, "items") == {"live-1", "waiting", "flying", "dead", "digest-wait",
                                    "recent"}
    assert _ids(store, "outbox", "key") == {"alert|live|#c", "reply|waiting|#c",
                                            "reply|flying|#c", "reply|dead|#c",
                                            "notice|recent"}
    assert _ids(store, "digest_entries", "item_id") == {"digest-wait"}
    assert _ids(store, "escalations", "story_id") == {"escalating"}
    assert _ids(store, "rule_mutes", "rule_id") == {"r-force"}
    assert _ids(store, "slack_actions", "envelope_id") == {"env-live", "env-r2"}
    with store.reading() as conn:
        last = retention_sql.last_run(conn)
        oldest = retention_sql.oldest(conn)
    assert last is not None and last["removed"] == report.total
    assert last["cutoff"] == (NOW - KEEP).isoformat()
    assert oldest == OLD.isoformat()  # the live story's first item and parent


def test_unmatched_items_go_sooner_but_each_feed_keeps_its_newest(store: Store) -> None:
    day = timedelta(days=1)
    with store.tx() as conn:
        for n in range(60):  # a feed with an item a day, no rule ever fired
            _item(conn, f"busy-{n}", NOW - n * day, status="nomatch", feed="busy")
        for n in range(3):  # a feed that posts rarely: all its items are its newest
            _item(conn, f"rare-{n}", NOW - (80 + n) * day, status="nomatch", feed="rare")
        _item(conn, "fired", NOW - 60 * day, status="old", feed="busy")  # a rule fired
    _run(store)
    left = _ids(store, "items")
    busy = sorted(int(i.split("-")[1]) for i in left if i.startswith("busy-"))
    assert busy == list(range(31))  # newest 31 (the cadence feed health reads)
    assert {f"rare-{n}" for n in range(3)} <= left and "fired" in left


def test_batches_are_small_and_a_stop_ends_the_run_between_them(store: Store) -> None:
    n = retention_sql.BATCH * 2 + 7
    with store.tx() as conn:
        for i in range(n):
            _item(conn, f"i{i}", OLD, status="old", feed=f"f{i % 3}")
    cuts = retention_sql.Cuts(NOW - KEEP, NOW - UNMATCHED)
    with store.tx() as conn:
        assert retention_sql.remove_items(conn, cuts, 100) == 100  # one batch, no more
    stop = threading.Event()
    stop.set()
    assert _run(store, stop).stopped and len(_ids(store, "items")) == n - 100
    report = _run(store)
    assert report.removed["items"] == n - 100 and _ids(store, "items") == set()


def test_sqlite_gives_the_space_back(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = open_store(None, path)
    try:
        with db.tx() as conn:
            for i in range(3000):
                item = Item(f"i{i}", "f", f"Headline {i}", f"https://x.example/{i}", "s" * 2000,
                            OLD, OLD, "X")
                item_store.insert(conn, item, None, "nomatch", None)
        with db.reading() as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        full = path.stat().st_size
        report = _run(db)
        assert report.reclaimed and report.total >= 3000 - retention_sql.FEED_HISTORY
        with db.reading() as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
    finally:
        db.close()
    assert path.stat().st_size < full / 10, (full, path.stat().st_size)
