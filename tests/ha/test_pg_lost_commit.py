"""A commit whose answer is lost, on a real PostgreSQL, under two replicas: a wire proxy
between the replicas and the server (`tests/support/pgproxy.py`) lets a transaction's COMMIT
reach the server, which commits, and cuts the connection before its answer reaches the bot
(which therefore believes the transaction failed), at the moments that matter:

- the first migration (both replicas start together on an empty database) and the first
  lease takeover (a replica holds the lead without knowing it, until the lease lapses);
- an ingest batch's commit (its items recorded, their alerts and replies queued);
- the sender's mark-in-flight (before the post) and its mark-sent (after Slack took it);

and, for comparison, cuts the connection before the COMMIT reaches the server (rolled back)
of an ingest batch and of a mark-sent. Feeds publish all along; a mirror brings the same
titles (thread replies). At the end no replica exited, and every item's alert or reply is in
Slack exactly once in each channel it routes to, in outbox order per channel; an item and its
mirror's copy share a story, and every alerting item is a member of a story in the store (the
story engine's memory followed the store).
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.conftest import slack_env
from tests.support import postgres
from tests.support.fake_slack import FakeSlack
from tests.support.feed_server import FeedServer
from tests.support.figures import FIGURES
from tests.support.pgbots import Bots
from tests.support.pgdelivery import bot_config, delivered, growing_feeds, wait_settled
from tests.support.pgproxy import PgProxy, Trap, text_param
from tests.support.util import wait_for

pytestmark = pytest.mark.slow
FAILOVER = 6.0
PER_FEED = 60  # a minute of publishing: every moment comes while feeds still grow
GROW_EVERY = 1.0
MIGRATION = (b"CREATE TABLE IF NOT EXISTS schema_version",)
TAKEOVER = (b"UPDATE leader SET term = term + 1",)
BATCH = (b"INSERT INTO outbox",)
MARK = b"UPDATE outbox SET state"
IN_FLIGHT = (MARK, text_param("inflight"))
SENT = (MARK, text_param("sent"))
# In order, once the lead is taken: (label, what the transaction ran, answer lost or cut).
MOMENTS = [("batch, answer lost", BATCH, True), ("mark in flight, answer lost", IN_FLIGHT, True),
           ("mark sent, answer lost", SENT, True), ("batch, cut before commit", BATCH, False),
           ("mark sent, cut before commit", SENT, False), ("batch, answer lost", BATCH, True),
           ("mark sent, answer lost", SENT, True)]


def _stories(direct: str) -> tuple[dict[str, str], list[str]]:
    """Each item's story, by the item's link; and the alerting items that are no member of
    any story in the store (the story engine's memory held what the store did not)."""
    with psycopg.connect(direct, autocommit=True) as watch:
        stories = dict(watch.execute("SELECT link, story_id FROM items").fetchall())
        loose = watch.execute("SELECT id FROM items i WHERE status = 'alert' AND NOT EXISTS "
                              "(SELECT 1 FROM story_items s WHERE s.item_id = i.id)").fetchall()
    return stories, sorted(r[0] for r in loose)


def test_commits_whose_answer_is_lost_lose_nothing(tmp_path: Path, fake_slack: FakeSlack,
                                                   pg_server: str) -> None:
    direct = postgres.new_database(pg_server, "lost")
    proxy = PgProxy(direct)
    feeds = growing_feeds(PER_FEED, GROW_EVERY)
    fired: list[tuple[str, Trap]] = []
    with FeedServer(latency=0.02) as feed_server:
        config = bot_config(feed_server, feeds, fake_slack, proxy.url())
        # Armed before either replica starts.
        first = [("migration, answer lost", proxy.arm(Trap(MIGRATION))),
                 ("lease takeover, answer lost", proxy.arm(Trap(TAKEOVER)))]
        bots = Bots(tmp_path, config, slack_env(fake_slack), FAILOVER)
        try:
            for label, trap in first:
                assert trap.fired.wait(60), f"never came: {label}"
                fired.append((label, trap))
            # The holder does not know it leads: the lease lapses, then a lead is taken.
            assert wait_for(lambda: bots.leading() is not None, 10 * FAILOVER, 0.05)
            for label, needles, lost in MOMENTS:
                trap = proxy.arm(Trap(needles, lost=lost))
                assert trap.fired.wait(60), f"never came: {label}"
                fired.append((label, trap))
            assert wait_settled(direct, feeds), "not everything was recorded and sent"
        finally:
            exited = bots.exited()
            bots.stop()
            proxy.close()
    got = delivered(direct, fake_slack, bots.log)
    stories, loose = _stories(direct)
    FIGURES.setdefault("commits whose answer is lost (2 replicas, PostgreSQL)", {}).update({
        "moments hit": (len(fired),), "messages posted": (sum(got.keys.values()),),
        "unposted": (len(got.unposted),), "duplicates": (len(got.dupes),)})
    assert not exited, (exited, got.log[-3000:])
    # The server committed every transaction whose answer was lost.
    assert [t.answer for _, t in fired if t.lost] == ["COMMIT"] * sum(t.lost for _, t in fired)
    got.check(PER_FEED * len(feeds), replies_at_least=PER_FEED)
    mirrored = [(stories[f"https://wire.example.com/{n}"],
                 stories[f"https://wire-mirror.example.com/{n}"]) for n in range(PER_FEED)]
    assert all(a == b for a, b in mirrored), [m for m in mirrored if m[0] != m[1]][:5]
    assert not loose, loose[:5]
    # The bot said so: a migration looked at again, batches and sender's records it
    # believed failed.
    assert "migration_connection_lost" in got.log
    assert "batch_failed" in got.log and "sender_store_failed" in got.log
