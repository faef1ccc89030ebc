"""`chipwatch status` end to end: after a real run, as a table and as JSON, read-only."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.slack.journal import Entry, Journal, journal_path
from bot.slack.requests import Command
from tests.conftest import run_cli, slack_env, write_config
from tests.service.helpers import H200
from tests.support.fake_slack import FakeSlack, Fault
from tests.support.feed_server import FeedServer
from tests.support.util import rss

pytestmark = pytest.mark.slow  # subprocess runs of `run --once` and `status`

ENTITY = "US adds Chinese chip firms to the entity list"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_status_table_and_json_after_a_run(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack
) -> None:
    good = feed_server.serve("/good.rss", rss([H200, ENTITY]))
    bad = feed_server.serve("/bad.rss", b"down", status=503)
    config = write_config(tmp_path, [{"name": "good", "url": good},
                                     {"name": "bad", "url": bad},
                                     {"name": "later", "url": feed_server.url("/later.rss")}])
    # #policy is archived: its alert goes to dead letters with Slack's error.
    fake_slack.state.sticky.append(Fault(error="is_archived", channel="#policy"))
    ran = run_cli("run", "--once", "--config", str(config), env=slack_env(fake_slack))
    assert ran.returncode == 1, ran.stderr  # feeds failed and a row went to dead letters
    state = tmp_path / "state" / "chipwatch.db"
    before = _digest(state)

    table = run_cli("status", "--config", str(config))
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0] == f"state: {state.resolve()} (read only)"
    lines = lines[2:]
    assert lines[0].split() == ["FEED", "LAST", "SUCCESS", "STATUS", "ITEMS", "ERRORS", "NEXT",
                                "DUE", "BACKOFF", "NOTICE"]
    rows = {line.split()[0]: line for line in lines[1:4]}
    assert "200" in rows["good"] and " 2 " in rows["good"] and " no " in rows["good"]
    assert "503" in rows["bad"] and " yes " in rows["bad"]
    assert "never" in rows["later"] or "404" in rows["later"]
    assert "outbox: pending=0 inflight=0 sent=3 dead=1" in table.stdout
    assert "dead #policy alert|" in table.stdout and "is_archived" in table.stdout
    assert "stories: open=2 total=2" in table.stdout
    # The state itself: its size, oldest row, retention (run --once ran it).
    assert re.search(r"\nsize: \d+\.\d MB, oldest row \S+ ago, keep 3650d; retention ran "
                     r"\S+ ago \(removed 0\)\n", table.stdout), table.stdout

    out = run_cli("status", "--json", "--config", str(config))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    feeds = {f["feed"]: f for f in data["feeds"]}
    assert feeds["good"]["items"] == 2 and feeds["good"]["backing_off"] is False
    assert feeds["bad"]["backing_off"] is True and feeds["bad"]["last_status"] == "503"
    assert feeds["bad"]["failing_since"] is not None and feeds["bad"]["errors"] == 1
    assert data["outbox"]["dead"] == 1 and data["outbox"]["sent"] == 3
    assert "is_archived" in data["outbox"]["dead_rows"][0]["error"]
    assert data["stories"] == {"open": 2, "total": 2}
    assert _digest(state) == before  # read-only


def test_status_before_the_first_run(tmp_path: Path) -> None:
    config = write_config(tmp_path, [])
    out = run_cli("status", "--config", str(config))
    assert out.returncode == 1 and "has not run yet" in out.stdout


def test_status_shows_the_slack_journal(tmp_path: Path, feed_server: FeedServer,
                                        fake_slack: FakeSlack) -> None:
    config = write_config(tmp_path, [{"name": "good", "url": feed_server.serve(
        "/good.rss", rss([H200]))}])
    assert run_cli("run", "--once", "--config", str(config),
                   env=slack_env(fake_slack)).returncode == 0
    quiet = run_cli("status", "--config", str(config))
    assert quiet.returncode == 0 and "slack journal" not in quiet.stdout  # nothing: no line
    # What a bot leaves when the state was busy: two actions acknowledged and journaled,
    # one of which kept failing and was set aside. Written by the journal itself.
    journal = Journal(journal_path(tmp_path / "state" / "chipwatch.db"))
    came = datetime.now(UTC) - timedelta(minutes=3)
    for n, text in enumerate(["mute us-entity-list 2h", "unmute us-entity-list", "feedback"]):
        journal.append(Entry(f"env-{n}", Command("UADMIN1", "C1", text), True,
                             came + timedelta(seconds=n), None))
    journal.set_aside(journal.pending()[0], "KeyError: 'x'")

    table = run_cli("status", "--config", str(config))
    assert table.returncode == 0, table.stderr
    failed = tmp_path / "state" / "chipwatch.slack-journal.failed"
    assert (f"\nslack journal: 2 actions waiting to be applied (oldest 3m ago) · 1 set aside "
            f"in {failed}\n") in table.stdout, table.stdout
    data = json.loads(run_cli("status", "--json", "--config", str(config)).stdout)
    assert data["state_facts"]["slack_journal"] == {
        "waiting": 2, "oldest": (came + timedelta(seconds=1)).isoformat(), "set_aside": 1,
        "failed": str(failed)}
