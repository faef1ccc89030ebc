"""PostgreSQL stopped and started again under two replicas, on loopback: a server of the
test's own, stopped as an operator's restart does (`pg_ctl stop`, fast: sessions ended, open
transactions rolled back) and started again on the same data directory, at the moments that
matter:

- while a batch's transaction is being written: the test holds a lock on `items`, waits until
  the bot's `INSERT INTO items` waits on it (its stories are assigned, its outbox rows about
  to be queued), then stops the server, so the batch is rolled back;
- while a post awaits Slack's answer (Slack took it; the sender's mark-sent cannot commit).

Both replicas start together on an empty database (the first migration is serialised:
neither exits). Feeds publish all along; a mirror brings the same titles (thread replies).
While the server is down every replica answers /healthz 503 `database_unavailable` and
`chipwatch health` exits 1 saying so; after it returns one replica leads again within
`ha.failover` (plus the standby's one-second try), and at the end every item's alert or reply
is in Slack exactly once in each channel it routes to, in outbox order per channel.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import psycopg
import pytest

from tests.conftest import slack_env
from tests.support.fake_slack import FakeSlack, Fault
from tests.support.feed_server import FeedServer
from tests.support.figures import FIGURES
from tests.support.pgbots import Bots, healthz, leader_after
from tests.support.pgctl import OwnServer, own_server
from tests.support.pgdelivery import bot_config, delivered, growing_feeds, wait_settled
from tests.support.pgmoments import batch_writing, cut_waiting, mark_sent_waiting
from tests.support.util import wait_for

pytestmark = pytest.mark.slow
FAILOVER = 6.0  # a short outage keeps the lead: the same lead must recover
PER_FEED = 60
GROW_EVERY = 1.0


def _says_unavailable(port: int) -> bool:
    return healthz(port)[1].get("database") == "unavailable"


def _healthy(port: int) -> bool:
    return healthz(port)[0] == 200


def _lead_after_start(direct: str) -> float:
    """Seconds from the server's start to the current lease's taking, on the server's clock
    (negative: the lead was kept across the restart)."""
    with psycopg.connect(direct, autocommit=True) as conn:
        row = conn.execute("SELECT EXTRACT(EPOCH FROM acquired - pg_postmaster_start_time()) "
                           "FROM leader WHERE id = 1").fetchone()
    assert row is not None
    return float(row[0])


@pytest.fixture
def server() -> Iterator[OwnServer]:
    with own_server() as own:
        yield own


def test_database_restarts_lose_nothing(tmp_path: Path, fake_slack: FakeSlack,
                                        server: OwnServer) -> None:
    direct = server.database("cw")
    feeds = growing_feeds(PER_FEED, GROW_EVERY)
    # Every post is held a moment after Slack took it: the window a stop must land in.
    fake_slack.state.sticky.append(Fault(method="chat.postMessage", slow_answer=0.2))
    returns: list[float] = []
    hit: list[str] = []
    cut: list[int] = []
    with FeedServer(latency=0.02) as feed_server:
        config = bot_config(feed_server, feeds, fake_slack, direct)
        bots = Bots(tmp_path, config, slack_env(fake_slack), FAILOVER)
        try:
            assert leader_after(direct, 0, 60), "no replica took the lead"

            def outage(label: str, at_the_moment: Callable[[], Callable[[], None]],
                       long: bool) -> None:
                """Stop the server at the moment `at_the_moment` waits for, check what
                operators see, start it again (a `long` outage: once no replica leads any
                more, so the lead is taken anew) and time the new lead."""
                release = at_the_moment()
                server.stop()
                with contextlib.suppress(psycopg.Error):
                    release()
                hit.append(label)
                for name, port in bots.ports.items():
                    assert wait_for(partial(_says_unavailable, port), 30), (label, name,
                                                                             healthz(port))
                    assert healthz(port)[0] == 503, (label, name, healthz(port))
                if long:
                    assert wait_for(lambda: all(healthz(p)[1].get("role") == "standby"
                                                for p in bots.ports.values()), 30), label
                if len(hit) == 1:  # the command line says so too (once: it is slow)
                    cli = bots.health_cli("a")
                    assert cli.returncode == 1 and "database unavailable" in cli.stdout, \
                        cli.stdout
                server.start()
                assert wait_for(lambda: bots.leading() is not None, 10 * FAILOVER, 0.05), label
                returns.append(_lead_after_start(direct))
                for port in bots.ports.values():
                    assert wait_for(partial(_healthy, port), 30), (label, healthz(port))

            def post_waiting() -> Callable[[], None]:
                assert wait_for(lambda: fake_slack.state.answering > 0, 30, 0.002)
                return lambda: None

            def mark_sent() -> Callable[[], None]:
                return mark_sent_waiting(direct, fake_slack)

            for long in (False, True):
                outage("stop mid-batch", lambda: batch_writing(direct), long)
                outage("stop while a post's mark-sent waits", mark_sent, long)
                outage("stop while a post awaits Slack", post_waiting, long)
                release = mark_sent_waiting(direct, fake_slack)
                cut.append(cut_waiting(direct))  # a connection cut, the server up
                release()
                release = batch_writing(direct)
                cut.append(cut_waiting(direct))
                release()

            wait_settled(direct, feeds)
        finally:
            exited = bots.exited()
            bots.stop()
    got = delivered(direct, fake_slack, bots.log)
    FIGURES.setdefault("database restarts (2 replicas, PostgreSQL)", {}).update({
        "disruptions": (hit,), "lead taken after start (s)": tuple(f"{r:.2f}" for r in returns),
        "messages posted": (sum(got.keys.values()),), "unposted": (len(got.unposted),),
        "duplicates": (len(got.dupes),)})
    assert not exited, (exited, got.log[-3000:])
    got.check(PER_FEED * len(feeds), replies_at_least=PER_FEED)  # threads were used
    assert "database_unavailable" in got.log
    assert all(cut), cut  # every cut ended a waiting session
    # The windows were hit: batches rolled back, and a sender's record of a post failed.
    assert "batch_failed" in got.log and "sender_store_failed" in got.log
    # A lead is taken within ha.failover of the server's return (the server's own clock).
    assert max(returns) <= FAILOVER, returns
