"""`chipwatch run` on schedule: polls repeatedly, delivers new items, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, slack_env, write_config
from tests.support.fake_slack import FakeSlack
from tests.support.feed_server import FeedServer
from tests.support.util import rss, wait_for

pytestmark = pytest.mark.slow  # subprocess: the scheduled loop, stopped by SIGTERM


def test_scheduled_polls_deliver_new_items_and_sigterm_stops(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack
) -> None:
    first = "China approves imports of Nvidia H200 chips"
    url = feed_server.serve("/f.rss", rss([first]))
    config = write_config(tmp_path, [{"name": "f", "url": url, "interval": "1s"}])
    env = {**os.environ, "PYTHONPATH": str(REPO), **slack_env(fake_slack)}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(config)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: len(fake_slack.state.top_level("#chip-alerts")) == 1)
        second = "US adds Chinese chip firms to the entity list"
        feed_server.serve("/f.rss", rss([first, second]))
        assert wait_for(lambda: len(fake_slack.state.top_level("#policy")) == 1)
        assert wait_for(lambda: feed_server.not_modified["/f.rss"] >= 1)  # polls go on, 304s
        heartbeat = tmp_path / "state" / "chipwatch.heartbeat"
        assert wait_for(heartbeat.exists)
        assert subprocess.run([sys.executable, "-m", "bot", "health", "--config", str(config)],
                              env=env, capture_output=True).returncode == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopping signal=SIGTERM" in err and "stopped" in err
    assert len(fake_slack.state.top_level("#chip-alerts")) == 1  # never a repeat
