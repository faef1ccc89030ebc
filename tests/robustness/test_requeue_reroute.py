"""Dead letters follow a fixed route: routed to a channel that does not exist, the route
corrected, `outbox requeue --reroute` (or `--to CHANNEL`) sends them where the team now
wants them — parent first, replies in its thread there — says what it did, and posts
nothing twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FEEDS, TEST_RULES, run_cli, slack_env, write_config
from tests.support.fake_slack import FakeSlack, Fault
from tests.support.feed_server import FeedServer
from tests.support.util import rss

pytestmark = pytest.mark.slow  # subprocess runs of `run --once` against loopback Slack and feeds

WRONG, RIGHT = "#does-not-exist", "#chip-alerts"
SECOND_REPORT = {"title": "China approves first imports of Nvidia H200 AI chips - Reuters",
                 "link": "https://wire.example.com/h200-imports"}


def _routes(channel: str) -> list[dict[str, Any]]:
    return [{**r, "channel": channel} if r["channel"] == RIGHT else r
            for r in TEST_RULES["routes"]]


def _dead_in_wrong_channel(tmp_path: Path, feed_server: FeedServer, slack: FakeSlack,
                           database: str | None = None) -> tuple[list[dict[str, str]], Path]:
    """A run whose nvidia route names a channel Slack does not have: its alerts die there
    (the rest of the routes deliver)."""
    feeds = [{"name": "chip", "url": feed_server.serve(
                 "/chip.rss", (FEEDS / "chip-news.rss").read_bytes())},
             {"name": "wire", "url": feed_server.serve("/wire.rss", rss([SECOND_REPORT]))}]
    config = write_config(tmp_path, feeds, slack.base_url, routes=_routes(WRONG),
                          database=database)
    slack.state.sticky.append(Fault(error="channel_not_found", channel=WRONG))
    first = run_cli("run", "--once", "--config", str(config), env=slack_env(slack))
    assert first.returncode == 1 and "dead_letters=" in first.stderr
    assert not slack.state.messages.get(slack.state.channel_id(WRONG))
    return feeds, config


def _posted(slack: FakeSlack) -> int:
    return sum(1 for c in slack.state.calls if c[0] == "chat.postMessage")


def test_reroute_sends_dead_letters_where_the_corrected_route_goes(
        tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack,
        backend: str | None) -> None:
    feeds, config = _dead_in_wrong_channel(tmp_path, feed_server, fake_slack, backend)
    firehose = [m["ts"] for m in fake_slack.state.top_level("#chip-firehose")]
    team = {"channel": "#chip-team", "tags": ["h200"], "continue": True}
    alerts, *rest = _routes(RIGHT)
    write_config(tmp_path, feeds, fake_slack.base_url, routes=[alerts, team, *rest],
                 database=backend)  # the fix, and a team channel that wants them too
    assert run_cli("check", "--config", str(config)).returncode == 0

    out = run_cli("outbox", "requeue", "--reroute", "--config", str(config))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("requeued 4 dead letters;"), out.stdout
    assert lines[1:] == [f"  4 moved {WRONG} -> {RIGHT}",  # two parents, a reply, an update
                         f"  4 also queued for #chip-team (from {WRONG})"]

    posts = _posted(fake_slack)
    again = run_cli("run", "--once", "--config", str(config), env=slack_env(fake_slack))
    assert again.returncode == 0, again.stderr
    parents = fake_slack.state.top_level(RIGHT)
    assert len(parents) == 2 and _posted(fake_slack) == posts + 6  # 2 x (2 parents, 1 reply)
    for channel in (RIGHT, "#chip-team"):
        h200 = next(p for p in fake_slack.state.top_level(channel) if "H200" in p["text"])
        reply, = fake_slack.state.replies(channel, h200["ts"])  # the other report, threaded
        assert {"wire.example" in str(m["blocks"]) for m in (h200, reply)} == {True, False}
    assert not fake_slack.state.messages.get(fake_slack.state.channel_id(WRONG))
    assert [m["ts"] for m in fake_slack.state.top_level("#chip-firehose")] == firehose
    status = run_cli("status", "--json", "--config", str(config)).stdout
    assert '"dead": 0' in status


def test_to_channel_moves_one_channels_dead_letters_and_never_posts_twice(
        tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack) -> None:
    _, config = _dead_in_wrong_channel(tmp_path, feed_server, fake_slack)
    posts = _posted(fake_slack)

    # The firehose has every story already: nothing goes there twice; all stay dead.
    out = run_cli("outbox", "requeue", "--to", "#chip-firehose", "--from", WRONG,
                  "--config", str(config))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("requeued 0 dead letters;")
    assert out.stdout.splitlines()[1:] == ["  4 left dead: already in #chip-firehose"]

    out = run_cli("outbox", "requeue", "--to", "#chip-team", "--from", WRONG,
                  "--config", str(config))
    assert out.stdout.startswith("requeued 4 dead letters;"), out.stdout
    assert f"  4 moved {WRONG} -> #chip-team" in out.stdout.splitlines()
    again = run_cli("run", "--once", "--config", str(config), env=slack_env(fake_slack))
    assert again.returncode == 0, again.stderr
    assert len(fake_slack.state.top_level("#chip-team")) == 2
    assert _posted(fake_slack) == posts + 3  # two parents and one reply, nothing else


def test_from_needs_dead_letters_to_act_on(tmp_path: Path) -> None:
    config = write_config(tmp_path, [{"name": "f", "url": "http://127.0.0.1:9/f.rss"}])
    out = run_cli("outbox", "requeue", "--from", WRONG, "--config", str(config))
    assert out.returncode == 2 and "--from" in out.stdout
