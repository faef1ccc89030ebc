"""What backtest lacked: clear refusals, quiet weeks, one archive format with `cluster`,
and an archive built from the bot's own state (`state export-archive`)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import FIXTURES, run_cli, write_config

ARCHIVE = FIXTURES / "archive" / "small.jsonl"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["backtest", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_empty_windows_and_bad_archives_fail_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(write_config(tmp_path, []))
    code, _, err = _run(capsys, "--config", config, str(ARCHIVE), "--from", "2030-01-01")
    assert code == 1 and "no items in" in err and "from 2030-01-01" in err
    code, _, err = _run(capsys, "--config", config, str(ARCHIVE), "--from", "2026-02-01",
                        "--to", "2026-01-01")
    assert code == 1 and "is after --to" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n[1]\n")
    code, _, err = _run(capsys, "--config", config, str(bad))
    assert code == 1 and "every line of" in err and "(2 skipped)" in err
    code, _, err = _run(capsys, "--config", config, str(ARCHIVE), "--first-only")
    assert code == 1 and "--first-only shapes --json's output" in err


def test_quiet_weeks_are_rows_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = ARCHIVE.read_text().splitlines()
    later = json.loads(lines[0]) | {"id": "late", "title": "Local bakery opens a shop",
                                    "published": "2026-02-20T09:00:00+00:00"}
    archive = tmp_path / "gap.jsonl"
    archive.write_text("\n".join([*lines, json.dumps(later)]) + "\n")
    code, out, _ = _run(capsys, "--config", str(write_config(tmp_path, [])), str(archive))
    assert code == 0
    weeks = [line.split()[0] for line in out.splitlines() if line.startswith("  2026-W")]
    assert weeks == ["2026-W05", "2026-W06", "2026-W07", "2026-W08"]


def test_one_archive_format_for_backtest_and_cluster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cluster`'s lines (source, no feed) backtest; backtest's lines (feed) cluster."""
    rows = [json.loads(line) for line in ARCHIVE.read_text().splitlines()]
    with_source = tmp_path / "source.jsonl"
    with_source.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "feed"}
                                              | {"source": r["feed"].split("/")[2]}) + "\n"
                                   for r in rows))
    config = str(write_config(tmp_path, []))
    assert main(["backtest", "--config", config, "--json", "--first-only",
                 str(with_source)]) == 0
    got = [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()]
    assert got == ["a1", "a3", "a4"]
    done = run_cli("cluster", "--config", config, stdin=ARCHIVE.read_text())
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["id"] for line in done.stdout.splitlines()] == [
        r["id"] for r in rows]


@pytest.mark.slow
def test_export_archive_from_the_bots_own_state(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    feed = FIXTURES / "feeds" / "chip-news.rss"
    config = write_config(tmp_path, [{"name": "chip", "url": str(feed)}])
    ran = run_cli("run", "--once", "--config", str(config))
    assert ran.returncode == 0, ran.stderr
    archive = tmp_path / "own.jsonl.gz"
    done = run_cli("state", "export-archive", "--config", str(config), "-o", str(archive))
    assert done.returncode == 0, done.stderr
    assert "items from" in done.stdout
    lines = [json.loads(x) for x in gzip.decompress(archive.read_bytes()).splitlines()]
    assert lines and all(r["feed"] == "chip" and r["title"] for r in lines)
    assert [r["published"] for r in lines] == sorted(r["published"] for r in lines)
    # The archive backtests as it is.
    assert main(["backtest", "--config", str(config), str(archive)]) == 0
    assert f"backtest: {len(lines)} items" in capsys.readouterr().out
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    missing = run_cli("state", "export-archive", "--config", str(write_config(fresh, [])),
                      "-o", str(tmp_path / "x.jsonl"))
    assert missing.returncode == 1 and "no state file" in missing.stderr
    assert not (tmp_path / "x.jsonl").exists()


def test_escalation_posts_are_in_the_messages(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Two outlets report the H200 story within 25 minutes: one escalation post, after its
    parent, in escalate.channel, titled with the parent's headline."""
    config = write_config(tmp_path, [], escalate={"sources": 2, "within": "2h",
                                                  "channel": "#escalations"})
    assert main(["backtest", "--config", str(config), "--json", str(ARCHIVE)]) == 0
    sent = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    escalations = [m for m in sent if m["kind"] == "escalation"]
    assert [m["channel"] for m in escalations] == ["#escalations"]
    parent = next(i for i, m in enumerate(sent) if m["id"] == "a1" and m["kind"] == "parent")
    assert sent.index(escalations[0]) > parent
    assert escalations[0]["story"] == sent[parent]["story"]
    # It carries its story's headline (the parent's) and the severity it is posted at.
    assert escalations[0]["title"] == sent[parent]["title"] != ""
    assert escalations[0]["severity"] == sent[parent]["severity"]
    assert main(["backtest", "--config", str(config), str(ARCHIVE)]) == 0
    assert ", 1 escalations" in capsys.readouterr().out
    # escalate.severity raises the post above its parent's severity.
    config = write_config(tmp_path, [], escalate={"sources": 2, "within": "2h",
                                                  "channel": "#escalations",
                                                  "severity": "critical"})
    assert main(["backtest", "--config", str(config), "--json", str(ARCHIVE)]) == 0
    sent = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [m["severity"] for m in sent if m["kind"] == "escalation"] == ["critical"]
