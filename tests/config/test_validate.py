"""One validation: what `check` refuses, `run` refuses at start-up (and reload on an edit,
see tests/operator/test_reload_unit.py), with the same lines; what it accepts, they accept."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError
from tests.conftest import FIXTURES, REPO
from tests.support.cli import invoke

CONFIGS = FIXTURES / "configs"

# Files that load (schema and references are fine) and still must not run.
REFUSED = {
    "catastrophic_regex.yaml": "did not finish within",  # the regex time budget
    "example_miss.yaml": "should match 'Nvidia H20 shipments",  # a rule example misses
    "empty.yaml": "the config is empty: it needs `feeds`, `rules` and `routes`",
    "no-routes.yaml": "routes: no routes: alerts would go nowhere",
}


def _path(name: str) -> Path:
    return CONFIGS / name


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.slow) if n == "catastrophic_regex.yaml" else n
    for n in sorted(REFUSED)])  # the regex budget times a child process: slow
def test_run_refuses_at_start_up_what_check_refuses(
    name: str, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # a run that wrongly started would put its state here
    path = str(_path(name))
    code, _, check_err = invoke(capsys, "check", "--config", path)
    assert code == 2 and REFUSED[name] in check_err, check_err
    code, out, run_err = invoke(capsys, "run", "--once", "--dry-run", "--config", path)
    assert code == 2, out + run_err
    problems = [line for line in check_err.splitlines() if "FAILED" not in line]
    assert run_err.splitlines() == problems
    assert not (tmp_path / "state").exists()


def test_the_verdict_is_the_same_for_every_caller() -> None:
    from bot.config.validate import validate

    verdict = validate(CONFIGS / "example_miss.yaml", regex_budget=False)
    assert not verdict.ok and verdict.config is not None
    assert [p.line for p in verdict.errors] == [8, 9]
    with pytest.raises(ConfigError) as err:
        verdict.config_or_raise()
    assert err.value.problems == list(verdict.errors)
    good = validate(REPO / "config" / "chipwatch.yaml")
    assert good.ok and good.config_or_raise().rules and not good.warnings


def test_empty_and_partial_configs_name_what_is_missing(tmp_path: Path) -> None:
    from bot.config.validate import validate

    path = tmp_path / "c.yaml"
    path.write_text("")
    assert [str(p) for p in validate(path, regex_budget=False).errors] == [
        f"{path}: the config is empty: it needs `feeds`, `rules` and `routes`"]
    path.write_text("rules:\n  - {id: r, tags: [x], any: [chip]}\nroutes: []\n")
    assert [str(p) for p in validate(path, regex_budget=False).errors] == [
        f"{path}: feeds: no feeds: nothing would be polled",
        f"{path}:3: routes: no routes: alerts would go nowhere"]


def test_a_validated_file_is_remembered_until_its_bytes_change(tmp_path: Path) -> None:
    """`run` validates a file once: unchanged bytes are only loaded again (so its warnings,
    shown the first time, are not repeated); any edit is validated in full again."""
    from bot.config.validate import validate_remembered
    from tests.conftest import write_config

    path = write_config(tmp_path, [{"name": "f", "url": "https://example.com/f.rss"}])
    path.write_text(path.read_text() + "\n")  # the test rules lint clean; keep them
    # A catch-all route before another is a warning (the second can never be reached).
    text = path.read_text().replace("routes:\n", "routes:\n- channel: '#all'\n", 1)
    path.write_text(text)
    first = validate_remembered(path)
    assert first.ok and first.warnings
    memo = tmp_path / "state" / "chipwatch.validated"
    assert memo.exists()
    again = validate_remembered(path)
    assert again.ok and not again.warnings and again.config is not None
    path.write_text(text + "# an edit\n")
    edited = validate_remembered(path)
    assert edited.ok and edited.warnings  # new bytes: validated in full again
