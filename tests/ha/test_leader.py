"""Leadership on a real PostgreSQL: one leader, takeover when its lease lapses or is given
up, and the fence: a leader that was paused past its lease commits nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from bot.clock import SYSTEM_CLOCK, Clock, FakeClock
from bot.runtime.leader import LeaseLeader
from bot.slack.blocks import Message
from bot.store import FencedError, open_store, outbox
from bot.store.postgres import PostgresStore

pytestmark = pytest.mark.slow  # timing: leases lapse and renew in real seconds

NOW = datetime(2026, 1, 28, 12, 0, tzinfo=UTC)
FAILOVER = 3.0  # lease time to live 2 s


@pytest.fixture
def url(pg_url: str) -> str:
    open_store(pg_url, "unused").close()  # migrated
    return pg_url


@pytest.fixture
def leaders(url: str) -> Iterator[Callable[[str, float, Clock], LeaseLeader]]:
    made: list[LeaseLeader] = []

    def make(name: str, failover: float, clock: Clock) -> LeaseLeader:
        made.append(LeaseLeader(url, name, failover, clock))
        return made[-1]

    yield make
    for leader in made:
        leader.close()


Make = Callable[[str, float, Clock], LeaseLeader]


@pytest.fixture
def stores(url: str) -> Iterator[tuple[PostgresStore, PostgresStore]]:
    a, b = PostgresStore.open(url, name="a"), PostgresStore.open(url, name="b")
    yield a, b
    a.close()
    b.close()


def _keys(store: PostgresStore) -> list[str]:
    return [r[0] for r in store.read("SELECT key FROM outbox ORDER BY id")]


def test_one_leads_the_other_waits_then_takes_over_a_lapsed_lease(
        leaders: Make, stores: tuple[PostgresStore, PostgresStore]) -> None:
    frozen = FakeClock()  # a paused process: its own view of time says the lease still holds
    a = leaders("a", FAILOVER, frozen)
    b = leaders("b", FAILOVER, SYSTEM_CLOCK)
    db_a, db_b = stores
    db_a.set_fence(a)
    db_b.set_fence(b)
    a.tick()
    b.tick()
    assert a.term == 1 and a.may_act() and b.term is None and b.leader_name == "a"
    with db_a.tx() as conn:
        outbox.enqueue(conn, "from-a", "#c", outbox.Kind.ALERT, Message("m"), NOW)
    with pytest.raises(FencedError), db_b.tx() as conn:  # a standby writes nothing
        outbox.enqueue(conn, "from-b", "#c", outbox.Kind.ALERT, Message("m"), NOW)

    deadline = time.monotonic() + 10
    while b.term is None and time.monotonic() < deadline:  # a stops renewing: paused
        time.sleep(0.2)
        b.tick()
    assert b.term == 2 and b.leader_name == "b"
    assert a.may_act()  # a's own clock has not moved: only the database can stop it
    with pytest.raises(FencedError), db_a.tx() as conn:
        outbox.enqueue(conn, "late-a", "#c", outbox.Kind.ALERT, Message("m"), NOW)
    with db_b.tx() as conn:
        outbox.enqueue(conn, "from-b2", "#c", outbox.Kind.ALERT, Message("m"), NOW)
    assert _keys(db_a) == ["from-a", "from-b2"]

    frozen.advance(FAILOVER)  # a wakes up: its renewal finds the lease taken
    a.tick()
    assert a.term is None and a.leader_name == "b"


def test_a_leader_stops_acting_when_it_cannot_renew_in_time(
        leaders: Make) -> None:
    clock = FakeClock()
    a = leaders("a", FAILOVER, clock)
    a.tick()
    assert a.may_act()
    clock.advance(a.ttl - a.margin)  # no renewal got through since
    assert not a.may_act() and a.term is None


def test_a_clean_stop_hands_over_at_once(
        leaders: Make) -> None:
    a = leaders("a", 60.0, SYSTEM_CLOCK)
    b = leaders("b", 60.0, SYSTEM_CLOCK)
    a.tick()
    b.tick()
    assert a.may_act() and not b.may_act()
    a.release()
    b.tick()
    assert b.term == 2 and not a.may_act()


def test_a_takeover_waits_for_the_old_leaders_write_in_progress(
        leaders: Make, stores: tuple[PostgresStore, PostgresStore]) -> None:
    """The write that began under term 1 commits before term 2 starts; none after it."""
    frozen = FakeClock()
    a = leaders("a", FAILOVER, frozen)
    b = leaders("b", FAILOVER, SYSTEM_CLOCK)
    db_a, _ = stores
    db_a.set_fence(a)
    a.tick()
    inside, release = threading.Event(), threading.Event()

    def slow_write() -> None:
        with db_a.tx() as conn:
            outbox.enqueue(conn, "slow", "#c", outbox.Kind.ALERT, Message("m"), NOW)
            inside.set()
            release.wait(10)

    writer = threading.Thread(target=slow_write)
    time.sleep(a.ttl + 0.2)  # the lease lapses (a is paused)...
    writer.start()  # ...but a, not knowing, starts a write
    assert inside.wait(5)
    threading.Timer(0.5, release.set).start()
    started = time.monotonic()
    b.tick()  # waits for the write in progress, then takes over
    writer.join()
    assert b.term == 2 and time.monotonic() - started >= 0.4
    assert _keys(db_a) == ["slow"]
    with pytest.raises(FencedError), db_a.tx() as conn:
        outbox.enqueue(conn, "after", "#c", outbox.Kind.ALERT, Message("m"), NOW)
