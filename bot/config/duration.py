"""Durations, one syntax for the config file and the command line: a number and a unit
(`500ms`, `90s`, `10m`, `24h`, `7d`, `2w`). A bare number is an error, not seconds: `10`
could mean ten seconds or ten minutes, and the reader of a config should not have to guess.
"""

from __future__ import annotations

import argparse
import re
from datetime import timedelta

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
EXAMPLES = "90s, 10m, 24h or 7d"


def parse_duration(value: object) -> timedelta:
    """`90s`, `10m`, `24h`, `7d` as a timedelta; raises ValueError with a readable reason
    (a bare number, a negative or unknown unit, anything that is not text)."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a duration like {EXAMPLES}, got {value!r}")
    text = str(value).strip()
    if text.startswith("-"):
        raise ValueError(f"a duration cannot be negative, got {text!r}")
    m = _DURATION_RE.match(text)
    if m is None:
        raise ValueError(f"expected a duration like {EXAMPLES}, got {value!r}")
    if m.group(2) is None:
        raise ValueError(f"a duration needs a unit: write {m.group(1)}s, {m.group(1)}m, "
                         f"{m.group(1)}h or {m.group(1)}d, not {value!r}")
    return timedelta(seconds=float(m.group(1)) * _UNIT_SECONDS[m.group(2)])


def format_duration(span: timedelta) -> str:
    """The shortest exact spelling in the same syntax: `1h`, `90s`, `36h`."""
    seconds = span.total_seconds()
    if seconds != int(seconds):
        return f"{round(seconds * 1000)}ms"
    whole = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def cli_duration(text: str) -> timedelta:
    """An argparse `type=` for duration options: the config's syntax, and the same errors."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
