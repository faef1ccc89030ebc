"""`chipwatch state copy --to postgresql://…`: an install moves from its SQLite file to
PostgreSQL with everything it knows, once; the PostgreSQL bot then repeats nothing."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import FEEDS, write_config
from tests.support.cli import run_here
from tests.support.feed_server import FeedServer


def test_copy_moves_the_state_refuses_a_full_target_and_the_bot_goes_on(
        tmp_path: Path, feed_server: FeedServer, pg_url: str) -> None:
    url = feed_server.serve("/chip.rss", (FEEDS / "chip-news.rss").read_bytes())
    config = write_config(tmp_path, [{"name": "chip", "url": url}])
    first = run_here("run", "--once", "--config", str(config))  # console alerts, SQLite
    assert first.returncode == 0, first.stderr
    sqlite_status = json.loads(run_here("status", "--json", "--config", str(config)).stdout)

    copied = run_here("state", "copy", "--config", str(config), "--to", pg_url)
    assert copied.returncode == 0, copied.stderr
    assert "items" in copied.stdout and "outbox" in copied.stdout
    assert "postgres:***@" in copied.stdout  # the URL shown without its password
    again = run_here("state", "copy", "--config", str(config), "--to", pg_url)
    assert again.returncode == 1 and "already holds state" in again.stderr
    forced = run_here("state", "copy", "--config", str(config), "--to", pg_url, "--force")
    assert forced.returncode == 0 and forced.stdout.splitlines()[1:] == \
        copied.stdout.splitlines()[1:]

    on_pg = write_config(tmp_path, [{"name": "chip", "url": url}], database=pg_url)
    pg_status = json.loads(run_here("status", "--json", "--config", str(on_pg)).stdout)
    assert pg_status["feeds"] == sqlite_status["feeds"]
    assert pg_status["outbox"] == sqlite_status["outbox"]
    assert pg_status["stories"] == sqlite_status["stories"]
    assert pg_status["ha"]["leader"] is None  # nobody runs yet

    run = run_here("run", "--once", "--config", str(on_pg))
    assert run.returncode == 0, run.stderr
    assert "alerts=0" in run.stderr  # everything was already seen: nothing alerts twice
    after = json.loads(run_here("status", "--json", "--config", str(on_pg)).stdout)
    assert after["outbox"]["sent"] == sqlite_status["outbox"]["sent"]


def test_copy_needs_a_postgresql_url(tmp_path: Path) -> None:
    config = write_config(tmp_path, [])
    out = run_here("state", "copy", "--config", str(config), "--to", "sqlite:///x.db")
    assert out.returncode == 1 and "postgresql://" in out.stdout
