"""The shipped Grafana dashboard and Prometheus alerting rules name only metrics a running
bot exports, and the rules are valid (`promtool check rules`, where installed)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, slack_env, write_config
from tests.service.helpers import H200, free_port, get
from tests.support.fake_slack import FakeSlack
from tests.support.feed_server import FeedServer
from tests.support.util import rss, wait_for

DASHBOARD = REPO / "deploy" / "grafana" / "chipwatch.json"
RULES = REPO / "deploy" / "prometheus" / "chipwatch-alerts.yml"
NAME = re.compile(r"\bchipwatch_[a-z_]+")


def _exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = yaml.safe_load(RULES.read_text())
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    return exprs


def test_dashboard_and_rules_parse_and_cover_what_needs_a_person() -> None:
    exprs = _exprs()
    assert len(exprs) > 15
    alerts = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"]
              for r in g["rules"]}
    assert {"ChipwatchNoLeader", "ChipwatchSchedulerStalled", "ChipwatchSendingHalted",
            "ChipwatchDeadLetters", "ChipwatchOutboxGrowing",
            "ChipwatchFeedFailing", "ChipwatchStateWriteFailing",
            "ChipwatchStateGrowing"} <= alerts


@pytest.mark.slow  # a subprocess bot with its metrics endpoint
def test_every_metric_named_exists_in_a_running_bots_metrics(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack
) -> None:
    good = feed_server.serve("/good.rss", rss([H200]))
    port = free_port()
    config = write_config(tmp_path, [{"name": "good", "url": good, "interval": "1s"}],
                          metrics={"listen": f"127.0.0.1:{port}"})
    env = {**os.environ, "PYTHONPATH": str(REPO), **slack_env(fake_slack)}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(config)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def scraped() -> str | None:
            try:
                status, text = get(f"http://127.0.0.1:{port}/metrics")
            except OSError:
                return None
            # Wait for an alert and a finished poll cycle: labelled series exist from then.
            done = "chipwatch_alerts_total{" in text and "chipwatch_poll_cycle_seconds_count" \
                in text and "chipwatch_replica_role{" in text
            return text if status == 200 and done else None

        assert wait_for(scraped)
        text = scraped()
        assert text is not None
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    exported = set(NAME.findall(text))
    named = {n for e in _exprs() for n in NAME.findall(e)}
    assert named, "the dashboard names no chipwatch metric"
    assert named <= exported, f"not exported: {sorted(named - exported)}"
    # The state's gauges carry a value from the first scrape (not only a HELP line).
    size = re.search(r'^chipwatch_state_bytes\{backend="sqlite"\} (\S+)$', text, re.M)
    assert size and float(size[1]) > 0, text
    assert re.search(r'^chipwatch_state_write_failing\{backend="sqlite"\} 0\.0$', text, re.M)


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool is not installed (Debian: prometheus)")
def test_promtool_accepts_the_rules() -> None:
    done = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool is not installed (Debian: prometheus)")
def test_the_state_alerts_fire_when_they_should_and_only_then() -> None:
    """Synthetic series through the real rules: writes failing for 7 min page; a big state
    growing 10 MiB an hour opens a ticket, a flat one or a small growing one does not."""
    tests = Path(__file__).parent / "promtool"
    done = subprocess.run(["promtool", "test", "rules", "state_alerts_test.yml"], cwd=tests,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
