"""`status` never shows the dead as alive: a SIGKILLed leader is `gone` once another replica
holds the lease (not a second `leader`), and a feed removed from the config is marked
removed, never due, and not counted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bot.app import App
from bot.config import load_config
from bot.store import lease
from bot.store.postgres import PostgresStore
from tests.conftest import REPO, write_config
from tests.service.helpers import H200
from tests.support.cli import run_here
from tests.support.feed_server import FeedServer
from tests.support.util import rss, wait_for

HA = {"failover": "3s"}


def _holder(pg: PostgresStore) -> str | None:
    with pg.reading() as conn:
        lead = lease.leader(conn)
    return lead.holder if (lead.expires_in or 0) > 0 else None


@pytest.mark.slow  # a replica process, killed
def test_a_killed_leader_shows_as_gone_beside_the_new_one(
        tmp_path: Path, pg_url: str, feed_server: FeedServer) -> None:
    feeds = [{"name": "f", "url": feed_server.serve("/f.rss", rss([H200]))}]
    first = tmp_path / "r1"
    first.mkdir()
    config = write_config(first, feeds, database=pg_url, ha={**HA, "replica": "r1"})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHIPWATCH_"))}
    with (tmp_path / "r1.log").open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(config)],
                                stdout=subprocess.DEVNULL, stderr=log,
                                env={**env, "PYTHONPATH": str(REPO)}, cwd=REPO)
    pg = PostgresStore.open(pg_url)
    second = tmp_path / "r2"
    second.mkdir()
    app = App.build(load_config(write_config(second, feeds, database=pg_url,
                                             ha={**HA, "replica": "r2"})), env={})
    thread = threading.Thread(target=app.run_forever, kwargs={"env": {}}, daemon=True)
    try:
        assert wait_for(lambda: _holder(pg) == "r1", 30), (tmp_path / "r1.log").read_text()
        proc.kill()  # SIGKILL: no release, its last report still says leader
        proc.wait(10)
        thread.start()
        assert wait_for(app.leader.may_act, 20)  # r2 took the lapsed lease

        data = json.loads(run_here("status", "--json", "--config", str(config)).stdout)
        roles = {r["name"]: (r["role"], r["reported_role"]) for r in data["ha"]["replicas"]}
        assert roles == {"r1": ("gone", "leader"), "r2": ("leader", "leader")}
        assert data["ha"]["leader"] == "r2"
        table = run_here("status", "--config", str(config)).stdout
        assert "replica r1: gone (last reported leader)" in table, table
        assert "replica r2: leader" in table and table.count(": leader") == 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        app.stop.set()
        if thread.is_alive():
            thread.join(30)
        app.close()
        pg.close()


def test_a_feed_removed_from_the_config_is_shown_removed(tmp_path: Path,
                                                         feed_server: FeedServer) -> None:
    keep = {"name": "keep", "url": feed_server.serve("/keep.rss", rss([H200]))}
    gone = {"name": "dropped", "url": feed_server.serve("/dropped.rss", rss(["x"]))}
    config = write_config(tmp_path, [keep, gone])
    assert run_here("run", "--once", "--config", str(config)).returncode == 0
    write_config(tmp_path, [keep])  # the edit a hot reload takes

    data = json.loads(run_here("status", "--json", "--config", str(config)).stdout)
    dropped = next(f for f in data["feeds"] if f["feed"] == "dropped")
    assert dropped["configured"] is False and dropped["next_due"] is None
    assert not dropped["overdue"]
    table = run_here("status", "--config", str(config)).stdout
    row = next(line for line in table.splitlines() if line.startswith("dropped"))
    assert row.startswith("dropped (removed)") and " in " not in row and " ago  " in row
    assert "feeds: 1 total, 0 failing, 1 removed from the config (not polled)" in table
