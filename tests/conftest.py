"""Shared fixtures: loopback fake Slack, loopback feed server, config writer, CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import postgres
from tests.support.fake_slack import TOKEN, FakeSlack
from tests.support.feed_server import FeedServer

FIXTURES = Path(__file__).parent / "fixtures"
FEEDS = FIXTURES / "feeds"
REPO = Path(__file__).parent.parent

TEST_RULES: dict[str, Any] = {
    "terms": {"china": ["China", "Chinese", "Beijing"], "nvidia_ai": ["H200", "H20", "H-200"]},
    "rules": [
        {"id": "china-nvidia-imports", "tags": ["nvidia", "h200", "china", "imports"],
         "severity": "high", "all": ["$nvidia_ai", "$china"],
         "any": ["approv*", "import*", "customs", "licen*"], "none": ["rumor"]},
        {"id": "us-entity-list", "tags": ["us", "entity-list", "exports"],
         "severity": "critical", "all": [["entity list"], ["chip*", "semiconductor*"]]},
    ],
    "routes": [
        {"channel": "#chip-alerts", "tags": ["nvidia"], "continue": True},
        {"channel": "#policy", "min_severity": "critical", "continue": True},
        {"channel": "#chip-firehose"},
    ],
}


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A real PostgreSQL for the session; its admin URL."""
    with postgres.running() as url:
        yield url


@pytest.fixture
def pg_url(pg_server: str) -> str:
    """An empty PostgreSQL database of this test's own."""
    return postgres.new_database(pg_server)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """Run the test on each backend: None for SQLite (the config's state file), else the
    URL of an empty PostgreSQL database (put in the config as `state.url`)."""
    if request.param == "sqlite":
        return None
    return str(postgres.new_database(request.getfixturevalue("pg_server")))


def write_config(tmp_path: Path, feeds: list[dict[str, Any]], slack_url: str | None = None,
                 *, database: str | None = None, **overrides: Any) -> Path:
    """A config in tmp_path with the test rules, the given feeds and a state file there (or
    the PostgreSQL `database` URL)."""
    state: dict[str, Any] = {"path": str(tmp_path / "state" / "chipwatch.db")}
    if database:
        state["url"] = database
    data: dict[str, Any] = {
        "defaults": {"interval": "1m", "max_age": "3650d", "jitter": "0s"},
        "feeds": feeds,
        **TEST_RULES,
        "slack": {"api_url": slack_url, "per_channel_interval": "0s"},
        "state": state,
    }
    data.update(overrides)
    path = tmp_path / "chipwatch.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 60, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot ARGS` as a user would, with a clean Slack environment."""
    full_env = {k: v for k, v in os.environ.items()
                if k not in ("SLACK_BOT_TOKEN", "SLACK_API_URL", "CHIPWATCH_CONFIG",
                             "CHIPWATCH_DATABASE_URL")}
    full_env["PYTHONPATH"] = str(REPO)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd or REPO, timeout=timeout, input=stdin)


def slack_env(slack: FakeSlack) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": slack.base_url}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The figures the loopback tests measured (see tests/support/figures.py)."""
    from tests.support import figures

    figures.write(terminalreporter)
