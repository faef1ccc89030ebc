"""End to end on each backend: `chipwatch run --once` against a loopback feed server and a
fake Slack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FEEDS, TOKEN, run_cli, slack_env, write_config
from tests.support.fake_slack import FakeSlack, validate_blocks
from tests.support.feed_server import FeedServer

pytestmark = pytest.mark.slow  # subprocess runs of `run --once` against loopback Slack and feeds


def _serve_all(server: FeedServer) -> list[dict[str, str]]:
    feeds = []
    for name in ("chip-news.rss", "guardian.rss", "heise.atom", "reddit.rss"):
        url = server.serve(f"/{name}", (FEEDS / name).read_bytes())
        feeds.append({"name": name.split(".")[0], "url": url})
    return feeds


def test_run_once_posts_each_match_once_then_nothing(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack, backend: str | None
) -> None:
    config = write_config(tmp_path, _serve_all(feed_server), database=backend)
    first = run_cli("run", "--once", "--config", str(config), env=slack_env(fake_slack))
    assert first.returncode == 0, first.stderr
    state = fake_slack.state

    alerts = [m["text"] for m in state.top_level("#chip-alerts")]
    policy = [m["text"] for m in state.top_level("#policy")]
    firehose = [m["text"] for m in state.top_level("#chip-firehose")]
    assert len(alerts) == 2 and all("H20" in t for t in alerts)  # the story + the hostile one
    assert len(policy) == 1 and "entity list" in policy[0]
    assert len(firehose) == 3
    for channel in state.messages.values():
        for msg in channel:
            assert validate_blocks(msg["blocks"]) is None
            assert msg["metadata"]["event_type"] == "chipwatch_alert"
    h200 = next(m for m in state.top_level("#chip-alerts") if "first imports" in m["text"])
    assert h200["blocks"][0]["type"] == "header"
    context = json.dumps(h200["blocks"])
    assert "#h200" in context and "HIGH" in context
    button = next(b for b in h200["blocks"] if b["type"] == "actions")["elements"][0]
    assert button["url"].startswith("https://news.example.com/2026/01/28/china-h200-imports")
    assert TOKEN not in first.stderr + first.stdout

    second = run_cli("run", "--once", "--config", str(config), env=slack_env(fake_slack))
    assert second.returncode == 0, second.stderr
    posts = [c for c in state.calls if c[0] == "chat.postMessage"]
    assert len(posts) == 6  # nothing new
    assert all(feed_server.not_modified[p] == 1 for p in feed_server.paths)
    assert all(ua.startswith("chipwatch/") for ua in feed_server.user_agents)


def test_feed_text_cannot_ping_or_disguise_links(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack, backend: str | None
) -> None:
    url = feed_server.serve("/chip.rss", (FEEDS / "chip-news.rss").read_bytes())
    config = write_config(tmp_path, [{"name": "chip", "url": url}], database=backend)
    assert run_cli("run", "--once", "--config", str(config),
                   env=slack_env(fake_slack)).returncode == 0
    hostile = next(m for m in fake_slack.state.top_level("#chip-alerts")
                   if "customs" in m["text"])
    payload = json.dumps(hostile)
    for raw in ("<!channel>", "<!here>", "<@U123>", "<http://evil", "\u202e", "javascript:"):
        assert raw not in payload, raw
    assert "Shenzhen customs seize smuggled H20" in hostile["blocks"][0]["text"]["text"]
    assert "&lt;@U123&gt;" in hostile["blocks"][1]["text"]["text"]  # shown, inert
    assert not any(b["type"] == "actions" for b in hostile["blocks"])  # no javascript: button


def test_slack_down_keeps_alerts_for_the_next_run(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack, backend: str | None
) -> None:
    from tests.support.fake_slack import Fault

    url = feed_server.serve("/chip.rss", (FEEDS / "chip-news.rss").read_bytes())
    config = write_config(tmp_path, [{"name": "chip", "url": url}], database=backend)
    fake_slack.state.sticky.append(Fault(status=503, error="service_unavailable"))
    down = run_cli("run", "--once", "--config", str(config), env=slack_env(fake_slack))
    assert down.returncode == 1, down.stderr  # rows remain undelivered: the operator is told
    assert "undelivered=6" in down.stderr
    assert "slack_retry" in down.stderr and not fake_slack.state.messages
    fake_slack.state.sticky.clear()
    # The next run (a restart is a retry point) delivers everything, exactly once.
    up = run_cli("run", "--once", "--config", str(config), env=slack_env(fake_slack))
    assert up.returncode == 0, up.stderr
    posted = [(cid, m["text"]) for cid, ms in fake_slack.state.messages.items() for m in ms]
    assert len(posted) == len(set(posted)) == 6
