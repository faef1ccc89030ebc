"""A rule muted from Slack ("Mute rule 24h", `/chipwatch mute`) is silent in every channel,
digests included, and `chipwatch explain` says so (who, until when), as it shows a config
`mute_until`. Real SQLite state, the real App and WebClient against the fake Slack."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.clock import FakeClock
from bot.config import load_config
from bot.store import actions
from tests.conftest import FEEDS, slack_env, write_config
from tests.support.cli import invoke
from tests.support.fake_slack import FakeSlack

T0 = datetime(2026, 1, 28, 12, 10, tzinfo=UTC)
H200 = "China approves first imports of Nvidia's H200 AI chips, sources say"
ADMIN = "UADMIN1"
ROUTES = [{"channel": "#chip-alerts", "tags": ["nvidia"], "continue": True},
          {"channel": "#digest", "mode": "digest", "every": "1h"}]


def _config(tmp_path: Path) -> Path:
    return write_config(tmp_path, [{"name": "chip", "url": str(FEEDS / "chip-news.rss")}],
                        routes=ROUTES)


def _mute(app: App, rule: str, until: datetime) -> None:
    """What an admin's Mute rule 24h button stores (`bot.slack.actions`)."""
    with app.db.tx() as conn:
        actions.mute_rule(conn, rule, until, ADMIN, 1, T0)


def test_a_rule_muted_from_slack_stays_out_of_digests(tmp_path: Path,
                                                      fake_slack: FakeSlack) -> None:
    clock = FakeClock(T0)
    app = App.build(load_config(_config(tmp_path)), env=slack_env(fake_slack), clock=clock)
    try:
        _mute(app, "china-nvidia-imports", T0 + timedelta(hours=24))
        app.run_once()
        assert fake_slack.state.top_level("#chip-alerts") == []  # immediate: held, as before
        clock.advance(timedelta(hours=1))
        app.run_once()
        digests = fake_slack.state.top_level("#digest")
        assert len(digests) == 1
        blocks = json.dumps(digests[0]["blocks"])
        assert "entity list" in blocks  # another rule: still digested
        assert "first imports" not in blocks and "smuggled" not in blocks
    finally:
        app.close()


def test_explain_shows_who_muted_the_rule_and_until_when(
    tmp_path: Path, fake_slack: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path)
    app = App.build(load_config(config), env=slack_env(fake_slack), clock=FakeClock(T0))
    try:
        _mute(app, "china-nvidia-imports", T0 + timedelta(hours=24))
    finally:
        app.close()
    now = (T0 + timedelta(hours=1)).isoformat()
    code, out, err = invoke(capsys, "explain", H200, "--now", now, "--config", str(config))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].startswith("verdict:  no alert: every rule that fired is muted from Slack")
    assert not any(line.startswith("channels:") for line in lines)
    assert ("  + china-nvidia-imports [high] on H200, China, approves (approv*), imports "
            f"(import*) (muted from Slack by {ADMIN} until 2026-01-29 12:10 UTC)") in lines

    code, out, _ = invoke(capsys, "explain", H200, "--now", now, "--json", "--config",
                          str(config))
    data = json.loads(out)
    assert data["alert"] is False and data["muted_from_slack"] is True
    rule = next(r for r in data["rules"] if r["id"] == "china-nvidia-imports")
    assert rule["slack_mute"] == {"by": ADMIN, "until": "2026-01-29T12:10:00+00:00"}

    # Once the mute has lapsed the headline alerts again.
    later = (T0 + timedelta(hours=25)).isoformat()
    code, out, _ = invoke(capsys, "explain", H200, "--now", later, "--config", str(config))
    assert out.splitlines()[1].startswith("verdict:  ALERT") and "muted from Slack" not in out


def test_explain_before_the_first_run_needs_no_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = invoke(capsys, "explain", H200, "--config", str(_config(tmp_path)))
    assert code == 0 and out.splitlines()[1].startswith("verdict:  ALERT") and err == ""
