"""One bot per state: a second `run` refuses to start and names the pid holding the state;
the lock dies with its holder; read-only commands never take it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app import App
from bot.clock import SYSTEM_CLOCK
from bot.config import load_config
from bot.errors import StateInUse
from bot.runtime.lock import hold_state, lock_path
from tests.conftest import REPO, run_cli, write_config
from tests.service.helpers import H200, build_app
from tests.support.feed_server import FeedServer
from tests.support.util import rss, wait_for


def test_a_second_holder_is_refused_with_the_pid(tmp_path: Path,
                                                 feed_server: FeedServer) -> None:
    url = feed_server.serve("/f.rss", rss([H200]))
    config = write_config(tmp_path, [{"name": "f", "url": url}])
    first, second = build_app(config, SYSTEM_CLOCK), build_app(config, SYSTEM_CLOCK)
    try:
        with hold_state(first.db):
            with pytest.raises(StateInUse) as refused:
                second.run_once()
            assert f"pid {os.getpid()}" in str(refused.value)
            assert str(first.config.settings.state_path) in str(refused.value)
            assert feed_server.requests["/f.rss"] == 0  # refused before polling anything
        assert lock_path(first.config.settings.state_path).read_text() == ""  # let go
        assert len(second.run_once()) == 1  # free again
    finally:
        first.close()
        second.close()


def test_a_dry_run_takes_no_lock(tmp_path: Path, feed_server: FeedServer) -> None:
    url = feed_server.serve("/f.rss", rss([H200]))
    config = write_config(tmp_path, [{"name": "f", "url": url}])
    running = build_app(config, SYSTEM_CLOCK)
    dry = App.build(load_config(config), dry_run=True, env={})
    try:
        with hold_state(running.db):
            assert len(dry.run_once()) == 1  # writes nothing, so it may run beside the bot
    finally:
        running.close()
        dry.close()


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SLACK_BOT_TOKEN", "SLACK_API_URL")}
    return {**env, "PYTHONPATH": str(REPO)}


@pytest.mark.slow
def test_second_run_refused_while_the_first_lives_then_free_after_sigkill(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    url = feed_server.serve("/f.rss", rss([H200]))
    config = write_config(tmp_path, [{"name": "f", "url": url}])
    log = tmp_path / "first.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(config)],
                                env=_env(), stdout=out, stderr=out, cwd=REPO)
    try:
        assert wait_for(lambda: "started feeds=1" in log.read_text(), timeout=15)
        refused = run_cli("run", "--once", "--config", str(config))
        assert refused.returncode == 1
        lines = [line for line in refused.stderr.splitlines() if "in use" in line]
        assert len(lines) == 1 and f"pid {proc.pid}" in lines[0], refused.stderr
        assert "Traceback" not in refused.stderr
        forever = run_cli("run", "--config", str(config), timeout=20)
        assert forever.returncode == 1 and f"pid {proc.pid}" in forever.stderr
        assert "started" not in forever.stderr
        assert run_cli("status", "--config", str(config)).returncode == 0  # reads beside it
        assert run_cli("explain", H200, "--config", str(config)).returncode == 0
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    # The kernel let go of the dead holder's lock: the next run starts.
    again = run_cli("run", "--once", "--config", str(config))
    assert again.returncode == 0, again.stderr
    assert "in use" not in again.stderr
