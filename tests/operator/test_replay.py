"""`chipwatch replay`: current or candidate rules over stored items, diffed, read-only."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import FEEDS, REPO, TEST_RULES, run_cli, write_config
from tests.support.cli import invoke

pytestmark = pytest.mark.slow  # subprocess runs of `run --once` and `replay`

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


def test_a_story_whose_severity_or_channels_change_is_changed(
    stored: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same rules, but the H200 rule is now critical: #policy takes it as well.
    rules = [dict(r) for r in TEST_RULES["rules"]]
    rules[0]["severity"] = "critical"
    candidate = tmp_path / "critical.yaml"
    candidate.write_text(yaml.safe_dump({"rules": rules}, sort_keys=False))
    code, out, err = invoke(capsys, "replay", "--config", str(stored), "--rules",
                            str(candidate), "--json")
    assert code == 0, err
    stories = {s["title"]: s for s in json.loads(out)["stories"]}
    h200 = next(s for t, s in stories.items() if "first imports" in t)
    assert h200["change"] == "changed"
    assert (h200["severity"], h200["actual_severity"]) == ("critical", "high")
    assert "#policy" in h200["would_channels"] and "#policy" not in h200["actual_channels"]
    # Every story that rule fired on changed; the others did not.
    assert {t: s["change"] for t, s in stories.items()} == {
        t: "changed" if "china-nvidia-imports" in s["rules"] else "unchanged"
        for t, s in stories.items()}
    code, out, err = invoke(capsys, "replay", "--config", str(stored), "--rules",
                            str(candidate))
    changed = out[out.index("CHANGED ("):out.index("UNCHANGED (")]
    assert "~ [critical] China approves first imports" in changed
    assert "severity was high" in changed and "channels were #chip-alerts, #chip-firehose" \
        in changed
    assert "changed 2 · unchanged 1" in out


def test_a_candidate_with_fewer_rules_runs_under_the_config_routes(
    stored: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Only a food rule: the config's routes name tags (nvidia) the candidate has no rule for.
    candidate = tmp_path / "fewer.yaml"
    candidate.write_text(yaml.safe_dump({"terms": CANDIDATE["terms"],
                                         "rules": [CANDIDATE["rules"][1]]}, sort_keys=False))
    code, out, err = invoke(capsys, "replay", "--config", str(stored), "--rules",
                            str(candidate), "--json")
    assert code == 0, err
    changes = {s["change"] for s in json.loads(out)["stories"]}
    assert changes == {"new", "dropped"}
    assert str(candidate) not in err  # nothing is wrong with the candidate
    lines = stored.read_text().splitlines()
    routes = lines.index("routes:")
    tag_line = next(n for n in range(routes, len(lines)) if lines[n].endswith("- nvidia")) + 1
    assert err.splitlines() == [f"{stored}:{tag_line}: warning: routes[0].tags[0]: no rule "
                                "carries tag 'nvidia'"]


def test_durations_on_the_command_line_need_a_unit(
    stored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = invoke(capsys, "replay", "--since", "7", "--config", str(stored))
    assert code == 2 and "--since: a duration needs a unit: write 7s, 7m, 7h or 7d" in err
    code, _, err = invoke(capsys, "health", "--max-age", "120", "--config", str(stored))
    assert code == 2 and "--max-age: a duration needs a unit" in err
    code, out, _ = invoke(capsys, "replay", "--since", "90m", "--config", str(stored))
    assert code == 0 and "(90m) with rules from" in out
