"""/metrics and /healthz end to end: a running `chipwatch run`, and a stalled scheduler."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.runtime.loop import serve_metrics
from tests.conftest import REPO, slack_env, write_config
from tests.service.helpers import H200, build_app, free_port, get
from tests.support.fake_slack import FakeSlack
from tests.support.feed_server import FeedServer
from tests.support.util import rss, wait_for


def _value(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text, matching these labels."""
    for line in text.splitlines():
        if not line.startswith(name + ("{" if labels else " ")):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.mark.slow  # a subprocess or real waits
def test_metrics_and_healthz_of_a_running_bot(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack
) -> None:
    good = feed_server.serve("/good.rss", rss([H200]))
    bad = feed_server.serve("/bad.rss", b"oops", status=500)
    port = free_port()
    config = write_config(tmp_path, [{"name": "good", "url": good, "interval": "1s"},
                                     {"name": "bad", "url": bad, "interval": "1s"}],
                          metrics={"listen": f"127.0.0.1:{port}"})
    env = {**os.environ, "PYTHONPATH": str(REPO), **slack_env(fake_slack)}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(config)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: fake_slack.state.top_level("#chip-alerts"))

        def scraped() -> str | None:
            try:
                status, text = get(base + "/metrics")
            except OSError:
                return None
            sent = _value(text, "chipwatch_outbox_rows", state="sent")
            return text if status == 200 and sent and sent >= 2 else None

        assert wait_for(scraped)
        text = scraped()
        assert text is not None
        assert (_value(text, "chipwatch_fetches_total", outcome="ok") or 0) >= 1
        assert (_value(text, "chipwatch_fetches_total", outcome="error") or 0) >= 1
        assert _value(text, "chipwatch_items_seen_total") == 1  # 304s afterwards
        assert _value(text, "chipwatch_alerts_total", rule="china-nvidia-imports",
                      channel="#chip-alerts") == 1
        assert _value(text, "chipwatch_outbox_rows", state="pending") == 0
        assert (_value(text, "chipwatch_slack_calls_total", method="chat.postMessage",
                       result="ok") or 0) >= 2
        assert _value(text, "chipwatch_slack_retries_total") == 0
        assert (_value(text, "chipwatch_feed_last_success_timestamp_seconds",
                       feed="good") or 0) > 1.7e9
        assert _value(text, "chipwatch_feed_last_success_timestamp_seconds", feed="bad") is None
        assert (_value(text, "chipwatch_poll_cycle_seconds_count") or 0) >= 1

        status, body = get(base + "/healthz")
        assert status == 200 and json.loads(body)["ok"] is True
        assert get(base + "/nope")[0] == 404

        health = subprocess.run([sys.executable, "-m", "bot", "health", "--config",
                                 str(config)], env=env, capture_output=True, text=True,
                                timeout=60)
        assert health.returncode == 0 and "healthy" in health.stdout, health.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "metrics_listening address=127.0.0.1:" in err


def test_healthz_fails_when_the_scheduler_stalls(tmp_path: Path) -> None:
    clock = FakeClock()
    app = build_app(write_config(tmp_path, [], metrics={"stall_after": "90s"}), clock)
    server = serve_metrics(app, "127.0.0.1:0")
    assert server is not None
    try:
        url = f"http://{server.address}/healthz"
        app.heartbeat.beat()
        status, body = get(url)
        assert status == 200 and json.loads(body)["ok"] is True
        clock.advance(60)
        assert get(url)[0] == 200
        clock.advance(31)  # 91 s since the last beat: stalled
        status, body = get(url)
        assert status == 503
        detail = json.loads(body)
        assert detail["ok"] is False and detail["heartbeat_age_seconds"] == 91
        app.heartbeat.beat()  # the scheduler beats again: healthy again
        assert get(url)[0] == 200
    finally:
        server.close()
        app.close()


def test_each_app_has_its_own_registry(tmp_path: Path) -> None:
    one = build_app(write_config(tmp_path, []), FakeClock())
    two = build_app(write_config(tmp_path, []), FakeClock())
    one.metrics.items_seen.inc(3)
    assert _value(two.metrics.render().decode(), "chipwatch_items_seen_total") == 0
    assert _value(one.metrics.render().decode(), "chipwatch_items_seen_total") == 3
    one.close()
    two.close()


def test_healthz_fails_while_slack_refuses_the_token(tmp_path: Path,
                                                     fake_slack: FakeSlack) -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1-wrong-token", "SLACK_API_URL": fake_slack.base_url}
    app = build_app(write_config(tmp_path, []), FakeClock(), env)
    server = serve_metrics(app, "127.0.0.1:0")
    assert server is not None
    try:
        app.heartbeat.beat()
        assert get(f"http://{server.address}/healthz")[0] == 200
        app.sender.recover()  # start-up asks auth.test: the token is refused
        status, body = get(f"http://{server.address}/healthz")
        assert status == 503 and json.loads(body)["sending_halted"] == "invalid_auth"
    finally:
        server.close()
        app.close()
