"""Stopping: SIGTERM during a slow fetch exits within 5 s (Docker kills after 10 s), Ctrl-C on
`run --once` is honoured at once (exit 130), fetches cut short are not counted as feed
failures, and alerts queued but not sent stay pending for the next run."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from bot.clock import SYSTEM_CLOCK
from tests.conftest import REPO, run_cli, slack_env, write_config
from tests.service.helpers import H200
from tests.support.fake_slack import FakeSlack
from tests.support.feed_server import FeedServer
from tests.support.util import rss, wait_for

pytestmark = pytest.mark.slow
STOP_WITHIN = 5.0


class Stall:
    """A feed server answer that sends nothing until released (or 60 s pass)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.arrived = threading.Event()

    def __call__(self, h: BaseHTTPRequestHandler) -> bool:
        self.arrived.set()
        self.release.wait(60)
        return False  # then the normal answer, if anybody still listens


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    full = {k: v for k, v in os.environ.items() if k not in ("SLACK_BOT_TOKEN", "SLACK_API_URL")}
    full.update(env, PYTHONPATH=str(REPO))
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "bot", *args], stdout=out, stderr=out,
                                env=full, cwd=REPO)


def _stop(proc: subprocess.Popen[bytes], sig: signal.Signals) -> tuple[int, float]:
    started = SYSTEM_CLOCK.monotonic()
    proc.send_signal(sig)
    try:
        code = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    return code, SYSTEM_CLOCK.monotonic() - started


def _feed_errors(state: Path) -> dict[str, int]:
    db = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    try:
        return dict(db.execute("SELECT name, errors FROM feeds").fetchall())
    finally:
        db.close()


def test_sigterm_during_a_slow_fetch_exits_within_5s(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    stall = Stall()
    url = feed_server.serve("/slow.rss", rss([H200]), behaviour=stall)
    config = write_config(tmp_path, [{"name": "slow", "url": url, "interval": "1s"}])
    log = tmp_path / "bot.log"
    proc = _start(["run", "--config", str(config)], {}, log)
    try:
        assert stall.arrived.wait(15), log.read_text()
        code, took = _stop(proc, signal.SIGTERM)
    finally:
        stall.release.set()
    output = log.read_text()
    assert took < STOP_WITHIN, output
    assert code == 0, output
    assert "stopped" in output and "Traceback" not in output
    assert _feed_errors(tmp_path / "state" / "chipwatch.db").get("slow", 0) == 0


def test_ctrl_c_on_run_once_exits_130_and_leaves_rows_pending(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack
) -> None:
    stall = Stall()
    fast = feed_server.serve("/fast.rss", rss([H200]))
    slow = feed_server.serve("/slow.rss", rss([]), behaviour=stall)
    config = write_config(tmp_path, [{"name": "fast", "url": fast},
                                     {"name": "slow", "url": slow}])
    log = tmp_path / "once.log"
    # Slack stays silent while the pass runs: sends wait until the pass has polled every feed.
    proc = _start(["run", "--once", "--config", str(config)], slack_env(fake_slack), log)
    try:
        assert stall.arrived.wait(15), log.read_text()
        assert wait_for(lambda: "feed_polled feed=fast" in log.read_text(), timeout=10)
        code, took = _stop(proc, signal.SIGINT)
    finally:
        stall.release.set()
    output = log.read_text()
    assert code == 130, output
    assert took < STOP_WITHIN, output
    assert "Traceback" not in output
    assert fake_slack.state.top_level("#chip-alerts") == []  # stopped before sending
    state = tmp_path / "state" / "chipwatch.db"
    errors = _feed_errors(state)
    assert errors["fast"] == 0 and errors.get("slow", 0) == 0  # a stop is not a failure
    status = run_cli("status", "--config", str(config))
    assert "outbox: pending=2" in status.stdout, status.stdout  # #chip-alerts, #chip-firehose

    # The next run (the slow feed answers now) sends what was left, and says all is well.
    again = run_cli("run", "--once", "--config", str(config), env=slack_env(fake_slack))
    assert again.returncode == 0, again.stderr
    assert len(fake_slack.state.top_level("#chip-alerts")) == 1
