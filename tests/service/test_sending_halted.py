"""While Slack refuses the bot token nothing is sent: `chipwatch health` fails and says so,
and `chipwatch status` says sending is halted and why — from the heartbeat file (metrics
off, the default) as well as from /healthz. The real run loop in a subprocess, the real
WebClient against the fake Slack."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.clock import SYSTEM_CLOCK, FakeClock
from bot.runtime.loop import serve_metrics
from tests.conftest import FEEDS, REPO, write_config
from tests.service.helpers import build_app
from tests.support.cli import invoke
from tests.support.fake_slack import FakeSlack
from tests.support.util import wait_for

WRONG = "xoxb-1-wrong-T0KENVALUE"
HALTED = "sending halted: Slack refused the bot token (invalid_auth): set SLACK_BOT_TOKEN and " \
         "restart"


def test_run_with_a_refused_token_is_unhealthy_and_status_says_why(
    tmp_path: Path, fake_slack: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, [{"name": "chip", "url": str(FEEDS / "chip-news.rss")}],
                          fake_slack.base_url)
    beat = tmp_path / "state" / "chipwatch.heartbeat"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHIPWATCH_"))}
    env.update(PYTHONPATH=str(REPO), SLACK_BOT_TOKEN=WRONG, SLACK_API_URL=fake_slack.base_url)
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(config)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # The scheduler beats at start; the sender asks auth.test as it starts: both soon.
        assert wait_for(lambda: invoke(capsys, "health", "--config", str(config))[0] == 1
                        and beat.exists(), timeout=20)
        code, out, _ = invoke(capsys, "health", "--config", str(config))
        assert code == 1
        assert out.startswith(f"unhealthy: {HALTED}; last heartbeat "), out
        code, out, _ = invoke(capsys, "status", "--config", str(config))
        assert code == 0
        # The first poll may or may not have queued its alerts yet: they wait either way.
        assert re.search(f"sending: HALTED: {re.escape(HALTED[len('sending halted: '):])}; "
                         r"\d+ messages wait \(heartbeat \d+s ago\)", out), out
        assert WRONG not in out and "T0KENVALUE" not in beat.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert "slack_token_refused" in err and "T0KENVALUE" not in err


def test_health_and_status_while_sending_works_and_after_it_halts(
    tmp_path: Path, fake_slack: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    """The halt reaches the heartbeat file at once, not at the scheduler's next beat."""
    config = write_config(tmp_path, [], fake_slack.base_url)
    env = {"SLACK_BOT_TOKEN": WRONG, "SLACK_API_URL": fake_slack.base_url}
    app = build_app(config, FakeClock(SYSTEM_CLOCK.now()), env)
    try:
        app.heartbeat.beat()
        code, out, _ = invoke(capsys, "health", "--config", str(config))
        assert code == 0 and out.startswith("healthy: last heartbeat")
        code, out, _ = invoke(capsys, "status", "--config", str(config), "--json")
        assert '"halted": null' in out
        app.sender.recover()  # asks auth.test: refused
        code, out, _ = invoke(capsys, "health", "--config", str(config))
        assert code == 1 and out.startswith(f"unhealthy: {HALTED}"), out
        code, out, _ = invoke(capsys, "status", "--config", str(config))
        assert "sending: HALTED: Slack refused the bot token (invalid_auth)" in out
    finally:
        app.close()


def test_health_over_healthz_says_why(tmp_path: Path, fake_slack: FakeSlack,
                                      capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path, [], fake_slack.base_url)
    env = {"SLACK_BOT_TOKEN": WRONG, "SLACK_API_URL": fake_slack.base_url}
    app = build_app(config, FakeClock(SYSTEM_CLOCK.now()), env)
    server = serve_metrics(app, "127.0.0.1:0")
    assert server is not None
    try:
        app.heartbeat.beat()
        app.sender.recover()
        monkeypatch.setenv("CHIPWATCH_METRICS_LISTEN", server.address)
        code, out, _ = invoke(capsys, "health", "--config", str(config))
        assert code == 1
        assert out.startswith(f"unhealthy: {HALTED} (http://{server.address}/healthz)"), out
    finally:
        server.close()
        app.close()
