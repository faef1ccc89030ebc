"""`status` shows digests (alerts queued per channel, when the next goes) and works on a
state directory it may not write (saying it reads a snapshot)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import TEST_RULES, run_cli, write_config
from tests.failsafe.readers import as_reader, stopped_bot_state
from tests.service.helpers import H200
from tests.support.feed_server import FeedServer
from tests.support.util import rss

ENTITY = "US adds Chinese chip firms to the entity list"


def test_status_shows_digests(tmp_path: Path, feed_server: FeedServer) -> None:
    url = feed_server.serve("/f.rss", rss([H200, ENTITY]))
    routes = [{"channel": "#chip-digest", "mode": "digest", "every": "1h", "continue": True},
              {"channel": "#weekly", "mode": "digest", "every": "7d", "min_severity": "critical",
               "continue": True},
              *TEST_RULES["routes"]]
    config = write_config(tmp_path, [{"name": "f", "url": url}], routes=routes)
    assert run_cli("run", "--once", "--config", str(config)).returncode == 0
    table = run_cli("status", "--config", str(config)).stdout
    lines = [line for line in table.splitlines() if line.startswith("digest ")]
    assert lines[0].startswith("digest #chip-digest: queued=2 next_send=in "), table
    assert lines[1].startswith("digest #weekly: queued=1 next_send=in "), table
    data = json.loads(run_cli("status", "--json", "--config", str(config)).stdout)
    hourly = data["digests"][0]
    assert hourly["channel"] == "#chip-digest" and hourly["queued"] == 2
    assert hourly["next_send"].endswith(":00:00+00:00")  # on the hour
    assert data["now"] < hourly["next_send"]



@pytest.mark.slow
def test_status_on_a_read_only_state_directory(shared_dir: Path,
                                               feed_server: FeedServer) -> None:
    config, state = stopped_bot_state(shared_dir, feed_server)
    assert not (shared_dir / "state" / "chipwatch.db-shm").exists()
    before = state.read_bytes()
    out = as_reader(shared_dir, "status", "--config", str(config))
    assert out.returncode == 0, out.stdout + out.stderr
    first = out.stdout.splitlines()[0]
    assert first.startswith(f"state: {state} (read only; ") and "snapshot" in first
    assert any(line.split()[:1] == ["f"] and "200" in line for line in out.stdout.splitlines())
    assert state.read_bytes() == before
    # Nothing but what the run left (the database, its lock, the config's validation memo).
    assert sorted(p.name for p in state.parent.iterdir()) == [
        "chipwatch.db", "chipwatch.db.lock", "chipwatch.validated"]
