"""Literal strings that a regular expression cannot match without.

`required(source, flags)` returns a set of strings such that every match of the expression
contains at least one of them (compared as the expression compares, i.e. ignoring case when it
does), or None when no such set is known. The prefilter uses these to reject texts with a
plain literal search instead of running each regex term.

The expression is read with the standard library's own parser, so escapes, verbose mode and
scoped flags are understood exactly as `re` understands them; anything unexpected gives None,
which only means "cannot rule the text out".
"""

from __future__ import annotations

import importlib
from typing import Any

try:  # the parser `re` itself uses (a private module: any surprise means "no literals")
    _parser: Any = importlib.import_module("re._parser")
    BRANCH, LITERAL, SUBPATTERN = _parser.BRANCH, _parser.LITERAL, _parser.SUBPATTERN
    REPEATS = (_parser.MAX_REPEAT, _parser.MIN_REPEAT, _parser.POSSESSIVE_REPEAT)
except (ImportError, AttributeError):  # pragma: no cover - other Pythons
    _parser = None

Required = frozenset[str]


def required(source: str, flags: int = 0) -> Required | None:
    """Strings one of which every match contains; None when nothing is certain."""
    if _parser is None:
        return None
    try:
        tree = _parser.parse(source, flags)
        found = _sequence(list(tree))
    except Exception:  # an unexpected tree shape: claim nothing
        return None
    if found is None or not all(found):
        return None
    return found


def _better(a: Required | None, b: Required | None) -> Required | None:
    """The more telling of two requirements: longer shortest string, then fewer strings."""
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b, key=lambda r: (min(map(len, r)), -len(r)))


def _sequence(ops: list[tuple[Any, Any]]) -> Required | None:
    best: Required | None = None
    run: list[str] = []
    for op, av in [*ops, (None, None)]:
        if op is LITERAL:
            run.append(chr(av))
            continue
        if run:
            best = _better(best, frozenset(["".join(run)]))
            run = []
        if op is None:
            break
        best = _better(best, _op(op, av))
    return best


def _op(op: Any, av: Any) -> Required | None:
    if op is SUBPATTERN:
        return _sequence(list(av[-1]))
    if op is BRANCH:
        alternatives = [_sequence(list(alt)) for alt in av[1]]
        if any(a is None for a in alternatives):
            return None
        return frozenset().union(*[a for a in alternatives if a is not None])
    if op in REPEATS and av[0] >= 1:
        return _sequence(list(av[2]))
    return None
