"""`chipwatch check` on the bundled config and on one broken file per case."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, REPO
from tests.support.cli import run_here

CONFIGS = FIXTURES / "configs"
LINE = re.compile(r"^\S+\.yaml:\d+: \S+: .+$")  # file:line: field: message


def test_bundled_config_is_clean_and_its_examples_hold() -> None:
    res = run_here("check", "--config", str(REPO / "config" / "chipwatch.yaml"))
    assert res.returncode == 0, res.stderr
    assert ": warning:" not in res.stdout
    found = re.search(r"(\d+)/(\d+) examples ok", res.stdout)
    assert found is not None, res.stdout
    assert int(found[1]) == int(found[2]) > 0


# (file, exit code, substrings expected in the output: one per problem line)
CASES = [
    ("schema_errors.yaml", 2, [":2: defaults.interval: expected a duration",
                               ":6: rules[0].severity: Input should be",
                               ":8: rules[0].colour: unknown key"]),
    ("invalid_yaml.yaml", 2, [":4: invalid YAML"]),
    ("unknown_term_list.yaml", 2, [":5: rules[0]: rule 'china-chips' uses unknown term list "
                                   "$chipz"]),
    ("invalid_regex.yaml", 2, [":3: rules[0]: rule 'broken': invalid regex /chip(s/"]),
    ("nested_quantifier.yaml", 2, ["nests quantifiers"]),
    pytest.param("catastrophic_regex.yaml", 2,
                 [":3: rules[0]: regex /(a|aa)+$/ did not finish within"],
                 marks=pytest.mark.slow),  # the regex budget times a child process
    ("example_miss.yaml", 2, [
        ":8: rules[0].examples.match[1]: rule 'h20-exports' should match 'Nvidia H20 "
        "shipments to China resume' but does not: no term of all-group [export*]",
        ":9: rules[0].examples.no_match[0]: rule 'h20-exports' should not match 'Nvidia H20 "
        "export figures beat estimates' but does (terms: H20, export*)",
        "1/3 examples ok"]),
    ("bad_digest_route.yaml", 2, [":7: routes[0].mode: a digest route needs `every` or `at`",
                                  ":8: routes[1].at: expected HH:MM",
                                  ":9: routes[2].timezone: unknown time zone 'Mars/Olympus'",
                                  ":10: routes[3].every: a digest period must be at least 1m"]),
    ("dead_rule.yaml", 0, [
        ":6: warning: rules[0].all[1]: rule 'never' can never match: every term of its "
        "all-group 2 ['China'] is excluded by `none`",
        ":10: warning: rules[1].all[0]: rule 'never-either' can never match",
        ":14: warning: rules[2].all[0]: term 'China' can never help rule 'half-dead' fire",
        "3 warnings"]),
    ("shadowed_route.yaml", 0, [
        ":9: warning: routes[1]: route 2 (#chips) can never be reached: route 1 (#everything) "
        "is a catch-all before it without `continue: true`"]),
    ("broad_rules.yaml", 0, [
        ":3: warning: rules[0]: rule 'everything' fires on 404 of 404 ordinary news headlines "
        "(100%, none about chip trade): it would alert on much of every feed; narrow its terms",
        ":6: warning: rules[1]: rule 'words-with-a' fires on 219 of 404 ordinary news "
        "headlines (54%",
        "2 warnings"]),
    ("unreachable_severity.yaml", 0, [
        ":12: warning: routes[0].min_severity: route 1 (#critical) can never be reached: no "
        "rule has severity critical or higher",
        ":7: warning: rules[1]: alerts from rule 'fabs' alone reach no route"]),
]


def _name(case: object) -> str:
    values = getattr(case, "values", case)
    return str(values[0])  # type: ignore[index]


@pytest.mark.parametrize(("name", "code", "expected"), CASES, ids=[_name(c) for c in CASES])
def test_broken_configs(name: str, code: int, expected: list[str]) -> None:
    path = CONFIGS / name
    res = run_here("check", "--config", str(path))
    out = res.stdout + res.stderr
    assert res.returncode == code, out
    for text in expected:
        assert text in out, f"{text!r} not in:\n{out}"
    problems = [line for line in out.splitlines() if ".yaml:" in line]
    assert problems and all(line.startswith(str(path)) for line in problems)
    if code == 2:
        assert all(LINE.match(line) or "invalid YAML" in line for line in problems
                   if "FAILED" not in line), out


def test_every_fixture_is_used() -> None:
    """The one folder of config fixtures holds no file that no test reads."""
    names = {p.name for p in CONFIGS.glob("*.yaml")}
    assert {_name(c) for c in CASES} <= names
    tests = "\n".join(p.read_text() for p in Path(__file__).parent.parent.rglob("test_*.py"))
    assert sorted(n for n in names if n not in tests) == []


def test_missing_file_is_one_line_exit_2(tmp_path: Path) -> None:
    res = run_here("check", "--config", str(tmp_path / "nope.yaml"))
    assert res.returncode == 2
    assert res.stderr.strip() == f"{tmp_path / 'nope.yaml'}: cannot read config: " \
                                 "No such file or directory"
