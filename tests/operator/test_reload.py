"""Hot reload while `chipwatch run` runs as a subprocess: a good edit, a bad edit, SIGHUP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, slack_env, write_config
from tests.support.fake_slack import FakeSlack
from tests.support.feed_server import FeedServer
from tests.support.util import rss, wait_for

pytestmark = pytest.mark.slow  # subprocess: a running bot, edited and signalled

H200 = "China approves imports of Nvidia H200 chips"
ENTITY = "US adds Chinese chip firms to the entity list"


def test_good_edit_bad_edit_and_sighup(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack
) -> None:
    a = feed_server.serve("/a.rss", rss([H200]))
    b = feed_server.serve("/b.rss", rss([ENTITY]))
    feed_a = {"name": "a", "url": a, "interval": "1s"}
    config = write_config(tmp_path, [feed_a], ops_channel="#ops")
    log = tmp_path / "bot.log"
    env = {**os.environ, "PYTHONPATH": str(REPO), **slack_env(fake_slack)}
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(config)],
                                env=env, stdout=subprocess.DEVNULL, stderr=err, text=True)
    slack = fake_slack.state

    def logged(text: str, times: int = 1) -> Callable[[], bool]:
        return lambda: log.read_text().count(text) >= times

    try:
        assert wait_for(lambda: len(slack.top_level("#chip-alerts")) == 1)
        assert feed_server.requests["/b.rss"] == 0

        # A good edit: a feed is added; it is scheduled and polled, its alert delivered.
        write_config(tmp_path, [feed_a, {"name": "b", "url": b, "interval": "1s"}],
                     ops_channel="#ops")
        assert wait_for(logged("config_reloaded")), log.read_text()
        assert "feeds_added=b" in log.read_text()
        assert wait_for(lambda: len(slack.top_level("#policy")) == 1)

        # A bad edit: rejected with one log line per problem, one notice to #ops, and the
        # bot runs on with the last good config (both feeds still polled).
        good = config.read_text()
        config.write_text(good.replace("severity: critical", "severity: urgent")
                          + "colour: red\n")
        assert wait_for(logged("config_reload_rejected")), log.read_text()
        text = log.read_text()
        assert f"config_problem {config}:" in text and "colour: unknown key" in text
        assert "severity: Input should be" in text
        assert wait_for(lambda: len(slack.top_level("#ops")) == 1)
        notice = str(slack.top_level("#ops")[0]["blocks"])
        assert "keeps running on the last good config" in notice and "unknown key" in notice
        later = "Commerce puts a Dutch semiconductor toolmaker on the entity list"
        feed_server.serve("/b.rss", rss([ENTITY, later]))
        # (story dedup may thread it under the first entity-list alert: any message counts)
        policy = slack.channel_id("#policy")
        assert wait_for(lambda: any(later in str(m["text"])
                                 for m in slack.messages.get(policy, []))), log.read_text()

        # SIGHUP re-reads the same bad file: rejected again, but noticed only once.
        proc.send_signal(signal.SIGHUP)
        assert wait_for(logged("config_reload_rejected", 2)), log.read_text()
        assert "by=SIGHUP" in log.read_text()

        # A good edit again: feed b goes away; SIGHUP reloads an unchanged good file too.
        write_config(tmp_path, [feed_a], ops_channel="#ops")
        assert wait_for(logged("config_reloaded", 2)), log.read_text()
        assert "feeds_removed=b" in log.read_text()
        proc.send_signal(signal.SIGHUP)
        assert wait_for(logged("config_reloaded", 3)), log.read_text()
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0, log.read_text()
    assert len(slack.top_level("#ops")) == 1
    assert len(slack.top_level("#chip-alerts")) == 1  # never a repeat
