"""`chipwatch explain`: rules fired and why not, tags, severity, channels; --json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, REPO, TEST_RULES, write_config
from tests.support.cli import invoke, run_here

BUNDLED = str(REPO / "config" / "chipwatch.yaml")
FOUNDING = "China approves first imports of Nvidia's H200 AI chips, sources say"


def _json(*args: str) -> dict[str, Any]:
    res = run_here("explain", *args, "--json")
    assert res.returncode == 0, res.stderr
    data: dict[str, Any] = json.loads(res.stdout)
    return data


def test_founding_headline_on_the_bundled_config() -> None:
    res = run_here("explain", FOUNDING, "--config", BUNDLED)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert out.startswith(f"headline: {FOUNDING}\nverdict:  ALERT  severity ")
    assert "#nvidia" in out and "#h200" in out and "#china" in out
    assert "channels: #chip-alerts (immediate, route 1)" in out
    assert "matched rules (" in out and "  + " in out

    data = _json(FOUNDING, "--config", BUNDLED)
    assert data["alert"] is True and data["severity"] in ("high", "critical")
    assert {"nvidia", "h200", "china"} <= set(data["tags"])
    assert data["channels"][0]["channel"] == "#chip-alerts"
    fired = [r for r in data["rules"] if r["fired"]]
    assert fired and all(r["terms"] and not r["reasons"] for r in fired)
    assert data["channels"][0]["schedule"] is None
    assert set(data) == {"headline", "summary", "source", "now", "alert", "matched",
                         "muted_from_slack", "severity", "tags", "relevance", "channels",
                         "rules"}
    # The bundled config's relevance model judges it, and keeps it.
    rel = data["relevance"]
    assert rel["judged"] and rel["fate"] == "alert" and rel["score"] >= rel["bar"]
    assert rel["movers"] and "relevance: " in out


def test_why_rules_do_not_fire(tmp_path: Path) -> None:
    config = str(write_config(tmp_path, []))
    # `none` term hit: the rule matched its terms but says rumor.
    data = _json("China approves H200 imports", "--summary", "a rumor for now",
                 "--source", "Wire", "--config", config)
    rule = next(r for r in data["rules"] if r["id"] == "china-nvidia-imports")
    assert not rule["fired"] and rule["none_hits"] == ["rumor"]
    assert rule["reasons"] == ["`none` term 'rumor' matched"]
    assert data["alert"] is False and data["source"] == "Wire"
    # An `all` group that missed: named as written in the config ($list kept).
    data = _json("China approves chip imports", "--config", config)
    rule = next(r for r in data["rules"] if r["id"] == "china-nvidia-imports")
    assert rule["missed_all_groups"] == [1]
    assert rule["reasons"] == ["no term of all-group 1 $nvidia_ai"]
    human = run_here("explain", "China approves chip imports", "--config", config).stdout
    assert "verdict:  no alert" in human
    assert "  - china-nvidia-imports [high] (hit: China, approves (approv*), imports (import*)): "\
           "no term of all-group 1 $nvidia_ai" in human


def test_routes_and_min_severity(tmp_path: Path) -> None:
    config = str(write_config(tmp_path, []))
    # critical rule: #policy takes it (min_severity critical) and the catch-all too.
    data = _json("US adds chip firms to entity list", "--config", config)
    assert data["severity"] == "critical"
    assert [c["channel"] for c in data["channels"]] == ["#policy", "#chip-firehose"]
    # high rule: below #policy's min_severity; #chip-alerts by tag, then the catch-all.
    data = _json("China approves H200 imports", "--config", config)
    assert data["severity"] == "high"
    assert [c["channel"] for c in data["channels"]] == ["#chip-alerts", "#chip-firehose"]


def test_muted_rule_until_its_time(tmp_path: Path) -> None:
    rules: list[dict[str, Any]] = [dict(r) for r in TEST_RULES["rules"]]
    rules[0]["mute_until"] = "2026-02-01T00:00:00Z"
    config = str(write_config(tmp_path, [], rules=rules))
    before = _json("China approves H200 imports", "--now", "2026-01-31T23:59:00+00:00",
                   "--config", config)
    rule = next(r for r in before["rules"] if r["id"] == "china-nvidia-imports")
    assert rule["muted"] and not rule["fired"] and before["alert"] is False
    assert rule["reasons"][0].startswith("muted until 2026-02-01 00:00")
    after = _json("China approves H200 imports", "--now", "2026-02-01T00:00:00+00:00",
                  "--config", config)
    assert after["alert"] is True and after["tags"] == ["china", "h200", "imports", "nvidia"]


def test_broken_config_exits_2() -> None:
    broken = str(FIXTURES / "configs" / "schema_errors.yaml")
    res = run_here("explain", FOUNDING, "--config", broken)
    assert res.returncode == 2
    assert "rules[0].colour: unknown key" in res.stderr


def test_digest_routes_show_their_schedule(tmp_path: Path) -> None:
    routes = [{"channel": "#daily", "mode": "digest", "at": "09:00",
               "timezone": "Europe/Berlin", "continue": True},
              {"channel": "#hourly", "mode": "digest", "every": "1h"}]
    config = str(write_config(tmp_path, [], routes=routes))
    res = run_here("explain", "China approves H200 imports", "--config", config)
    assert "channels: #daily (digest at 09:00 Europe/Berlin, route 1), #hourly (digest every " \
           "1h, route 2)" in res.stdout
    data = _json("China approves H200 imports", "--config", config)
    assert data["channels"][1] == {"channel": "#hourly", "mode": "digest",
                                   "schedule": "every 1h", "route": 2}


def test_hits_show_the_words_matched_once_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = [{"id": "food-or-chips", "tags": ["x"], "severity": "low",
              "all": [["entity list"], ["China", "Chinese"]],
              "any": ["China", "chip*", "chips", "/wafer(s)?/"]}]
    config = str(write_config(tmp_path, [], rules=rules, routes=[{"channel": "#all"}]))
    code, out, err = invoke(capsys, "explain", "China adds Chipotle, chips and WAFERS to the "
                            "Entity-List", "--config", config)
    assert code == 0, err
    # The words of the headline, as written there; the pattern only where it differs.
    assert "  + food-or-chips [low] on Entity-List (entity list), China, Chipotle (chip*), " \
           "chips, WAFERS (/wafer(s)?/)\n" in out
    code, out, _ = invoke(capsys, "explain", "China chips on the entity list", "--config",
                          config, "--json")
    rule = json.loads(out)["rules"][0]
    assert rule["terms"] == ["entity list", "China", "chip*", "chips"]  # China once
    assert rule["hits"] == [{"text": "entity list", "terms": ["entity list"]},
                            {"text": "China", "terms": ["China"]},
                            {"text": "chips", "terms": ["chip*", "chips"]}]


def test_a_rule_blocked_only_by_its_none_list_is_a_near_miss(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = [dict(r) for r in TEST_RULES["rules"]]
    rules[0]["none"] = ["rumor", "unconfirmed"]
    config = str(write_config(tmp_path, [], rules=rules))
    code, out, err = invoke(capsys, "explain", "Unconfirmed rumor: China approves H200 "
                            "imports", "--config", config)
    assert code == 0, err
    assert "near misses (1, failed on one condition):" in out
    assert "  - china-nvidia-imports [high] (hit: H200, China, approves (approv*), imports " \
           "(import*)): `none` term 'rumor' matched; `none` term 'unconfirmed' matched " \
           "('Unconfirmed')" in out
