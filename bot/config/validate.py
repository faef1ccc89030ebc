"""The one validation a config passes before the bot trusts it: `check`, `run` at start-up
and hot reload all call `validate`, so a file one of them accepts the others accept too.

On top of loading (schema, semantic checks, lint warnings), it refuses a config with nothing
to do (no feeds, rules or routes), rule `examples` that do not hold, and `/regex/` terms that
blow their match-time budget.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from bot.config.compile import Config, load_config
from bot.config.load import Located
from bot.config.regex_budget import slow_regexes
from bot.errors import ConfigError, Problem

# What a config without it would do: (section, consequence).
_REQUIRED = (("feeds", "nothing would be polled"), ("rules", "nothing would ever alert"),
             ("routes", "alerts would go nowhere"))


@dataclass(frozen=True)
class Validation:
    """A config's verdict: the loaded config (None when it did not load), every error and
    every warning, each in file order."""

    path: Path
    config: Config | None
    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.errors

    def config_or_raise(self) -> Config:
        """The config, its warnings included; raises ConfigError when there are errors."""
        if self.errors or self.config is None:
            raise ConfigError(list(self.errors))
        return self.config


def required_sections(config: Config) -> list[Problem]:
    """An error for an empty config, or one for each of feeds, rules and routes it lacks."""
    at = config.located or Located(str(config.path), {})
    counts = {"feeds": len(config.feeds), "rules": len(config.rules),
              "routes": len(config.routes)}
    if not any(counts.values()):
        return [at.problem((), "the config is empty: it needs `feeds`, `rules` and `routes`")]
    # A section that is not in the file at all has no line to point at.
    return [at.problem((key,), f"no {key}: {why}") if (key,) in at.lines
            else Problem(at.file, None, key, f"no {key}: {why}")
            for key, why in _REQUIRED if not counts[key]]


def validate(path: Path | str, *, regex_budget: bool = True) -> Validation:
    """Load, check and lint `path`; never raises for a bad file (the verdict says why).
    `regex_budget=False` skips timing `/regex/` terms in a child process (`check
    --no-regex-budget`); every other check always runs."""
    path = Path(path)
    try:
        config = load_config(path)
    except ConfigError as exc:
        return Validation(path, None, tuple(exc.problems), ())
    at = config.located or Located(str(path), {})
    errors = [*required_sections(config), *config.example_failures]
    warnings = list(config.warnings)
    if regex_budget:
        for p in slow_regexes(config.rules, at, config.raw.terms):
            (errors if p.level == "error" else warnings).append(p)
    errors.sort(key=lambda p: p.line or 0)
    warnings.sort(key=lambda p: p.line or 0)
    config = replace(config, warnings=tuple(warnings))
    return Validation(path, config, tuple(errors), tuple(warnings))
