"""A state directory this user may not write: `run --once --dry-run` works there (it writes
no state: it reads the file as it stands into memory), and a plain `run` says that the
directory is read-only instead of only "unable to open"."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.failsafe.readers import as_reader, stopped_bot_state
from tests.service.helpers import H200
from tests.support.feed_server import FeedServer
from tests.support.util import rss

pytestmark = pytest.mark.slow  # subprocess runs as another user

ENTITY = "US adds Chinese chip firms to the entity list"


def test_dry_run_once_on_a_read_only_state_directory(shared_dir: Path,
                                                     feed_server: FeedServer) -> None:
    config, state = stopped_bot_state(shared_dir, feed_server)
    before = state.read_bytes()
    feed_server.serve("/f.rss", rss([H200, ENTITY]))  # one item the state has not seen

    out = as_reader(shared_dir, "run", "--once", "--dry-run", "--config", str(config))
    assert out.returncode == 0, out.stderr
    assert "entity list" in out.stdout and "H200" not in out.stdout  # only the new item
    assert "state_snapshot" in out.stderr  # it says it read the file as it stands
    assert state.read_bytes() == before
    assert sorted(p.name for p in state.parent.iterdir()) == [
        "chipwatch.db", "chipwatch.db.lock", "chipwatch.validated"]


def test_plain_run_names_the_read_only_state_directory(shared_dir: Path,
                                                       feed_server: FeedServer) -> None:
    config, state = stopped_bot_state(shared_dir, feed_server)
    out = as_reader(shared_dir, "run", "--once", "--config", str(config))
    assert out.returncode == 1
    failed = [line for line in out.stderr.splitlines() if "ERROR failed " in line]
    assert len(failed) == 1, out.stderr  # the one line that ends the run says why
    assert f"the state directory {state.parent} is read-only" in failed[0]
