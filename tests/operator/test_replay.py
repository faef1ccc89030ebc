"""`chipwatch replay`: current or candidate rules over stored items, diffed, read-only."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import FEEDS, REPO, run_cli, write_config

CANDIDATE: dict[str, Any] = {
    # Adds a list; the rule below also uses the config's own $china and $nvidia_ai.
    "terms": {"food": ["Chipotle", "burrito"]},
    "rules": [
        {"id": "china-nvidia-imports", "tags": ["nvidia", "china"], "severity": "high",
         "all": ["$nvidia_ai", "$china"], "any": ["approv*", "import*", "customs"]},
        {"id": "food", "tags": ["food"], "severity": "low", "any": ["$food"]},
    ],
}


def _files_digest(state: Path) -> tuple[str, str]:
    """The state file's bytes and its full content. (A read-only SQLite reader may create
    empty -wal/-shm companions for a WAL database; those hold no data.)"""
    with sqlite3.connect(f"file:{state}?mode=ro", uri=True) as conn:
        dump = "\n".join(conn.iterdump())
    return hashlib.sha256(state.read_bytes()).hexdigest(), dump


@pytest.fixture
def stored(tmp_path: Path) -> Path:
    """A config whose state file holds one real run over the chip-news fixture feed."""
    config = write_config(tmp_path, [{"name": "chip", "url": str(FEEDS / "chip-news.rss")}])
    res = run_cli("run", "--once", "--config", str(config))
    assert res.returncode == 0, res.stderr
    return config


def _alerted_stories(config: Path) -> set[str]:
    state = config.parent / "state" / "chipwatch.db"
    with sqlite3.connect(state) as conn:
        rows = conn.execute("SELECT COALESCE(story_id, id) FROM items WHERE status = 'alert'")
        return {r[0] for r in rows}


def test_replay_with_current_rules_changes_nothing(stored: Path) -> None:
    state = stored.parent / "state" / "chipwatch.db"
    before = _files_digest(state)
    res = run_cli("replay", "--since", "7d", "--config", str(stored), "--json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    changes = {s["id"]: s["change"] for s in data["stories"]}
    assert changes and set(changes.values()) == {"unchanged"}
    assert set(changes) == _alerted_stories(stored)
    h200 = next(s for s in data["stories"] if "first imports" in s["title"])
    assert h200["would_channels"] == h200["actual_channels"] == ["#chip-alerts",
                                                                 "#chip-firehose"]
    assert _files_digest(state) == before  # never writes


def test_replay_candidate_rules_shows_new_and_dropped(stored: Path, tmp_path: Path) -> None:
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(yaml.safe_dump(CANDIDATE, sort_keys=False))
    state = stored.parent / "state" / "chipwatch.db"
    before = _files_digest(state)
    res = run_cli("replay", "--since", "7d", "--config", str(stored), "--rules", str(candidate))
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert f"with rules from {candidate}" in out
    new = out[out.index("NEW ("):out.index("DROPPED (")]
    dropped = out[out.index("DROPPED ("):out.index("UNCHANGED (")]
    unchanged = out[out.index("UNCHANGED ("):]
    assert "+ [low] Chipotle adds a new chicken bowl" in new and "#chip-firehose" in new
    assert "- [critical] US adds 12 Chinese firms to entity list" in dropped
    assert "China approves first imports" in unchanged
    assert "would alert: " in out and "new 1 · dropped 1" in out
    assert _files_digest(state) == before


def test_replay_since_window_excludes_older_items(stored: Path) -> None:
    res = run_cli("replay", "--since", "0s", "--config", str(stored), "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["stories"] == []


def test_replay_on_broken_candidate_and_config(stored: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - id: x\n    tags: [nvidia]\n    any: ['/(a/']\n")
    res = run_cli("replay", "--config", str(stored), "--rules", str(bad))
    assert res.returncode == 2
    assert f"{bad}:2: rules[0]: rule 'x': invalid regex" in res.stderr
    broken = REPO / "tests" / "fixtures" / "configs" / "schema_errors.yaml"
    res = run_cli("replay", "--config", str(broken))
    assert res.returncode == 2 and "unknown key" in res.stderr


def test_replay_without_state_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, [])
    res = run_cli("replay", "--config", str(config))
    assert res.returncode == 1 and "no state file" in res.stdout
