"""`chipwatch backtest`: an archive through the real stages, with its own times as the clock."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from tests.conftest import FIXTURES, write_config

ARCHIVE = FIXTURES / "archive" / "small.jsonl"


def _backtest(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> list[Any]:
    assert main(["backtest", "--config", str(config), "--json", *args]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_json_is_what_would_be_posted_in_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, [])
    sent = _backtest(capsys, config, str(ARCHIVE))
    firehose = [(m["id"], m["kind"]) for m in sent if m["channel"] == "#chip-firehose"]
    # The two H200 reports are one story: a parent, then a reply and the parent's update;
    # the rumour is vetoed by the rule's `none` list; bakery and weather never alert.
    assert firehose == [("a1", "parent"), ("a3", "reply"), ("a1", "update"),
                        ("a4", "parent")]
    parent = next(m for m in sent if m["id"] == "a1" and m["kind"] == "parent")
    assert parent["story"] == next(m["story"] for m in sent if m["id"] == "a3")
    assert parent["rules"] == ["china-nvidia-imports"] and "h200" in parent["tags"]
    assert parent["severity"] == "high" and parent["title"].startswith("China approves")
    # Seen at the end of its poll window (the test config polls every minute).
    assert parent["time"] == "2026-01-28T09:01:00+00:00"
    entity = next(m for m in sent if m["id"] == "a4")
    assert entity["channel"] == "#policy" or any(m["channel"] == "#policy" for m in sent)
    assert not (tmp_path / "state").exists()  # never writes the state file


def test_first_only_counts_each_item_once(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    sent = _backtest(capsys, write_config(tmp_path, []), str(ARCHIVE), "--first-only")
    assert [m["id"] for m in sent] == ["a1", "a3", "a4"]
    assert {m["kind"] for m in sent} == {"parent", "reply"}


def test_window_and_candidate_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, [])
    later = _backtest(capsys, config, str(ARCHIVE), "--from", "2026-01-29", "--first-only")
    assert [m["id"] for m in later] == ["a4"]
    early = _backtest(capsys, config, str(ARCHIVE), "--to", "2026-01-28", "--first-only")
    assert [m["id"] for m in early] == ["a1", "a3"]
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(
        "rules:\n  - {id: weather, tags: [nvidia], all: [[sunny]]}\n")
    got = _backtest(capsys, config, str(ARCHIVE), "--rules", str(candidate), "--first-only")
    assert [(m["id"], m["rules"]) for m in got] == [("a5", ["weather"])]


def test_gzip_archive_and_bad_lines(tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    lines = ARCHIVE.read_text().splitlines()
    lines.insert(1, "{not json")
    lines.insert(3, json.dumps({"id": "x", "title": "no feed"}))
    archive = tmp_path / "a.jsonl.gz"
    with gzip.open(archive, "wb") as f:
        f.write("\n".join(lines).encode() + b"\n")
        f.write(b'{"id": "latin-1", "title": "caf\xe9"}\n')  # not UTF-8: one bad line
    config = write_config(tmp_path, [])
    assert main(["backtest", "--config", str(config), "--json", "--first-only",
                 str(archive)]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["a1", "a3", "a4"]
    bad = [line for line in err.splitlines() if "archive_bad_line" in line]
    assert len(bad) == 3, err
    assert "line=2 error=not JSON" in bad[0]
    assert "line=4 error=missing field(s) link, published, feed" in bad[1]
    assert f"line={len(lines) + 1} error=not JSON" in bad[2]


def test_report_for_a_person(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, [])
    assert main(["backtest", "--config", str(config), str(ARCHIVE)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("backtest: 6 items in ")
    assert "messages: 8 — 4 parents, 2 thread replies, 2 parent updates" in out
    assert "2026-W05" in out and "#chip-firehose" in out
    assert "China approves imports of Nvidia H200 chips for three firms" in out
    assert "china-nvidia-imports" in out


def test_digest_routes_post_one_digest_per_period(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, [], routes=[
        {"channel": "#daily", "mode": "digest", "at": "09:00"}])
    sent = _backtest(capsys, config, str(ARCHIVE))
    digests = [m for m in sent if m["kind"] == "digest"]
    assert [m["time"][:10] for m in digests] == ["2026-01-29", "2026-01-30"]
    assert all(m["channel"] == "#daily" for m in digests)


def test_missing_archive_is_a_clear_error(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--config", str(write_config(tmp_path, [])),
                 str(tmp_path / "none.jsonl")]) == 1
    assert "no archive at" in capsys.readouterr().err


def test_archived_html_is_cleaned_as_a_fetched_feed_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rules see the text, not the markup: a term inside a link's URL does not fire."""
    archive = tmp_path / "html.jsonl"
    archive.write_text(json.dumps({
        "id": "h1", "title": "Markets &amp; more", "link": "https://n.example.com/a",
        "summary": '<a href="https://n.example.com/entity-list-chips">read</a> '
                   "<p>Stocks rose.</p>",
        "published": "2026-01-28T09:00:00+00:00", "feed": "https://n.example.com/rss"}) + "\n")
    config = write_config(tmp_path, [], rules=[
        {"id": "entity", "tags": ["x"], "all": [["entity list"], ["chips"]]},
        {"id": "amp", "tags": ["x"], "all": [["markets & more"]]}],
        routes=[{"channel": "#c"}])
    sent = _backtest(capsys, config, str(archive), "--first-only")
    assert [(m["id"], m["rules"], m["title"]) for m in sent] == [
        ("h1", ["amp"], "Markets & more")]
