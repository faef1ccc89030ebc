"""Two replicas on one PostgreSQL, fed by growing feeds, and what they delivered: the feeds
and config the database-fault tests share (a restart, a commit whose answer is lost), the
wait until everything published was recorded and sent, and the one check that every item's
alert or reply is in Slack exactly once in each channel it routes to, in outbox order."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from tests.conftest import TEST_RULES
from tests.support.fake_slack import FakeSlack
from tests.support.feed_server import FeedServer
from tests.support.util import GrowingFeed, wait_for

CHANNELS = ("#chip-alerts", "#policy", "#chip-firehose")


def headlines(name: str, site: str, count: int) -> list[dict[str, str]]:
    """`count` items of feed `name`; a mirror of the same `site` repeats the titles (its
    items become thread replies)."""
    return [{"title": (f"China approves H200 imports for {site} buyer {n}" if n % 3
                       else f"US adds {site} firm {n} to entity list over chip exports"),
             "link": f"https://{name}.example.com/{n}", "guid": f"{name}-{n}"}
            for n in range(count)]


def routes(title: str) -> set[str]:
    """The channels TEST_RULES' routes send an item of `title` to."""
    return ({"#chip-alerts", "#chip-firehose"} if title.startswith("China")
            else {"#policy", "#chip-firehose"})


def growing_feeds(per_feed: int, grow_every: float) -> list[GrowingFeed]:
    """Two sites' feeds and a mirror of the first."""
    return [GrowingFeed(n, headlines(n, s, per_feed), grow_every) for n, s in
            (("wire", "wire"), ("desk", "desk"), ("wire-mirror", "wire"))]


def bot_config(feed_server: FeedServer, feeds: list[GrowingFeed], slack: FakeSlack,
               database: str) -> dict[str, Any]:
    """The replicas' config: `feeds` served by `feed_server`, polled every second."""
    for f in feeds:
        feed_server.serve(f"/{f.name}.rss", b"", behaviour=f.behaviour)
    return {"feeds": [{"name": f.name, "url": feed_server.url(f"/{f.name}.rss")}
                      for f in feeds],
            "slack_url": slack.base_url, "database": database,
            "defaults": {"interval": "1s", "max_age": "3650d", "jitter": "0s"},
            "rules": TEST_RULES["rules"]}


def _settled(direct: str, feeds: list[GrowingFeed]) -> bool:
    with psycopg.connect(direct, autocommit=True) as watch:
        left = watch.execute("SELECT COUNT(*) FROM outbox WHERE state != 'sent'").fetchone()
        items = watch.execute("SELECT COUNT(*) FROM items").fetchone()
    return (all(f.visible() == len(f.items) for f in feeds) and left is not None
            and left[0] == 0 and items is not None
            and items[0] == sum(len(f.items) for f in feeds))


def wait_settled(direct: str, feeds: list[GrowingFeed], limit: float = 150) -> bool:
    """Wait until every feed shows all its items, each is recorded and every outbox row is
    sent, and it stays so for a few seconds (nothing late comes in)."""
    return wait_for(lambda: wait_for(lambda: _settled(direct, feeds), 1, 0.2) and not wait_for(
        lambda: not _settled(direct, feeds), 3, 0.3), limit, 0.1)


@dataclass
class Delivered:
    """The state's outbox rows and items, and Slack's messages by our outbox key."""

    rows: list[Any]  # key, channel, state, kind, item_id, error; in outbox order
    items: list[Any]  # id, title, status
    log: str
    keys: Counter[str] = field(default_factory=Counter)  # times each key is in Slack
    order: dict[str, list[str]] = field(default_factory=dict)  # channel: keys, by ts

    @property
    def unposted(self) -> list[tuple[str, str, str]]:
        """(item, title, channel) of every item's route with no alert or reply in Slack."""
        posted_for = {(item, channel) for key, channel, _, kind, item, _ in self.rows
                      if kind in ("alert", "reply") and key in self.keys}
        return sorted((i, t, c) for i, t, _ in self.items for c in routes(t)
                      if (i, c) not in posted_for)

    @property
    def dupes(self) -> list[str]:
        return sorted(k for k, n in self.keys.items() if n > 1)

    @property
    def dead(self) -> list[Any]:
        return [r for r in self.rows if r[2] == "dead"]

    def check(self, expected_items: int, replies_at_least: int) -> None:
        """Every item recorded as an alert and posted, once, in each channel it routes to,
        in outbox order per channel; nothing dead, nothing left unsent, no traceback."""
        items, rows, keys = self.items, self.rows, self.keys
        assert len(items) == expected_items, len(items)
        assert {s for *_, s in items} == {"alert"}, Counter(s for *_, s in items)
        assert not self.dead, self.dead[:5]
        assert not self.unposted, (len(self.unposted), self.unposted[:5])
        posts = {k for k, *_ in rows if not k.startswith("update|")}
        assert not sorted(posts - set(keys)), sorted(posts - set(keys))[:5]
        assert not self.dupes, self.dupes[:5]
        assert {r[2] for r in rows} == {"sent"}, [r for r in rows if r[2] != "sent"][:5]
        ids = {k: i for i, (k, *_) in enumerate(rows)}
        for channel, posted in self.order.items():
            assert [ids[k] for k in posted] == sorted(ids[k] for k in posted), channel
        assert sum(1 for k in keys if k.startswith("reply|")) >= replies_at_least
        log = self.log
        assert "Traceback" not in log, log[log.index("Traceback") - 600:][:5000]


def delivered(direct: str, slack: FakeSlack, log: Path) -> Delivered:
    """What the state and Slack hold now."""
    with psycopg.connect(direct, autocommit=True) as watch:
        rows = watch.execute("SELECT key, channel, state, kind, item_id, error FROM outbox "
                             "ORDER BY id").fetchall()
        items = watch.execute("SELECT id, title, status FROM items").fetchall()
    out = Delivered(rows, items, log.read_text(errors="replace"))
    with slack.state.lock:
        for channel in CHANNELS:
            msgs = slack.state.messages.get(slack.state.channel_id(channel), [])
            for m in sorted(msgs, key=lambda m: float(m["ts"])):
                key = m["metadata"]["event_payload"]["key"]
                out.keys[key] += 1
                out.order.setdefault(channel, []).append(key)
    return out
