"""A real `chipwatch run` SIGKILLed inside the gap: the state held by another process, a
button press and an admin command acknowledged from the journal, the bot killed before it
could apply them. The next `chipwatch run` replays the journal: both applied once, both
answered, the parent updated, the audit posted, and the command redelivered by Slack after
the restart is answered as it was the first time. And an envelope applied and answered just
before a SIGKILL, redelivered after the restart while the state is held, gets its first
answer (from the answers file, without the state) and is applied once."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.slack.interactions import DEFERRED
from tests.conftest import REPO, run_cli, write_config
from tests.support.fake_slack import APP_TOKEN, TOKEN, FakeSlack
from tests.support.fake_socket import FakeSocketMode, button, command
from tests.support.feed_server import FeedServer
from tests.support.util import rss, wait_for

ADMIN = "UADMIN1"


def _count(state: Path, sql: str) -> int:
    """One number from the bot's state file, read beside it (0 while it is not there)."""
    try:
        db = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    except sqlite3.Error:
        return 0
    try:
        return int(db.execute(sql).fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        db.close()


def _start(config: Path, slack: FakeSlack) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "SLACK_BOT_TOKEN": TOKEN,
           "SLACK_API_URL": slack.base_url, "SLACK_APP_TOKEN": APP_TOKEN}
    return subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(config)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def _ack(socket: FakeSocketMode, eid: str, n: int = 1) -> dict[str, Any]:
    """The envelope's `n`th ack, once it has come."""
    assert wait_for(lambda: len(socket.ack_for(eid)) >= n, timeout=60), eid
    return socket.ack_for(eid)[n - 1]


def _first_alert(socket: FakeSocketMode, state: Path, slack: FakeSlack) -> dict[str, Any]:
    """The bot's first parent alert in #chip-alerts, once Socket Mode is up and it is sent."""
    assert socket.wait_connections(1, timeout=90)
    sent = "SELECT COUNT(*) FROM outbox WHERE kind = 'alert' AND state = 'sent'"
    assert wait_for(lambda: _count(state, sent) >= 1, timeout=60)
    return slack.state.top_level("#chip-alerts")[0]


def _config(tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack) -> Path:
    url = feed_server.serve("/f.rss", rss(["China approves imports of Nvidia H200 chips"]))
    return write_config(tmp_path, [{"name": "f", "url": url, "interval": "1s"}],
                        ops_channel="#ops",
                        slack={"api_url": fake_slack.base_url, "per_channel_interval": "0s",
                               "admins": [ADMIN]})


@pytest.mark.slow
def test_killed_between_ack_and_apply_loses_nothing(tmp_path: Path, feed_server: FeedServer,
                                                    fake_slack: FakeSlack) -> None:
    config = _config(tmp_path, feed_server, fake_slack)
    state = tmp_path / "state" / "chipwatch.db"
    journal = tmp_path / "state" / "chipwatch.slack-journal"
    with FakeSocketMode() as socket:
        fake_slack.state.socket_url = socket.url
        first = _start(config, fake_slack)
        try:
            parent = _first_alert(socket, state, fake_slack)
            cid = fake_slack.state.channel_id("#chip-alerts")
            # Another process writes to the state file (a backup, `state copy`…) and keeps
            # it: the bot can apply nothing from here on.
            other = sqlite3.connect(state, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            pressed = socket.send("interactive", button("UREADER1", cid, parent["ts"],
                                                        "chipwatch_not_relevant"))
            mute = command(ADMIN, "CANY", "mute us-entity-list 2h")
            muted = socket.send("slash_commands", mute)
            acked = _ack(socket, pressed), _ack(socket, muted)
            # `status` beside the running bot, the state still held: the two wait.
            shown = run_cli("status", "--config", str(config))
            assert re.search(r"\nslack journal: 2 actions waiting to be applied \(oldest "
                             r"\S+ ago\)\n", shown.stdout), shown.stdout + shown.stderr
            # Inside the gap: acknowledged, not applied (the state is still held), and now
            # the process dies without a chance to do anything more.
            first.send_signal(signal.SIGKILL)
            first.wait(30)
            assert _count(state, "SELECT COUNT(*) FROM slack_actions") == 0
            other.execute("ROLLBACK")
            other.close()
        finally:
            if first.poll() is None:
                first.kill()
            _, err1 = first.communicate(timeout=30)
        assert acked[1]["payload"]["text"] == DEFERRED
        assert "slack_action_deferred" in err1
        assert len(journal.read_text().splitlines()) == 2
        assert _count(state, "SELECT COUNT(*) FROM slack_actions") == 0
        assert _count(state, "SELECT COUNT(*) FROM feedback") == 0

        second = _start(config, fake_slack)
        try:
            assert socket.wait_connections(2, timeout=90)
            applied = "SELECT COUNT(*) FROM slack_actions"
            assert wait_for(lambda: _count(state, applied) == 2, timeout=60)
            # Slack thinks the ack was lost and sends it again: answered as the first time.
            socket.redeliver(muted, "slash_commands", mute)
            assert wait_for(lambda: len(socket.ack_for(muted)) == 2, timeout=60)
            assert socket.ack_for(muted)[1]["payload"] == acked[1]["payload"]
            assert wait_for(lambda: len(fake_slack.state.ephemeral) == 2)
            assert wait_for(lambda: len(fake_slack.state.top_level("#ops")) == 2)
            assert wait_for(lambda: "Marked not relevant" in str(
                fake_slack.state.top_level("#chip-alerts")[0]["blocks"]))
            assert wait_for(lambda: journal.read_bytes() == b"")
        finally:
            second.send_signal(signal.SIGTERM)
            _, err2 = second.communicate(timeout=60)
            print(err1[-3000:], err2[-3000:])  # shown by pytest when the test fails
    assert second.returncode == 0, err2
    assert "slack_journal_replay entries=2" in err2
    assert "slack journal" not in run_cli("status", "--config", str(config)).stdout  # all in
    assert _count(state, "SELECT COUNT(*) FROM feedback") == 1
    assert _count(state, "SELECT COUNT(*) FROM rule_mutes WHERE rule_id = "
                         "'us-entity-list'") == 1
    answers = sorted(m["text"] for m in fake_slack.state.ephemeral)
    assert answers[0].startswith("Muted `us-entity-list` until")
    assert answers[1].startswith("Thanks: recorded as a false alert")


@pytest.mark.slow
def test_answered_before_a_kill_is_answered_the_same_while_the_state_is_held(
        tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack) -> None:
    config = _config(tmp_path, feed_server, fake_slack)
    state = tmp_path / "state" / "chipwatch.db"
    answers = tmp_path / "state" / "chipwatch.slack-answers"
    journal = tmp_path / "state" / "chipwatch.slack-journal"
    with FakeSocketMode() as socket:
        fake_slack.state.socket_url = socket.url
        first = _start(config, fake_slack)
        try:
            parent = _first_alert(socket, state, fake_slack)
            press = button("UREADER1", fake_slack.state.channel_id("#chip-alerts"),
                           parent["ts"], "chipwatch_not_relevant")
            mute = command(ADMIN, "CANY", "mute us-entity-list 2h")
            pressed = socket.send("interactive", press)
            muted = socket.send("slash_commands", mute)
            acked = _ack(socket, pressed), _ack(socket, muted)
            # Applied and answered (the state was free), and killed right after the acks.
            first.send_signal(signal.SIGKILL)
            first.wait(30)
        finally:
            if first.poll() is None:
                first.kill()
            _, err1 = first.communicate(timeout=30)
        assert acked[1]["payload"]["text"].startswith("Muted `us-entity-list` until")
        assert _count(state, "SELECT COUNT(*) FROM slack_actions") == 2
        assert stat.S_IMODE(answers.stat().st_mode) == 0o600  # command answers: user text
        # The press's answer is posted after its ack: the kill may come before or after it.
        ephemeral = len(fake_slack.state.ephemeral)

        second = _start(config, fake_slack)
        try:
            assert socket.wait_connections(2, timeout=90)
            # Another process holds the state past the bot's wait: the action log cannot
            # be read, and the bot's memory of the first answers died with the first process.
            other = sqlite3.connect(state, isolation_level=None, timeout=60)
            other.execute("BEGIN IMMEDIATE")
            try:
                socket.redeliver(pressed, "interactive", press)
                socket.redeliver(muted, "slash_commands", mute)
                again = _ack(socket, pressed, 2), _ack(socket, muted, 2)
            finally:
                other.execute("ROLLBACK")
                other.close()
        finally:
            second.send_signal(signal.SIGTERM)
            _, err2 = second.communicate(timeout=60)
            print(err1[-3000:], err2[-3000:])  # shown by pytest when the test fails
    assert second.returncode == 0, err2
    assert again[1]["payload"] == acked[1]["payload"]  # the first answer, not "Received; …"
    assert again[0].get("payload") == acked[0].get("payload")
    assert "slack_action_deferred" not in err2  # answered without journaling anything
    assert not journal.exists() or journal.read_bytes() == b""
    assert _count(state, "SELECT COUNT(*) FROM slack_actions") == 2  # applied once each
    assert _count(state, "SELECT COUNT(*) FROM feedback") == 1
    assert _count(state, "SELECT COUNT(*) FROM rule_mutes") == 1
    assert len(fake_slack.state.ephemeral) == ephemeral  # no second answer to the press
