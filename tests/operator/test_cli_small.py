"""Small things an operator notices: flags after the command, JSON log fields, library log
lines, the wording of `health`, `check` and `cluster`."""

from __future__ import annotations

import io
import json
import logging
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.logs import HumanFormatter, JsonFormatter
from tests.conftest import FEEDS, FIXTURES, write_config
from tests.support.cli import invoke


def test_global_flags_work_after_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(write_config(tmp_path, [{"name": "chip", "url": str(FEEDS / "chip-news.rss")}]))
    code, _, err = invoke(capsys, "run", "--once", "--dry-run", "--config", config,
                          "--log-format", "json")
    assert code == 0, err
    events = [json.loads(line) for line in err.splitlines()]
    done = next(e for e in events if e["event"] == "run_once_done")
    assert done["feeds"] == 1 and done["alerts"] == 3  # numbers stay numbers
    # Given before the command they still work; after it, they win.
    code, _, err = invoke(capsys, "--log-format", "json", "run", "--once", "--dry-run",
                          "--config", config, "--log-format", "human")
    assert code == 0 and "run_once_done feeds=1" in err and "{" not in err, err
    code, _, err = invoke(capsys, "run", "--once", "--dry-run", "--config", config,
                          "--log-level", "warning")
    assert code == 0 and "run_once_done" not in err, err


def _record(name: str, message: str, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


def test_json_fields_keep_numbers_and_text_apart() -> None:
    line = JsonFormatter().format(_record(
        "chipwatch.poll", "poll_cycle_done feeds=12 seconds=0.25 delta=-3 feed=007 took=1.5s "
                          "error=HTTP 503 from upstream"))
    data = json.loads(line)
    assert (data["feeds"], data["seconds"], data["delta"]) == (12, 0.25, -3)
    assert (data["feed"], data["took"], data["error"]) == ("007", "1.5s", "HTTP 503 from upstream")


def test_a_field_named_like_the_lines_own_keeps_both() -> None:
    data = json.loads(JsonFormatter().format(_record(
        "chipwatch.sender", "outbox_recovered key=alert|s1|#c ts=1767000000.000100 "
                            "level=high")))
    assert data["event"] == "outbox_recovered" and data["level"] == "info"
    assert data["ts"].startswith("20") and data["field_ts"] == "1767000000.000100"
    assert data["field_level"] == "high"


def test_library_log_lines_are_events_too() -> None:
    text = "Failed to send a request to Slack API server: <urlopen error timed out>\n retry=2 " \
           "token xoxb-1-secret"
    record = _record("slack_sdk.web.base_client", text, logging.ERROR)
    data = json.loads(JsonFormatter().format(record))
    assert data["event"] == "slack_sdk_log" and data["logger"] == "slack_sdk.web.base_client"
    assert data["message"] == "Failed to send a request to Slack API server: <urlopen error " \
                              "timed out> retry=2 token xox?-[redacted]"
    assert set(data) == {"ts", "level", "logger", "event", "message"}
    human = HumanFormatter().format(record)
    assert " ERROR slack_sdk_log logger=slack_sdk.web.base_client message=Failed to send" in human
    assert "\n" not in human and "xoxb" not in human


def test_health_says_what_it_saw(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, [])
    code, out, _ = invoke(capsys, "health", "--config", str(config))
    assert code == 1 and "never ago" not in out
    assert out.strip() == "unhealthy: no heartbeat (the bot is not running, or has not " \
                          "started yet)"
    beat = tmp_path / "state" / "chipwatch.heartbeat"
    beat.parent.mkdir()
    beat.write_text((datetime.now(UTC) - timedelta(minutes=5)).isoformat())
    code, out, _ = invoke(capsys, "health", "--config", str(config))
    assert code == 1 and out.startswith("unhealthy: last heartbeat 5m ago (more than 2m)")
    code, out, _ = invoke(capsys, "health", "--max-age", "10m", "--config", str(config))
    assert code == 0 and out.startswith("healthy: last heartbeat 5m ago")


def test_check_counts_in_words(capsys: pytest.CaptureFixture[str]) -> None:
    path = FIXTURES / "configs" / "shadowed_route.yaml"
    code, out, _ = invoke(capsys, "check", "--no-regex-budget", "--config", str(path))
    assert code == 0
    assert out.splitlines()[-1] == f"{path}: ok (1 feed, 1 rule, 2 routes, 0/0 examples ok, " \
                                   "1 warning)"


def test_cluster_names_every_field_it_needs_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    good = {"id": "1", "title": "US bans chip exports", "link": "https://x.example/1",
            "source": "Wire", "published": "2026-01-28T12:00:00"}
    lines = ['{"title": "no id"}', "title,link", *["not json"] * 12, json.dumps(good)]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    config = str(write_config(tmp_path, []))
    code, out, err = invoke(capsys, "cluster", "--config", config)
    assert code == 1 and json.loads(out) == {"id": "1", "story": "1"}
    errors = err.splitlines()
    assert errors[0] == "line 1: skipped: missing field(s): id, link, source, published"
    assert len(errors) == 11  # ten skipped lines named, then one summary
    assert errors[-1] == "cluster: skipped 14 lines (4 not shown): each line must be one " \
                         "JSON object with the fields id, title, link, source (strings) and " \
                         "published (an ISO 8601 time); summary is optional"
