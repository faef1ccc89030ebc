"""`chipwatch backtest --state FILE`: a real state file written as `run` would, retention
included, so the size a state reaches after months of feeds can be measured."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.store.retention import FEED_HISTORY
from tests.conftest import write_config

START = datetime(2026, 1, 1, 9, tzinfo=UTC)
DAYS = 40
FEED = "https://wire.example.com/rss"


def _archive(path: Path) -> Path:
    """One feed over DAYS days: three headlines no rule fires on each day, and one import
    approval on the first day."""
    lines = [{"id": "alert", "title": "China approves imports of Nvidia H200 chips",
              "summary": "", "link": "https://wire.example.com/h200", "feed": FEED,
              "published": START.isoformat()}]
    lines += [{"id": f"n{day}-{k}", "title": f"Local council meets on day {day}, item {k}",
               "summary": "Roads and parks.", "link": f"https://wire.example.com/{day}/{k}",
               "feed": FEED, "published": (START + timedelta(days=day, hours=k)).isoformat()}
              for day in range(DAYS) for k in range(3)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _config(tmp_path: Path) -> Path:
    return write_config(tmp_path, [], defaults={"interval": "1h", "max_age": "1d",
                                                "jitter": "0s"},
                        state={"path": str(tmp_path / "state" / "chipwatch.db"),
                               "keep_unmatched": "3d"})


def test_writes_a_state_with_retention_and_says_its_size(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive, state = _archive(tmp_path / "a.jsonl"), tmp_path / "measured.db"
    assert main(["backtest", "--config", str(_config(tmp_path)), str(archive),
                 "--state", str(state)]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("state: "))
    assert re.search(rf"{re.escape(str(state))} [\d.]+ MB after the archive \(state.keep "
                     r"90d, keep_unmatched 3d\); MB at each month's end: 2026-01 [\d.]+ "
                     r"2026-02 [\d.]+", line), line
    with sqlite3.connect(state) as conn:
        kept = dict(conn.execute("SELECT status, count(*) FROM items GROUP BY status"))
        log = conn.execute("PRAGMA journal_mode").fetchone()[0]
    # The alert stays for state.keep; of the 120 headlines no rule fired on, all older than
    # keep_unmatched by the end, only the feed's newest FEED_HISTORY stay (its cadence).
    assert kept == {"alert": 1, "nomatch": FEED_HISTORY}
    assert log == "wal" and not (tmp_path / "state").exists()  # run's file, not the config's


def test_refuses_to_write_over_a_file(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "bot.db"
    state.write_bytes(b"a bot's state")
    assert main(["backtest", "--config", str(_config(tmp_path)),
                 str(_archive(tmp_path / "a.jsonl")), "--state", str(state)]) != 0
    assert "exists: --state writes a new state file" in capsys.readouterr().err
    assert state.read_bytes() == b"a bot's state"
