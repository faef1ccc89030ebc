"""The store contract: every test here runs on SQLite and on a real PostgreSQL, and both
backends must answer alike (the SQL in bot/store is written once for both)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.dedup import DedupSettings, StoryEngine, StoryInput
from bot.errors import StoreError
from bot.feeds.fetch import FetchResult, Validators
from bot.feeds.response import Outcome
from bot.models import FeedSpec, Item, Match, RuleHit, Severity
from bot.slack.blocks import Message
from bot.store import Store, digests, notices, open_store, outbox, savepoint
from bot.store import feeds as feed_store
from bot.store import items as item_store
from bot.store import stories as story_store
from bot.store.copy import TABLES, copy_state
from bot.store.copy import counts as table_counts
from bot.store.migrations import MIGRATIONS
from bot.store.stories import SqlStoryStore

NOW = datetime(2026, 1, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(backend: str | None, tmp_path: Path) -> Iterator[Store]:
    db = open_store(backend, tmp_path / "state.db")
    yield db
    db.close()


def _item(id_: str, link: str = "", title: str = "T", feed: str = "f",
          when: datetime = NOW) -> Item:
    return Item(id_, feed, title, link, "", when, when, "F")


def _feed(name: str = "f") -> FeedSpec:
    return FeedSpec(name, f"https://x.com/{name}.rss", timedelta(minutes=5),
                    timedelta(days=1), timedelta(0), name)


def test_open_migrates_to_the_latest_version_and_reopens(backend: str | None,
                                                         tmp_path: Path) -> None:
    first = open_store(backend, tmp_path / "state.db")
    assert first.version == len(MIGRATIONS)
    first.close()
    again = open_store(backend, tmp_path / "state.db")
    assert again.version == len(MIGRATIONS)
    assert again.read("SELECT COUNT(*) FROM items")[0][0] == 0
    again.close()


def test_exact_dedup_by_id_link_and_same_feed_title(store: Store) -> None:
    with store.tx() as conn:
        twice = [_item("a", "https://x.com/1", "One"), _item("a", "https://x.com/1", "One")]
        fresh = item_store.known(conn, twice, NOW).take(twice)
        assert len(fresh) == 1
        item_store.insert(conn, fresh[0], None, "nomatch", None)
        item_store.insert(conn, fresh[0], None, "nomatch", None)  # twice: ignored
    candidates = [
        _item("a", "https://x.com/other", "Other"),
        _item("b", "http://X.com/1/?utm_source=rss&fbclid=z", "Two"),
        _item("c", "https://x.com/3", "One"),
        _item("d", "https://x.com/4", "One", feed="g"),
    ]
    with store.reading() as conn:
        assert [i.id for i in item_store.known(conn, candidates, NOW).take(candidates)] == ["d"]
        assert item_store.has_items(conn, "f") and not item_store.has_items(conn, "g")
        rows = item_store.stored_since(conn, NOW - timedelta(hours=1))
    assert [r["id"] for r in rows] == ["a"] and rows[0]["status"] == "nomatch"


def test_items_record_match_and_feed_times(store: Store) -> None:
    m = Match((RuleHit("r1", ()), RuleHit("r2", ())), frozenset({"b", "a"}), Severity.HIGH)
    with store.tx() as conn:
        for i in range(3):
            item_store.insert(conn, _item(f"i{i}", f"https://x.com/{i}", f"T{i}",
                                          when=NOW - timedelta(hours=i)), m, "alert", "s")
    with store.reading() as conn:
        times = item_store.feed_times(conn, "f", 2)
    assert times == [NOW, NOW - timedelta(hours=1)]
    row = store.read("SELECT rules, tags, severity, story_id FROM items WHERE id = 'i0'")[0]
    assert (row["rules"], row["tags"], row["severity"], row["story_id"]) == (
        '["r1", "r2"]', '["a", "b"]', int(Severity.HIGH), "s")


def test_feed_state_moves_with_each_fetch(store: Store) -> None:
    feed = _feed()
    ok = FetchResult(feed, Outcome.OK, NOW, status=200, validators=Validators('"e1"', "lm"))
    with store.tx() as conn:
        assert feed_store.load_state(conn, "f").errors == 0
        feed_store.record_fetch(conn, ok, NOW + timedelta(minutes=5), 3, None)
    fail = FetchResult(feed, Outcome.ERROR, NOW + timedelta(minutes=5), error="boom")
    with store.tx() as conn:
        feed_store.record_fetch(conn, fail, NOW + timedelta(minutes=10), 0, "boom")
    with store.reading() as conn:
        state = feed_store.load_state(conn, "f")
        assert feed_store.load_states(conn)["f"] == state
        assert feed_store.last_successes(conn) == {"f": NOW}
        assert feed_store.last_success(conn, "f") == NOW
        assert feed_store.last_success(conn, "nope") is None
        row = feed_store.all_rows(conn)[0]
    assert state.validators == Validators('"e1"', "lm")  # kept: the failure moved nothing
    assert state.errors == 1 and state.failing_since == NOW + timedelta(minutes=5)
    assert state.next_due == NOW + timedelta(minutes=10) and not state.gone
    assert row["items_total"] == 3 and row["last_error"] == "boom"


def test_a_feed_first_seen_failing_and_several_fetches_in_one_statement(store: Store) -> None:
    first = FetchResult(_feed("new"), Outcome.ERROR, NOW, status=500, error="boom")
    later = NOW + timedelta(minutes=5)
    with store.tx() as conn:
        feed_store.record_fetch(conn, first, later, 0, "boom")
    with store.reading() as conn:
        state = feed_store.load_state(conn, "new")
    assert (state.errors, state.failing_since, state.last_success) == (1, NOW, None)
    fetches = [feed_store.Fetch(FetchResult(_feed(name), Outcome.OK, later, status=200,
                                            validators=Validators(f'"{name}"', None)),
                                later + timedelta(minutes=5), 2, None)
               for name in ("new", "other")]
    with store.tx() as conn:
        feed_store.record_fetches(conn, fetches)
    with store.reading() as conn:
        states = feed_store.load_states(conn)
        rows = {r["name"]: r for r in feed_store.all_rows(conn)}
    assert states["new"].errors == 0 and states["new"].failing_since is None
    assert states["other"].validators == Validators('"other"', None)
    assert {n: (r["items_total"], r["last_new_item"]) for n, r in rows.items()} == {
        "new": (2, later.isoformat()), "other": (2, later.isoformat())}


def test_outbox_enqueue_is_idempotent_and_pending_keeps_order(store: Store) -> None:
    with store.tx() as conn:
        first = outbox.enqueue(conn, "alert|s|#a", "#a", "alert", Message("parent"), NOW, "s")
        assert first is not None
        assert outbox.enqueue(conn, "alert|s|#a", "#a", "alert", Message("x"), NOW, "s") is None
        outbox.set_parent(conn, "s", "#a", first)
        second = outbox.enqueue(conn, "reply|i|#a", "#a", "reply", Message("reply"), NOW, "s",
                                "i")
        assert second is not None and second > first
    with store.reading() as conn:
        pending = outbox.pending(conn)
        parent = outbox.parent(conn, "s", "#a")
    assert [(r.key, r.thread_ts) for r, _ in pending] == [("alert|s|#a", None),
                                                          ("reply|i|#a", None)]
    assert parent is not None and parent.id == first and parent.message.text == "parent"
    with store.tx() as conn:
        outbox.mark(conn, first, "inflight", now=NOW, next_attempt=NOW)
    with store.reading() as conn:
        assert [r.id for r, _ in outbox.inflight(conn)] == [first]
    later = NOW + timedelta(seconds=5)
    with store.tx() as conn:
        outbox.mark(conn, first, "sent", now=later, ts="1.0001", channel_id="CA")
    with store.reading() as conn:
        (reply, _), = outbox.pending(conn)
        assert reply.thread_ts == "1.0001"  # a reply carries its sent parent's ts
        assert outbox.parent_channel_id(conn, reply) == "CA"
        assert outbox.known_channel_id(conn, "#a") == "CA"
        assert outbox.counts(conn) == {"sent": 1, "pending": 1}
        assert outbox.last_sent(conn) == {"#a": later}
        assert outbox.oldest_pending(conn) == NOW.isoformat()


def test_outbox_retries_dead_letters_and_due_times(store: Store) -> None:
    with store.tx() as conn:
        row = outbox.enqueue(conn, "k", "#a", "alert", Message("m"), NOW)
        assert row is not None
        outbox.mark(conn, row, "pending", now=NOW, error="slow",
                    next_attempt=NOW + timedelta(hours=1))
    with store.reading() as conn:
        (got, due), = outbox.pending(conn)
    assert got.attempts == 1 and got.error == "slow" and due == NOW + timedelta(hours=1)
    with store.tx() as conn:
        outbox.all_due(conn, NOW)
        assert outbox.pending(conn)[0][1] == NOW
        outbox.mark(conn, row, "dead", now=NOW, error="channel_not_found")
    with store.reading() as conn:
        dead = outbox.dead_rows(conn, 10)
    assert [(d["key"], d["error"], d["attempts"]) for d in dead] == [
        ("k", "channel_not_found", 2)]


def test_threads_are_adopted_only_where_the_winner_has_none(store: Store) -> None:
    with store.tx() as conn:
        for story, channel in (("win", "#a"), ("lose", "#a"), ("lose", "#b")):
            row = outbox.enqueue(conn, f"alert|{story}|{channel}", channel, "alert",
                                 Message(story), NOW, story)
            assert row is not None
            outbox.set_parent(conn, story, channel, row)
        outbox.adopt_threads(conn, "win", ("lose",))
        a, b = outbox.parent(conn, "win", "#a"), outbox.parent(conn, "win", "#b")
        assert outbox.alerted_channels(conn) == {"win": {"#a"}, "lose": {"#a", "#b"}}
    assert a is not None and a.message.text == "win"
    assert b is not None and b.message.text == "lose"


def test_digest_entries_wait_then_are_stamped(store: Store) -> None:
    with store.tx() as conn:
        for i, ch in enumerate(("#d", "#d", "#e")):
            args = (f"s{i}", f"i{i}", "T", "L", "S", 3, "[]", NOW.isoformat())
            digests.add(conn, ch, *args, (NOW + timedelta(minutes=i)).isoformat())
            digests.add(conn, ch, *args, NOW.isoformat())  # once per channel and item
        assert sorted(digests.waiting_channels(conn)) == ["#d", "#e"]
        rows = digests.waiting(conn, "#d", (NOW + timedelta(minutes=5)).isoformat())
        assert [r["item_id"] for r in rows] == ["i0", "i1"]
        digests.stamp(conn, "digest|#d|x", [r["id"] for r in rows])
        assert sorted(digests.waiting_channels(conn)) == ["#e"]


def test_feed_notices_open_and_close(store: Store) -> None:
    feed = _feed("f")
    with store.tx() as conn:
        feed_store.record_fetch(conn, FetchResult(feed, Outcome.ERROR, NOW, error="x"),
                                NOW, 0, "x")
        notices.open_notice(conn, "f", "failing", NOW.isoformat(), NOW)
        notices.open_notice(conn, "f", "failing", NOW.isoformat(), NOW)  # again: one row
        notices.open_notice(conn, "f", "silent", NOW.isoformat(), NOW)
        (row,) = notices.feed_health(conn, ["f", "g"])
        assert (row[0], row[1], row[2], row[4]) == ("f", NOW.isoformat(), "x", 1)
        assert notices.open_notices(conn, ["f"]) == {("f", "failing"): NOW.isoformat(),
                                                     ("f", "silent"): NOW.isoformat()}
        notices.close_notice(conn, "f", "silent")
        assert notices.all_open(conn) == {"f": ["failing"]}


def test_story_engine_restarts_on_the_same_state(store: Store) -> None:
    titles = ["US adds 12 Chinese chip firms to entity list",
              "Washington puts 12 Chinese chipmakers on entity list",
              "Dutch government curbs ASML exports to China",
              "US entity list grows by 12 Chinese chip firms"]
    inputs = [StoryInput(f"i{n}", t, f"https://x{n}.com/a", f"src{n}",
                         NOW + timedelta(minutes=n)) for n, t in enumerate(titles)]
    reference = StoryEngine()
    expected = [reference.assign(i) for i in inputs]

    def engine() -> StoryEngine:
        with store.reading():
            return StoryEngine(DedupSettings(), SqlStoryStore(lambda: store.conn))

    first = engine()
    with store.tx():
        got = [first.assign(i) for i in inputs[:2]]
    second = engine()
    with store.tx():
        got += [second.assign(i) for i in inputs[2:]]
    assert got == expected
    with store.reading() as conn:
        assert story_store.counts(conn, timedelta(days=3))["total"] >= 2


def test_a_failed_transaction_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.tx() as conn:
        outbox.enqueue(conn, "k1", "#a", "alert", Message("m"), NOW)
        raise RuntimeError("boom")
    with store.tx() as conn:
        outbox.enqueue(conn, "k2", "#a", "alert", Message("m"), NOW)
        with pytest.raises(RuntimeError), savepoint(conn, "one"):
            outbox.enqueue(conn, "k3", "#a", "alert", Message("m"), NOW)
            raise RuntimeError("only this part")
        outbox.enqueue(conn, "k4", "#a", "alert", Message("m"), NOW)
    assert [r[0] for r in store.read("SELECT key FROM outbox ORDER BY id")] == ["k2", "k4"]


def test_writes_from_threads_are_serialized(store: Store) -> None:
    """Outbox ids follow commit order whichever thread writes, so a channel's order holds."""
    def write(n: int) -> None:
        for i in range(20):
            with store.tx() as conn:
                outbox.enqueue(conn, f"k{n}-{i}", "#a", "alert", Message("m"), NOW)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = store.read("SELECT key FROM outbox ORDER BY id")
    assert len(rows) == 80
    for n in range(4):
        mine = [r[0] for r in rows if r[0].startswith(f"k{n}-")]
        assert mine == [f"k{n}-{i}" for i in range(20)]


def test_copy_moves_every_table_refuses_a_full_target_and_repeats(
        backend: str | None, tmp_path: Path) -> None:
    src = open_store(None, tmp_path / "src.db")
    with src.tx() as conn:
        item_store.insert(conn, _item("a", "https://x.com/1"), None, "nomatch", None)
        row = outbox.enqueue(conn, "alert|s|#a", "#a", "alert", Message("m"), NOW, "s")
        assert row is not None
        outbox.set_parent(conn, "s", "#a", row)
        feed_store.record_fetch(conn, FetchResult(_feed(), Outcome.OK, NOW), NOW, 1, None)
    dst = open_store(backend, tmp_path / "dst.db")
    try:
        copied = copy_state(src, dst)
        assert set(copied) == set(TABLES)
        assert copied["items"] == copied["outbox"] == copied["threads"] == copied["feeds"] == 1
        with pytest.raises(StoreError, match="already holds state"):
            copy_state(src, dst)
        assert copy_state(src, dst, force=True) == copied
        with dst.reading() as conn:
            assert table_counts(conn) == copied
            assert outbox.parent(conn, "s", "#a") is not None
        with dst.tx() as conn:  # new rows take ids after the copied ones
            new = outbox.enqueue(conn, "k2", "#a", "alert", Message("m"), NOW)
        assert new is not None and new > row
    finally:
        dst.close()
        src.close()
