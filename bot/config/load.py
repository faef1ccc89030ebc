"""Read a YAML config file strictly: every problem is reported with its file, line and field."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.config.schema import ChipwatchConfig
from bot.errors import ConfigError, Problem

DEFAULT_PATH = "config/chipwatch.yaml"
Loc = tuple[str | int, ...]


def resolve_path(cli_path: str | None, env: Mapping[str, str] | None = None) -> Path:
    """The config path: `--config`, else `$CHIPWATCH_CONFIG`, else the bundled default."""
    env = os.environ if env is None else env
    return Path(cli_path or env.get("CHIPWATCH_CONFIG") or DEFAULT_PATH)


def _line_map(node: yaml.Node, loc: Loc = ()) -> dict[Loc, int]:
    """Map every key path in a composed YAML tree to its 1-based line."""
    lines = {loc: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = (*loc, str(key.value))
            lines.update(_line_map(value, sub))
            lines[sub] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            lines.update(_line_map(value, (*loc, i)))
    return lines


def format_loc(loc: Loc) -> str:
    """`('rules', 2, 'severity')` as `rules[2].severity`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class Located:
    """Turns a field path into a Problem with the line it sits on."""

    def __init__(self, file: str, lines: dict[Loc, int]) -> None:
        self.file = file
        self.lines = lines

    def line_of(self, loc: Loc) -> int | None:
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return None

    def problem(self, loc: Loc, message: str, level: str = "error") -> Problem:
        return Problem(self.file, self.line_of(loc), format_loc(loc), message, level)


def _clean_loc(loc: tuple[Any, ...], lines: dict[Loc, int]) -> Loc:
    """Drop pydantic's union-branch markers (`list[str]`, `str`…) that are not in the file."""
    out: list[str | int] = []
    for part in loc:
        candidate = (*out, part)
        if candidate in lines or isinstance(part, int) or not str(part).endswith("]"):
            if str(part) in ("str", "list[str]", "function-before[parse_duration(), timedelta]"):
                continue
            out.append(part)
    return tuple(out)


def read_config(path: Path) -> tuple[ChipwatchConfig, Located]:
    """Parse and validate one file; raises ConfigError with every problem found."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        problem = Problem(file, None, "", f"cannot read config: {exc.strerror}")
        raise ConfigError([problem]) from None
    except UnicodeDecodeError:
        raise ConfigError([Problem(file, None, "", "config is not UTF-8 text")]) from None
    try:
        # libyaml's loader when present: ten times faster on a config of a thousand feeds.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        node = yaml.compose(text, Loader=loader)
        data = yaml.load(text, Loader=loader)  # a safe loader either way
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([Problem(file, line, "", f"invalid YAML: {reason}")]) from None
    located = Located(file, _line_map(node) if node is not None else {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([located.problem((), "the top level must be a mapping of keys")])
    try:
        return ChipwatchConfig.model_validate(data), located
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = _clean_loc(err["loc"], located.lines)
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            problems.append(located.problem(loc, msg))
        problems.sort(key=lambda p: (p.line or 0, p.field))
        raise ConfigError(_dedupe(problems)) from None


def _dedupe(problems: list[Problem]) -> list[Problem]:
    """One line per place: a union's branch errors collapse into the deepest one."""
    seen: set[tuple[int | None, str]] = set()
    fields = [p.field for p in problems]
    out = []
    for p in problems:
        deeper = any(f != p.field and f.startswith(p.field + "[") for f in fields)
        if (p.line, p.field) not in seen and not deeper:
            seen.add((p.line, p.field))
            out.append(p)
    return out
