"""`chipwatch run` starts Socket Mode itself when SLACK_APP_TOKEN is set, and stops it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, write_config
from tests.support.fake_slack import APP_TOKEN, TOKEN, FakeSlack
from tests.support.fake_socket import FakeSocketMode, button, command
from tests.support.feed_server import FeedServer
from tests.support.util import rss, wait_for


def _sent_parents(tmp_path: Path) -> int:
    """Parent alerts the bot has recorded as sent, read from its state file beside it."""
    try:
        db = sqlite3.connect(f"file:{tmp_path / 'state' / 'chipwatch.db'}?mode=ro", uri=True)
    except sqlite3.Error:
        return 0
    try:
        return int(db.execute("SELECT COUNT(*) FROM outbox WHERE kind = 'alert' AND "
                              "state = 'sent'").fetchone()[0])
    except sqlite3.Error:
        return 0  # not created yet, or busy
    finally:
        db.close()


@pytest.mark.slow
def test_run_serves_buttons_and_commands(tmp_path: Path, feed_server: FeedServer,
                                         fake_slack: FakeSlack) -> None:
    url = feed_server.serve("/f.rss", rss(["China approves imports of Nvidia H200 chips"]))
    config = write_config(tmp_path, [{"name": "f", "url": url, "interval": "1s"}],
                          ops_channel="#ops",
                          slack={"api_url": fake_slack.base_url, "per_channel_interval": "0s"})
    env = {**os.environ, "PYTHONPATH": str(REPO), "SLACK_BOT_TOKEN": TOKEN,
           "SLACK_API_URL": fake_slack.base_url, "SLACK_APP_TOKEN": APP_TOKEN}
    with FakeSocketMode() as socket:
        fake_slack.state.socket_url = socket.url
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(config)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            # Start-up imports slack_sdk and takes the lead first: slow on a busy machine.
            assert socket.wait_connections(1, timeout=90)
            assert wait_for(lambda: len(fake_slack.state.top_level("#chip-alerts")) == 1)
            # Slack shows the post before the bot has recorded its ts (after Slack's answer):
            # a press in between finds no alert. Wait for the bot's record, not the post.
            assert wait_for(lambda: _sent_parents(tmp_path) >= 1)
            parent = fake_slack.state.top_level("#chip-alerts")[0]
            cid = fake_slack.state.channel_id("#chip-alerts")
            pressed = socket.send("interactive", button("UREADER1", cid, parent["ts"],
                                                        "chipwatch_mute_story"))
            assert wait_for(lambda: socket.ack_for(pressed))
            # The sender thread delivers the parent's update and the audit line.
            assert wait_for(lambda: len(fake_slack.state.top_level("#ops")) == 1)
            assert wait_for(lambda: "Muted here" in str(
                fake_slack.state.top_level("#chip-alerts")[0]["blocks"]))
            # slack-sdk runs envelopes on a thread pool, and an ack may come before the
            # apply (a busy state): the command asks once the mute is seen applied.
            asked = socket.send("slash_commands", command("UREADER1", "C1", "mutes"))
            assert wait_for(lambda: socket.ack_for(asked))
            assert "story" in socket.ack_for(asked)[0]["payload"]["text"]
        finally:
            proc.send_signal(signal.SIGTERM)
            _out, err = proc.communicate(timeout=30)
            print(err[-4000:])  # shown by pytest when the test fails
    assert proc.returncode == 0, err
    assert "slack_socket_mode started" in err and APP_TOKEN not in err
