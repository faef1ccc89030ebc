"""The bundled defaults, as a newcomer runs them: offline, no token, alerts on the console."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

pytestmark = pytest.mark.slow  # subprocess: the bundled defaults as a newcomer runs them

FOUNDING = "China approves first imports of Nvidia's H200 AI chips, sources say"


def _bundled(tmp_path: Path) -> str:
    """A copy of the bundled config folder: its state lands in tmp_path/state, not the repo."""
    shutil.copytree(REPO / "config", tmp_path / "config")
    return str(tmp_path / "config" / "chipwatch.yaml")


def test_run_once_on_the_defaults_prints_the_h200_alert_and_nothing_else(tmp_path: Path) -> None:
    config = _bundled(tmp_path)
    first = run_cli("run", "--once", "--config", config, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    blocks = [b for b in first.stdout.split("\n\n") if b.strip()]
    assert blocks[0].startswith("──── #chip-alerts ────\n" + FOUNDING)
    assert "#nvidia" in blocks[0] and "#h200" in blocks[0] and "#china" in blocks[0]
    assert "CRITICAL" in blocks[0] or "HIGH" in blocks[0]
    assert blocks[1:] == ["     … also to #chip-firehose"]  # one alert, two channels
    assert "alerts=1" in first.stderr and (tmp_path / "state" / "chipwatch.db").exists()

    # From another working directory: the same state file (it sits beside the config), so
    # nothing is posted again.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    second = run_cli("run", "--once", "--config", config, cwd=elsewhere)
    assert second.returncode == 0 and second.stdout == ""  # never a repeat
    assert not (elsewhere / "state").exists()


def test_dry_run_prints_but_remembers_nothing(tmp_path: Path) -> None:
    config = _bundled(tmp_path)
    for _ in range(2):
        dry = run_cli("run", "--once", "--dry-run", "--config", config, cwd=tmp_path)
        assert dry.returncode == 0 and FOUNDING in dry.stdout
    assert not (tmp_path / "state" / "chipwatch.db").exists()
