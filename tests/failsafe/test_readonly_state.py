"""A state directory this user may not write: `run --once --dry-run` works there (it writes
no state: it reads the file as it stands into memory), and a plain `run` says that the
directory is read-only instead of only "unable to open"."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli, write_config
from tests.service.helpers import H200
from tests.support.feed_server import FeedServer
from tests.support.util import rss

pytestmark = pytest.mark.slow  # subprocess runs as another user

ENTITY = "US adds Chinese chip firms to the entity list"



def _as_reader(shared_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`chipwatch ARGS` by a user who may read the state directory but not write it."""
    cmd = [sys.executable, "-m", "bot", *args]
    if os.geteuid() == 0:  # root writes anywhere: run as nobody instead
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv")
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    else:
        (shared_dir / "state").chmod(0o555)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHIPWATCH_"))}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd="/", timeout=60)


def _stopped_bot_state(shared_dir: Path, feed_server: FeedServer) -> tuple[Path, Path]:
    """A config and the state a bot left when it stopped (no -wal, no -shm beside it)."""
    feed_server.serve("/f.rss", rss([H200]))
    config = write_config(shared_dir, [{"name": "f", "url": feed_server.url("/f.rss")}])
    assert run_cli("run", "--once", "--config", str(config)).returncode == 0
    state = shared_dir / "state" / "chipwatch.db"
    db = sqlite3.connect(state)  # the last connection to close removes -wal and -shm
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return config, state


def test_dry_run_once_on_a_read_only_state_directory(shared_dir: Path,
                                                     feed_server: FeedServer) -> None:
    config, state = _stopped_bot_state(shared_dir, feed_server)
    before = state.read_bytes()
    feed_server.serve("/f.rss", rss([H200, ENTITY]))  # one item the state has not seen

    out = _as_reader(shared_dir, "run", "--once", "--dry-run", "--config", str(config))
    assert out.returncode == 0, out.stderr
    assert "entity list" in out.stdout and "H200" not in out.stdout  # only the new item
    assert "state_snapshot" in out.stderr  # it says it read the file as it stands
    assert state.read_bytes() == before
    assert sorted(p.name for p in state.parent.iterdir()) == [
        "chipwatch.db", "chipwatch.db.lock", "chipwatch.validated"]


def test_plain_run_names_the_read_only_state_directory(shared_dir: Path,
                                                       feed_server: FeedServer) -> None:
    config, state = _stopped_bot_state(shared_dir, feed_server)
    out = _as_reader(shared_dir, "run", "--once", "--config", str(config))
    assert out.returncode == 1
    failed = [line for line in out.stderr.splitlines() if "ERROR failed " in line]
    assert len(failed) == 1, out.stderr  # the one line that ends the run says why
    assert f"the state directory {state.parent} is read-only" in failed[0]
