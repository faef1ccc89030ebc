"""Story threads end to end: one parent per channel, follow-ups in its thread, parent updated."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import run_cli, slack_env, write_config
from tests.support.fake_slack import FakeSlack, validate_blocks
from tests.support.feed_server import FeedServer
from tests.support.util import rss

pytestmark = pytest.mark.slow  # subprocess runs of `run --once`

STORY = [
    ("wire-a", "China approves first imports of Nvidia's H200 AI chips, sources say",
     "https://a.example.com/tech/china-approves-nvidia-h200-imports"),
    ("wire-b", "Beijing clears Nvidia H200 chip imports for three tech giants - report",
     "https://b.example.com/2026/01/28/beijing-clears-nvidia-h200-chip-imports"),
    ("wire-c", "UPDATE 2-China approves imports of Nvidia H200 AI chips | CNBC",
     "https://c.example.com/news/china-approves-imports-nvidia-h200-ai-chips"),
]
T0 = datetime(2026, 1, 28, 10, 0, tzinfo=UTC)
OTHER = ("US adds Chinese chip firms to entity list over export violations",
         "https://c.example.com/news/us-entity-list-chinese-chip-firms")


def test_three_feeds_one_story_threaded(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack, backend: str | None
) -> None:
    feeds = []
    for n, (name, title, url) in enumerate(STORY):
        items = [(title, url)] + ([OTHER] if name == "wire-c" else [])
        entries = [(t, u, T0 + timedelta(hours=i)) for i, (t, u) in enumerate(items)]
        feeds.append({"name": name, "url": feed_server.serve(f"/{name}.rss", rss(entries))})
        config = write_config(tmp_path, feeds, database=backend)
        # One feed more on each run: every run is a restart of the bot.
        done = run_cli("run", "--once", "--config", str(config), env=slack_env(fake_slack))
        assert done.returncode == 0, done.stderr
        assert len([m for m in fake_slack.state.top_level("#chip-alerts")]) == 1, n

    state = fake_slack.state
    for channel in ("#chip-alerts", "#chip-firehose"):
        tops = state.top_level(channel)
        h200 = [m for m in tops if "H200" in m["text"]]
        assert len(h200) == 1, channel
        parent = h200[0]
        replies = state.replies(channel, parent["ts"])
        assert len(replies) == 2
        assert {r["text"].split(":")[0] for r in replies} == {"wire-b", "wire-c"}
        blocks = json.dumps(parent["blocks"], ensure_ascii=False)
        assert "3 sources · latest" in blocks
        assert parent["blocks"][0]["type"] == "header" and "first imports" in blocks
        assert validate_blocks(parent["blocks"]) is None
    firehose = [m["text"] for m in state.top_level("#chip-firehose")]
    assert len(firehose) == 2 and any("entity list" in t for t in firehose)

    assert len(state.top_level("#policy")) == 1
    before = [(c, m["ts"], json.dumps(m["blocks"])) for c, ms in state.messages.items()
              for m in ms]
    assert len(before) == 2 + 4 + 2  # two parents, four replies, entity list in two channels
    again = run_cli("run", "--once", "--config", str(config), env=slack_env(fake_slack))
    assert again.returncode == 0
    after = [(c, m["ts"], json.dumps(m["blocks"])) for c, ms in state.messages.items()
             for m in ms]
    assert after == before  # a restart changes nothing
