"""Scores against labelled developments (`bot.scoring`), and `backtest --labels`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.scoring import Alert, parse_labels, read_labels, render, score
from tests.conftest import FIXTURES, write_config

ARCHIVE = FIXTURES / "archive" / "small.jsonl"
SCRIPT = Path(__file__).resolve().parents[3] / "shared" / "tools" / "score_alerts.py"

LABELS = """\
d1a\tdev\tD1\tChina approves imports
d1b\tdev\tD1\t
d1f\tfollow\tD1\tanalysis
d2a\tdev\tD2\tEntity list
d3a\tdev\tD3\tnever alerted
d4f\tfollow\tD4\tfollow-up only: no dev report, so not a development
n1\tneg\t\tbakery
u1\tunsure\tD1\t
"""


def test_figures_follow_the_development_not_the_item() -> None:
    labels = parse_labels(LABELS.splitlines(keepends=True))
    alerts = [
        Alert("d1a", "s1"),            # D1's parent
        Alert("d2a", "s1"),            # D2 only as a reply under D1's story: buried
        Alert("d1b", "s2"),            # a second parent for D1: one extra parent
        Alert("n1", "s3"),             # a false parent
        Alert("zz", "s3", "Unseen", 0.4),  # unlabelled: a false reply, listed
        Alert("d1f", "s4"),            # a follow-up opens a third parent for D1
    ]
    got = score(labels, alerts)
    assert (got.developments, got.alerted, got.surfaced) == (3, 2, 1)
    assert got.missed == ("D3",) and got.buried == ("D2",)
    assert got.extra_parents == 2 and got.parents == 4
    assert (got.false_alerts, got.false_parents) == (2, 1)
    assert got.false_parent_ids == ("n1",)
    assert [a.id for a in got.unlabelled] == ["zz"]
    assert got.key_values() == ("recall=0.667 surfaced=0.500 buried=1 extra_parents=2 "
                                "false_alerts=2 false_parents=1 parents=4 developments=3")
    text = "\n".join(render(got))
    assert "  missed: D3" in text and "  buried: D2" in text
    assert "unlabelled alert: zz Unseen (relevance 0.40)" in text
    assert json.loads(json.dumps(got.as_json()))["unlabelled"][0]["relevance"] == 0.4


def test_no_alerts_and_no_developments_divide_safely() -> None:
    got = score(parse_labels(["n1\tneg\n", "\n", "only-one-field\n"]), [])
    assert got.key_values().startswith("recall=0.000 surfaced=0.000 buried=0")
    assert got.developments == 0 and got.parents == 0


@pytest.mark.skipif(not SCRIPT.exists(), reason=f"no {SCRIPT} (the shared scoring script)")
def test_agrees_with_score_alerts_script(tmp_path: Path) -> None:
    labels = tmp_path / "labels.tsv"
    labels.write_text(LABELS)
    alerts = [Alert("d1a", "s1", "A"), Alert("d2a", "s1"), Alert("n1", "s2"),
              Alert("x9", "s3", "B"), Alert("d1f", "s3")]
    stream = tmp_path / "alerts.jsonl"
    stream.write_text("".join(json.dumps({"id": a.id, "story": a.story, "title": a.title})
                              + "\n" for a in alerts))
    out = subprocess.run([sys.executable, str(SCRIPT), str(labels), str(stream)],
                         capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == score(read_labels(labels), alerts).key_values()


def _labels_for_small(tmp_path: Path) -> Path:
    labels = tmp_path / "labels.tsv"
    labels.write_text("a1\tdev\tH200\t\na3\tdev\tH200\t\na2\tneg\t\t\n"
                      "a6\tdev\tMISSED\t\n")
    return labels


def test_backtest_labels_prints_scores(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, [])
    labels = _labels_for_small(tmp_path)
    out_json = tmp_path / "score.json"
    assert main(["backtest", "--config", str(config), str(ARCHIVE), "--labels", str(labels),
                 "--score-json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "scores against" in out and "  missed: MISSED" in out
    # a4 alerts (the entity-list story) but nobody labelled it: listed for a look.
    assert "unlabelled alert: a4" in out
    assert out.rstrip().splitlines()[-1].strip() == (
        "recall=0.500 surfaced=1.000 buried=0 extra_parents=0 false_alerts=1 "
        "false_parents=1 parents=2 developments=2")
    saved = json.loads(out_json.read_text())
    assert saved["missed_ids"] == ["MISSED"] and saved["false_parent_ids"] == ["a4"]


def test_json_mode_keeps_its_stream_and_writes_scores_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, [])
    labels = _labels_for_small(tmp_path)
    out_json = tmp_path / "score.json"
    assert main(["backtest", "--config", str(config), str(ARCHIVE), "--json", "--first-only",
                 "--labels", str(labels), "--score-json", str(out_json)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["a1", "a3", "a4"]
    assert json.loads(out_json.read_text())["recall"] == 0.5
    assert main(["backtest", "--config", str(config), str(ARCHIVE), "--json",
                 "--labels", str(labels), "--score-json", "-"]) == 1
    assert "name a file" in capsys.readouterr().err


def test_labels_work_with_window_and_candidate_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, [])
    labels = _labels_for_small(tmp_path)
    assert main(["backtest", "--config", str(config), str(ARCHIVE), "--labels", str(labels),
                 "--from", "2026-01-29"]) == 0
    assert "recall=0.000" in capsys.readouterr().out
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text("rules:\n  - {id: bread, tags: [nvidia], all: [[sourdough]]}\n")
    assert main(["backtest", "--config", str(config), str(ARCHIVE), "--labels", str(labels),
                 "--rules", str(candidate)]) == 0
    assert "false_alerts=1 false_parents=1 parents=1" in capsys.readouterr().out


def test_unreadable_labels_are_a_clear_error(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, [])
    assert main(["backtest", "--config", str(config), str(ARCHIVE),
                 "--labels", str(tmp_path / "none.tsv")]) == 1
    assert "cannot read labels" in capsys.readouterr().err
    empty = tmp_path / "empty.tsv"
    empty.write_text("\n")
    assert main(["backtest", "--config", str(config), str(ARCHIVE),
                 "--labels", str(empty)]) == 1
    assert "no labels in" in capsys.readouterr().err
