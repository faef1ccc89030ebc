"""`chipwatch state copy --to postgresql://…`: an install moves from its SQLite file to
PostgreSQL with everything it knows, once; the PostgreSQL bot then repeats nothing."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.app import App
from bot.clock import SYSTEM_CLOCK
from bot.config import load_config
from bot.store import SqliteStore, actions, lease, notices
from bot.store.copy import NOT_COPIED, TABLES
from bot.store.postgres import PostgresStore
from bot.store.readonly import tables
from tests.conftest import FEEDS, TEST_RULES, write_config
from tests.support.cli import run_here
from tests.support.feed_server import FeedServer
from tests.support.util import wait_for


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


def test_copy_knows_every_table_the_migrations_create(tmp_path: Path, pg_url: str) -> None:
    """A table a migration adds is either copied or named as the database's own, with why:
    a table the copy does not know fails here."""
    sqlite = SqliteStore.open(tmp_path / "state.db")
    pg = PostgresStore.open(pg_url)
    try:
        for db in (sqlite, pg):
            with db.reading() as conn:
                schema = tables(conn)
            unknown = schema - set(TABLES) - set(NOT_COPIED)
            assert not unknown, f"{db.backend}: state copy does not know {sorted(unknown)}"
            assert set(TABLES) <= schema
    finally:
        sqlite.close()
        pg.close()


def _slack_actions(state: Path) -> None:
    """What a team does in Slack, through the same store calls the bot makes: a Not-relevant
    mark, a story mute, an admin's Mute rule 24h, an escalation."""
    db = SqliteStore.open(state)
    now = SYSTEM_CLOCK.now()
    with db.tx() as conn:
        item_id, story_id, channel = conn.execute(
            "SELECT item_id, story_id, channel FROM outbox WHERE kind = 'alert' "
            "ORDER BY id LIMIT 1").fetchone()
        marked = actions.log_action(conn, "Env-mark", "not_relevant", "U0MARKER", "C1",
                                    item_id, now)
        actions.add_mark(conn, actions.Mark(item_id, story_id, channel, "U0MARKER",
                                            ("china-nvidia-imports",), "t", "l", "s", now),
                         marked)
        muted = actions.log_action(conn, "Env-story", "mute_story", "U0MUTER", "C1",
                                   story_id, now)
        actions.mute_story(conn, story_id, channel, "U0MUTER", muted, now)
        rule = actions.log_action(conn, "Env-rule", "mute_rule", "U0ADMIN", "C1",
                                  "china-nvidia-imports", now)
        actions.mute_rule(conn, "china-nvidia-imports", now + timedelta(hours=24), "U0ADMIN",
                          rule, now)
        actions.log_action(conn, "Env-refused", "mute_rule", "U0NOBODY", "C1", "x", now)
        actions.escalate(conn, story_id, 5, now)
        notices.open_notice(conn, "chip", "failing", now.isoformat(), now)  # ops' view
    db.close()


def _rows(conn: Any, table: str) -> list[tuple[Any, ...]]:
    return sorted((tuple(r) for r in conn.execute(f"SELECT * FROM {table}")), key=repr)


def test_copy_carries_what_the_team_did_in_slack(
        tmp_path: Path, feed_server: FeedServer, pg_url: str) -> None:
    url = feed_server.serve("/chip.rss", (FEEDS / "chip-news.rss").read_bytes())
    digest = {"channel": "#digest", "mode": "digest", "every": "1h", "continue": True}
    config = write_config(tmp_path, [{"name": "chip", "url": url}],
                          routes=[digest, *TEST_RULES["routes"]])
    assert run_here("run", "--once", "--config", str(config)).returncode == 0
    state = tmp_path / "state" / "chipwatch.db"
    _slack_actions(state)

    copied = run_here("state", "copy", "--config", str(config), "--to", pg_url)
    assert copied.returncode == 0, copied.stderr
    for table in ("slack_actions", "story_mutes", "rule_mutes", "feedback", "escalations"):
        assert table in copied.stdout

    sqlite, pg = SqliteStore.open(state), PostgresStore.open(pg_url)
    try:
        with sqlite.reading() as src, pg.reading() as dst:
            for table in TABLES:  # every row, every column, as the file holds it
                before = _rows(src, table)
                assert before, f"the test leaves {table} empty"
                assert _rows(dst, table) == before, table
            now = SYSTEM_CLOCK.now()
            assert set(actions.muted_rules(dst, now)) == {"china-nvidia-imports"}
            assert actions.logged(dst, "Env-rule") is not None  # a redelivery applies once
            assert [m.user_id for m in actions.marks(dst)] == ["U0MARKER"]
        with pg.tx() as conn:  # the next action gets a fresh id, after the copied ones
            fresh = actions.log_action(conn, "Env-new", "mute_story", "U0", None, None,
                                       SYSTEM_CLOCK.now())
        assert fresh == 5
    finally:
        sqlite.close()
        pg.close()


def test_force_never_overwrites_a_database_replicas_run_on(
        tmp_path: Path, feed_server: FeedServer, pg_url: str) -> None:
    url = feed_server.serve("/chip.rss", (FEEDS / "chip-news.rss").read_bytes())
    config = write_config(tmp_path, [{"name": "chip", "url": url}])
    assert run_here("run", "--once", "--config", str(config)).returncode == 0
    assert run_here("state", "copy", "--config", str(config), "--to", pg_url).returncode == 0

    folder = tmp_path / "replica"
    folder.mkdir()
    app = App.build(load_config(write_config(folder, [{"name": "chip", "url": url}],
                                             database=pg_url,
                                             ha={"failover": "3s", "replica": "alpha"})),
                    env={})
    thread = threading.Thread(target=app.run_forever, kwargs={"env": {}}, daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: app.leader.may_act(), 20)
        with app.db.reading() as conn:
            term = lease.leader(conn).term
        forced = run_here("state", "copy", "--config", str(config), "--to", pg_url, "--force")
        assert forced.returncode == 1
        assert "replica alpha" in forced.stderr and "stop every replica" in forced.stderr
        with app.db.reading() as conn:
            assert lease.leader(conn).term == term and lease.leader(conn).holder == "alpha"
        assert app.leader.may_act()  # the copy left the running leader alone
    finally:
        app.stop.set()
        thread.join(30)
        app.close()
    # stopped cleanly: nobody runs on it now, so --force replaces it
    forced = run_here("state", "copy", "--config", str(config), "--to", pg_url, "--force")
    assert forced.returncode == 0, forced.stderr


def test_copy_refuses_a_live_standby_and_goes_ahead_once_it_stopped(
        tmp_path: Path, pg_url: str) -> None:
    """A replica that reported in lately as standby may take over at any moment: refused,
    named; once it reports itself stopped the copy goes ahead."""
    config = write_config(tmp_path, [])
    SqliteStore.open(tmp_path / "state" / "chipwatch.db").close()
    pg = PostgresStore.open(pg_url)
    try:
        with pg.tx() as conn:
            lease.report(conn, "beta", "standby", None)
        refused = run_here("state", "copy", "--config", str(config), "--to", pg_url)
        assert refused.returncode == 1 and "replica beta (standby)" in refused.stderr
        with pg.tx() as conn:
            lease.report(conn, "beta", "stopped", None)
    finally:
        pg.close()
    copied = run_here("state", "copy", "--config", str(config), "--to", pg_url)
    assert copied.returncode == 0, copied.stderr
