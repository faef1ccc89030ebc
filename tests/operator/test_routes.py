"""Per-route min_severity, muted rules and named term lists, through the real app."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app import App
from bot.clock import FakeClock
from bot.config import load_config
from bot.rules.engine import match
from tests.conftest import FEEDS, TEST_RULES, slack_env, write_config
from tests.support.fake_slack import FakeSlack
from tests.support.util import rss

T0 = datetime(2026, 1, 28, 12, 10, tzinfo=UTC)


def _rss(path: Path, title: str) -> str:
    path.write_bytes(rss([{"title": title, "link": f"https://news.example.com/{len(title)}",
                           "guid": title, "date": "Wed, 28 Jan 2026 12:00:00 GMT"}]))
    return str(path)


def test_min_severity_and_mute_until(tmp_path: Path) -> None:
    rules: list[dict[str, Any]] = [dict(r) for r in TEST_RULES["rules"]]
    rules[0]["mute_until"] = (T0 + timedelta(hours=1)).isoformat()
    feeds = [{"name": "chip", "url": str(FEEDS / "chip-news.rss")},
             {"name": "late", "url": _rss(tmp_path / "late.rss", "placeholder")}]
    clock = FakeClock(T0)
    with FakeSlack() as slack:
        config = load_config(write_config(tmp_path, feeds, rules=rules))
        app = App.build(config, env=slack_env(slack), clock=clock)
        try:
            app.run_once()
            state = slack.state
            # The nvidia rule is muted: nothing for #chip-alerts, its items not alerted.
            assert state.top_level("#chip-alerts") == []
            # #policy takes only critical alerts (the entity-list rule); it continues, so
            # the catch-all gets them too.
            policy = [m["text"] for m in state.top_level("#policy")]
            assert len(policy) == 1 and "entity list" in policy[0]
            firehose = [m["text"] for m in state.top_level("#chip-firehose")]
            assert firehose == policy
            statuses = dict(app.db.read("SELECT title, status FROM items"))
            assert statuses["China approves first imports of Nvidia's H200 AI chips, sources "
                            "say"] == "nomatch"

            clock.advance(timedelta(hours=1))  # the mute has ended
            late = Path(_rss(tmp_path / "late.rss", "Beijing lets firms import H-200 "
                                                    "accelerators"))
            # File feeds are conditional on mtime: make the rewrite visibly newer.
            mtime = late.stat().st_mtime_ns + 5_000_000_000
            os.utime(late, ns=(mtime, mtime))
            app.run_once()
            alerts = [m["text"] for m in state.top_level("#chip-alerts")]
            assert len(alerts) == 1 and "H-200" in alerts[0]  # via $nvidia_ai and $china
            assert len(state.top_level("#policy")) == 1  # high < critical: not for #policy
        finally:
            app.close()


def test_named_term_lists_expand_like_written_terms(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, []))
    rule = config.rules[0]
    assert [t.raw for t in rule.all_groups[0]] == ["H200", "H20", "H-200"]
    assert [t.raw for t in rule.all_groups[1]] == ["China", "Chinese", "Beijing"]
    assert match(config.rules, "Chinese regulators approve H20 imports") is not None
    assert match(config.rules, "Chinese regulators approve H2O imports") is None
    assert match(config.rules, "Chinese regulators approve H200 imports, rumor says") is None
