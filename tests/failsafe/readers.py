"""A stopped bot's state in a directory another user may read, and `chipwatch` run by such a
user (who may read the state directory but not write it)."""

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


def as_reader(shared_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
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


def stopped_bot_state(shared_dir: Path, feed_server: FeedServer) -> tuple[Path, Path]:
    """A config and the state a bot left when it stopped (no -wal, no -shm beside it)."""
    feed_server.serve("/f.rss", rss([H200]))
    config = write_config(shared_dir, [{"name": "f", "url": feed_server.url("/f.rss")}])
    assert run_cli("run", "--once", "--config", str(config)).returncode == 0
    state = shared_dir / "state" / "chipwatch.db"
    db = sqlite3.connect(state)  # the last connection to close removes -wal and -shm
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return config, state
