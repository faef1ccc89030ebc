"""`chipwatch outbox requeue`: dead letters go out again once their cause is fixed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.clock import SYSTEM_CLOCK
from bot.config import load_config
from bot.deliver import Sender
from bot.slack.blocks import Message
from bot.slack.notifier import SlackNotifier
from bot.store import SqliteStore, outbox
from tests.conftest import TOKEN, write_config
from tests.support.fake_slack import FakeSlack, Fault

FEEDS = [{"name": "f", "url": "http://127.0.0.1:9/f.rss"}]  # never fetched here


def _cli(*argv: str) -> int:
    args = build_parser().parse_args(list(argv))
    code: int = args.func(args)
    return code


def _story(db: SqliteStore, channel: str) -> None:
    now = SYSTEM_CLOCK.now()
    with db.tx() as conn:
        parent = outbox.enqueue(conn, f"alert|s1|{channel}", channel, outbox.Kind.ALERT,
                                Message("parent"), now, "s1", "i1")
        assert parent is not None
        outbox.set_parent(conn, "s1", channel, parent)
        outbox.enqueue(conn, f"reply|i2|{channel}", channel, outbox.Kind.REPLY,
                       Message("reply"), now, "s1", "i2")


def test_dead_letters_are_sent_again_parent_before_reply(
    tmp_path: Path, fake_slack: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = write_config(tmp_path, FEEDS, slack_url=fake_slack.base_url)
    state = load_config(config_path, lint=False).settings.state_path
    db = SqliteStore.open(state)
    sender = Sender(db, SlackNotifier(TOKEN, fake_slack.base_url, timeout=5), SYSTEM_CLOCK, 0.0)
    fake_slack.state.sticky.append(Fault(error="channel_not_found", channel="#new"))
    _story(db, "#new")
    assert sender.drain(max_wait=0).dead == 2  # the parent refused, so its reply too
    db.close()

    fake_slack.state.sticky.clear()  # the operator created the channel
    assert _cli("outbox", "requeue", "--config", str(config_path)) == 0
    assert "requeued 0 dead letters" in capsys.readouterr().out
    assert _cli("outbox", "requeue", "--dead", "--config", str(config_path)) == 0
    assert "requeued 2 dead letters" in capsys.readouterr().out

    db = SqliteStore.open(state)
    sender = Sender(db, SlackNotifier(TOKEN, fake_slack.base_url, timeout=5), SYSTEM_CLOCK, 0.0)
    sender.recover()
    assert sender.drain(max_wait=0).sent == 2
    parent, = fake_slack.state.top_level("#new")
    assert [m["text"] for m in fake_slack.state.replies("#new", parent["ts"])] == ["reply"]
    with db.lock:
        assert outbox.counts(db.conn) == {"sent": 2}
    db.close()


def test_requeue_without_a_state_file_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = write_config(tmp_path, FEEDS)
    assert _cli("outbox", "requeue", "--dead", "--config", str(config_path)) == 1
    assert "no state file" in capsys.readouterr().out
    assert not (tmp_path / "state").exists()
