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
Dup = tuple[Loc, int, int]  # a key given twice: its path, first line, second line


def resolve_path(cli_path: str | None, env: Mapping[str, str] | None = None) -> Path:
    """The config path: `--config`, else `$CHIPWATCH_CONFIG`, else the bundled default."""
    env = os.environ if env is None else env
    return Path(cli_path or env.get("CHIPWATCH_CONFIG") or DEFAULT_PATH)


def _line_map(node: yaml.Node, loc: Loc, lines: dict[Loc, int], dups: list[Dup]) -> None:
    """Map every key path in a composed YAML tree to its 1-based line, and collect keys
    given twice in one mapping (YAML keeps the last silently)."""
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            if key.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` may be repeated on purpose
            name, line = str(key.value), key.start_mark.line + 1
            sub = (*loc, name)
            if name in first:
                dups.append((sub, first[name], line))
            first.setdefault(name, line)
            _line_map(value, sub, lines, dups)
            lines[sub] = line
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            _line_map(value, (*loc, i), lines, dups)


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


class Overlay(Located):
    """Two files merged key by key (a replay candidate over the running config): a field
    under one of `keys` is located in `top`'s file, any other in `base`'s."""

    def __init__(self, top: Located, base: Located, keys: set[str]) -> None:
        super().__init__(top.file, top.lines)
        self.base = base
        self.keys = keys

    def problem(self, loc: Loc, message: str, level: str = "error") -> Problem:
        if loc and loc[0] not in self.keys:
            return self.base.problem(loc, message, level)
        return super().problem(loc, message, level)


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
    except yaml.YAMLError:
        raise ConfigError([yaml_problem(file, text)]) from None
    lines: dict[Loc, int] = {}
    dups: list[Dup] = []
    if node is not None:
        _line_map(node, (), lines, dups)
    located = Located(file, lines)
    if dups:
        raise ConfigError([
            Problem(file, b, format_loc(loc), f"duplicate key {str(loc[-1])!r}: given at line "
                                              f"{a} and again at line {b} (YAML would keep only "
                                              "the last); remove one")
            for loc, a, b in dups])
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


# What an operator most likely meant, by what YAML choked on.
_HINTS = (
    ("undefined alias", "a value starting with `*` is a YAML alias; quote it (\"*export\")"),
    ("'\\t'", "indent with spaces, not tabs"),
    ("cannot start any token", "a value starting with @, ` or % must be quoted"),
    ("mapping values are not allowed", "a value containing ': ' must be quoted"),
    ("alphabetic or numeric character", "a value starting with `&` or `*` must be quoted"),
    ("constructor for the tag", "a value starting with `!` must be quoted"),
)


def yaml_problem(file: str, text: str) -> Problem:
    """The YAML syntax error in `text` as one problem, with a hint for the usual causes.
    (The pure-Python parser is rerun for its message: libyaml's omits the offending text.)"""
    try:
        yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = getattr(exc, "problem", None) or str(exc)
        hint = next((h for key, h in _HINTS if key in reason), None)
        return Problem(file, mark.line + 1 if mark is not None else None, "",
                       f"invalid YAML: {reason}" + (f" (hint: {hint})" if hint else ""))
    return Problem(file, None, "", "invalid YAML")  # libyaml refused what Python accepts


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
