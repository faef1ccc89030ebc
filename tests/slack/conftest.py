"""A two-way bot on loopback: the real App and slack-sdk SocketModeClient, the fake Web API,
the fake Socket Mode server and a feed server; time from a FakeClock."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.clock import FakeClock
from bot.config import load_config
from tests.conftest import write_config
from tests.support.fake_slack import APP_TOKEN, TOKEN, FakeSlack
from tests.support.fake_socket import FakeSocketMode
from tests.support.feed_server import FeedServer
from tests.support.util import rss, wait_for

NOW = datetime(2026, 1, 28, 12, 0, tzinfo=UTC)
H200 = [("China approves first imports of Nvidia's H200 AI chips, sources say",
         "https://a.example.com/tech/china-approves-nvidia-h200-imports"),
        ("Beijing clears Nvidia H200 chip imports for three tech giants - report",
         "https://b.example.com/2026/01/28/beijing-clears-nvidia-h200-chip-imports"),
        ("UPDATE 2-China approves imports of Nvidia H200 AI chips | CNBC",
         "https://c.example.com/news/china-approves-imports-nvidia-h200-ai-chips")]
ENTITY = ("US adds Chinese chip firms to entity list over export violations",
          "https://d.example.com/news/us-entity-list-chinese-chip-firms")
ADMIN, MEMBER, USER = "UADMIN1", "UGROUPIE", "UREADER1"


@dataclass
class TwoWay:
    """The harness: the wired bot plus the fakes, and a few helpers."""

    tmp: Path
    feeds: FeedServer
    slack: FakeSlack
    socket: FakeSocketMode
    clock: FakeClock
    app: App | None = None
    extra: dict[str, Any] | None = None

    def config(self, entries: dict[str, list[tuple[str, str]]]) -> Path:
        """Feeds named after their source (wire-a…), each with (title, link) entries."""
        feeds = []
        for n, (name, items) in enumerate(sorted(entries.items())):
            docs = [(t, u, NOW - timedelta(minutes=90 - 10 * n - i)) for i, (t, u) in
                    enumerate(items)]
            feeds.append({"name": name, "source": name.upper(),
                          "url": self.feeds.serve(f"/{name}.rss", rss(docs))})
        return write_config(
            self.tmp, feeds, ops_channel="#ops",
            slack={"api_url": self.slack.base_url, "per_channel_interval": "0s",
                   "admins": [ADMIN, "SADMINS"]}, **(self.extra or {}))

    def start(self, entries: dict[str, list[tuple[str, str]]], socket: bool = True) -> App:
        """(Re)start the bot on these feeds: one poll and delivery, then Socket Mode."""
        self.stop()
        path = self.config(entries)
        env = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": self.slack.base_url,
               "SLACK_APP_TOKEN": APP_TOKEN}
        self.app = App.build(load_config(path, lint=False), env=env, clock=self.clock)
        self.app.run_once()
        if socket:
            assert self.app.interactions is not None
            n = len(self.socket.conns)
            self.app.interactions.start(ping_interval=2)
            assert self.socket.wait_connections(n + 1)
        return self.app

    def stop(self) -> None:
        if self.app is not None:
            if self.app.interactions is not None:
                self.app.interactions.close()
            self.app.close()
            self.app = None

    def parent(self, channel: str, needle: str = "H200") -> dict[str, Any]:
        tops = [m for m in self.slack.state.top_level(channel) if needle in m["text"]]
        assert len(tops) == 1, tops
        return tops[0]

    def send(self, kind: str, payload: dict[str, Any], envelope_id: str | None = None,
             retry: int = 0) -> tuple[str, dict[str, Any], float]:
        """Send an envelope and wait for its ack: (id, the ack, seconds it took)."""
        # The baseline is read before sending: the bot may ack before `send` returns.
        before = len(self.socket.ack_for(envelope_id)) if envelope_id else 0
        start = time.monotonic()
        eid = self.socket.send(kind, payload, envelope_id, retry)
        assert wait_for(lambda: len(self.socket.ack_for(eid)) > before, timeout=30), eid
        return eid, self.socket.ack_for(eid)[before], time.monotonic() - start

    def ephemeral(self, n: int) -> list[dict[str, Any]]:
        """The ephemeral answers once there are at least `n`: the bot posts them after the
        ack, so a test waits for them instead of reading them right after it."""
        assert wait_for(lambda: len(self.slack.state.ephemeral) >= n, timeout=30), n
        return list(self.slack.state.ephemeral)

    def deliver(self) -> None:
        """What the sender thread does: drain the outbox (escalations first)."""
        assert self.app is not None
        self.app.escalator.flush()
        self.app.sender.drain(max_wait=0.5)

    def rows(self, sql: str, *params: Any) -> list[Any]:
        assert self.app is not None
        return [tuple(r) for r in self.app.db.read(sql, params)]

    def blocks(self, message: dict[str, Any]) -> str:
        return json.dumps(message["blocks"], ensure_ascii=False)


@pytest.fixture
def two_way(tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack) -> Iterator[TwoWay]:
    with FakeSocketMode() as socket:
        fake_slack.state.socket_url = socket.url
        fake_slack.state.groups["SADMINS"] = [MEMBER]
        harness = TwoWay(tmp_path, feed_server, fake_slack, socket, FakeClock(NOW))
        try:
            yield harness
        finally:
            harness.stop()
