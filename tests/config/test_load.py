"""Config loading: strict schema, semantic checks, one line per problem with file:line: field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import load_config, parse_duration, resolve_path
from bot.errors import ConfigError
from tests.conftest import REPO, write_config
from tests.support.cli import run_here

BROKEN = Path(__file__).parent.parent / "fixtures" / "configs"

# file → (line, field, words the message must contain)
CASES = {
    "unknown-key.yaml": (2, "feeds[0].intervall", "unknown key"),
    "bad-severity.yaml": (4, "rules[0].severity", "'critical'"),
    "bad-duration.yaml": (2, "defaults.interval", "duration"),
    "no-terms.yaml": (2, "rules[0]", "no terms"),
    "duplicate-rule.yaml": (3, "rules[1].id", "duplicate rule id 'same'"),
    "unknown-route-tag.yaml": (4, "routes[0].tags[0]", "no rule carries tag 'nvidai'"),
    "wrong-type.yaml": (3, "rules[0].tags", "valid list"),
    "bad-regex.yaml": (2, "rules[0]", "nests quantifiers"),
    "unknown-list.yaml": (2, "rules[0]", "unknown term list $chinaa"),
    "invalid-yaml.yaml": (None, "", "invalid YAML"),
    "not-a-mapping.yaml": (1, "", "mapping"),
    # Duplicate keys: YAML keeps the last silently; both lines are named.
    "duplicate-key.yaml": (6, "rules[0].severity", "given at line 4 and again at line 6"),
    "duplicate-section.yaml": (6, "rules", "duplicate key 'rules': given at line 1 and again"),
    # Durations need a unit; intervals are positive and at least 30s for remote feeds.
    "bare-duration.yaml": (2, "feeds[0].interval", "needs a unit: write 10s, 10m"),
    "zero-interval.yaml": (2, "defaults.interval", "must be longer than 0s"),
    "short-interval.yaml": (3, "feeds[1].interval", "10s is too short: the minimum is 30s"),
    # Raw YAML errors get a hint; a bad term in a list is reported where the list is.
    "unquoted-alias.yaml": (4, "", "undefined alias 'export' (hint: a value starting with `*`"),
    "bad-list-regex.yaml": (3, "terms.bad[1]", "term list $bad: invalid regex /(wafer/"),
    "broken-rule-routed.yaml": (3, "rules[1]", "nests quantifiers"),
}

# Files that must report exactly one problem: no knock-on errors from the first.
SINGLE = ["bad-list-regex.yaml", "broken-rule-routed.yaml", "short-interval.yaml",
          "duplicate-key.yaml"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_config_is_rejected_with_location(name: str) -> None:
    line, field, words = CASES[name]
    with pytest.raises(ConfigError) as err:
        load_config(BROKEN / name)
    problem = err.value.problems[0]
    assert problem.file.endswith(name)
    if line is not None:
        assert problem.line == line
    assert problem.field == field
    assert words in problem.message
    assert str(problem).startswith(str(BROKEN / name))


@pytest.mark.parametrize("name", SINGLE)
def test_one_mistake_is_one_problem(name: str) -> None:
    # A broken rule must not also make its routes' tags "unknown"; a bad term list must not
    # also be blamed on every rule that uses it.
    with pytest.raises(ConfigError) as err:
        load_config(BROKEN / name)
    assert len(err.value.problems) == 1, [str(p) for p in err.value.problems]


def test_list_and_rule_errors_both_show_when_both_are_broken(tmp_path: Path) -> None:
    path = tmp_path / "both.yaml"
    path.write_text("terms:\n  bad: ['/(x/']\nrules:\n  - {id: r, tags: [t], all: [$bad], "
                    "any: ['/(y/']}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert [(p.line, p.field) for p in err.value.problems] == [(2, "terms.bad[0]"),
                                                               (4, "rules[0]")]
    assert "/(y/" in err.value.problems[1].message


def test_local_feeds_may_poll_fast_and_zero_never(tmp_path: Path) -> None:
    feed = {"name": "f", "url": "http://127.0.0.1:9/rss"}
    ok = write_config(tmp_path, [{**feed, "interval": "1s"},
                                 {"name": "g", "url": "file:///x.rss", "interval": "1s"}])
    assert [f.interval for f in load_config(ok).feeds] == [timedelta(seconds=1)] * 2
    remote = write_config(tmp_path, [{"name": "r", "url": "https://example.com/rss"}],
                          defaults={"interval": "10s"})
    with pytest.raises(ConfigError) as err:
        load_config(remote)
    assert [(p.field, p.message) for p in err.value.problems] == [
        ("defaults.interval", "interval 10s is too short: the minimum is 30s for a feed on "
                              "another machine (used by feed 'r')")]


def test_missing_feed_file_names_the_path_tried(tmp_path: Path) -> None:
    path = write_config(tmp_path, [{"name": "gone", "url": "feeds/gone here.rss"}])
    warnings = [str(w) for w in load_config(path).warnings]
    assert f"feeds[0].url: file not found: {tmp_path / 'feeds' / 'gone here.rss'}" in \
        "\n".join(warnings)
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "gone here.rss").write_text("<rss/>")  # a space in the name
    assert not any("not found" in str(w) for w in load_config(path).warnings)


def test_check_command_exit_codes() -> None:
    bad = run_here("check", "--config", str(BROKEN / "unknown-route-tag.yaml"))
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        f"{BROKEN / 'unknown-route-tag.yaml'}:4: routes[0].tags[0]: no rule carries tag 'nvidai'"
    ]
    good = run_here("check", "--config", str(REPO / "config" / "chipwatch.yaml"))
    assert good.returncode == 0, good.stdout + good.stderr
    missing = run_here("check", "--config", "/nonexistent/chipwatch.yaml")
    assert missing.returncode == 2 and "cannot read config" in missing.stderr


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text("rules:\n  - {id: a, tags: [x]}\n  - {id: a, tags: [x], any: [chip]}\n"
                    "routes:\n  - {channel: '#c', tags: [zzz]}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert [p.line for p in err.value.problems] == [2, 3, 5]


def test_bundled_config_loads_and_relative_feeds_resolve() -> None:
    config = load_config(REPO / "config" / "chipwatch.yaml")
    assert config.feeds and all(f.url.startswith("file://") for f in config.feeds)
    assert any(r.severity.label in ("high", "critical") for r in config.rules)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("10m", 600), ("24h", 86400), ("7d", 604800), ("500ms", 0.5),
                            (" 2w ", 1209600)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["10 minutes", "-5m", "m", True, 30, 7.5, "7", "", None])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_config_path_precedence() -> None:
    assert str(resolve_path("a.yaml", {"CHIPWATCH_CONFIG": "b.yaml"})) == "a.yaml"
    assert str(resolve_path(None, {"CHIPWATCH_CONFIG": "b.yaml"})) == "b.yaml"
    assert str(resolve_path(None, {})) == "config/chipwatch.yaml"


def test_dedup_founding_and_lifespan_are_durations_or_off(tmp_path: Path) -> None:
    feed = {"name": "f", "url": "https://example.com/rss"}
    on = load_config(write_config(tmp_path, [feed],
                                  dedup={"founding": "1d", "lifespan": "14d"})).settings.dedup
    assert on is not None
    assert (on.founding, on.lifespan) == (timedelta(days=1), timedelta(days=14))
    off = load_config(write_config(tmp_path, [feed],
                                   dedup={"founding": None})).settings.dedup
    assert off is not None and off.founding is None and off.lifespan is None
