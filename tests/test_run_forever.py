"""`chipwatch run` on schedule: polls repeatedly, delivers new items, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO, slack_env, write_config
from tests.support.fake_slack import FakeSlack
from tests.support.feed_server import FeedServer


def _rss(titles: list[str]) -> bytes:
    items = "".join(f"<item><title>{t}</title><guid>g{i}</guid></item>"
                    for i, t in enumerate(titles))
    return f'<rss version="2.0"><channel><title>x</title>{items}</channel></rss>'.encode()


def _wait(pred: object, timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_scheduled_polls_deliver_new_items_and_sigterm_stops(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack
) -> None:
    first = "China approves imports of Nvidia H200 chips"
    url = feed_server.serve("/f.rss", _rss([first]))
    config = write_config(tmp_path, [{"name": "f", "url": url, "interval": "1s"}])
    env = {**os.environ, "PYTHONPATH": str(REPO), **slack_env(fake_slack)}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(config)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait(lambda: len(fake_slack.state.top_level("#chip-alerts")) == 1)
        second = "US adds Chinese chip firms to the entity list"
        feed_server.serve("/f.rss", _rss([first, second]))
        assert _wait(lambda: len(fake_slack.state.top_level("#policy")) == 1)
        assert _wait(lambda: feed_server.not_modified["/f.rss"] >= 1)  # polls go on, 304s
        heartbeat = tmp_path / "state" / "chipwatch.heartbeat"
        assert _wait(heartbeat.exists)
        assert subprocess.run([sys.executable, "-m", "bot", "health", "--config", str(config)],
                              env=env, capture_output=True).returncode == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopping signal=SIGTERM" in err and "stopped" in err
    assert len(fake_slack.state.top_level("#chip-alerts")) == 1  # never a repeat
