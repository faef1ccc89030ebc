"""`chipwatch check`: validate the config, lint it and run each rule's examples.

Exit 2 with one line per problem (file:line: field: message) when the file is invalid, has
no feeds, rules or routes, when a rule example misses, or when a regex term blows its
match-time budget; exit 0 otherwise, with any warnings printed. The checks are
`bot.config.validate`, the same that `run` applies at start-up and hot reload on each edit.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.commands.common import EXIT_CONFIG, EXIT_OK, add_command
from bot.config import resolve_path


def register(sub: Any) -> None:
    p = add_command(sub, "check", "validate the config, warn about dead rules and routes, "
                                  "run rule examples; exit 2 on errors")
    p.add_argument("--no-regex-budget", action="store_true",
                   help="skip timing /regex/ terms on probe texts (a child process)")
    p.set_defaults(func=check)


def check(args: argparse.Namespace) -> int:
    from bot.config.validate import validate

    verdict = validate(resolve_path(args.config), regex_budget=not args.no_regex_budget)
    for w in verdict.warnings:
        print(w)
    for e in verdict.errors:
        print(e, file=sys.stderr)
    config, n = verdict.config, len(verdict.errors)
    if config is None:  # did not load: one line per problem, nothing to count
        return EXIT_CONFIG
    examples = sum(len(r.examples_match) + len(r.examples_no_match) for r in config.rules)
    failed = len(config.example_failures)
    summary = (f"{plural(len(config.feeds), 'feed')}, {plural(len(config.rules), 'rule')}, "
               f"{plural(len(config.routes), 'route')}, {examples - failed}/{examples} "
               f"examples ok, {plural(len(verdict.warnings), 'warning')}")
    if n:
        print(f"{config.path}: FAILED ({plural(n, 'error')}; {summary})", file=sys.stderr)
        return EXIT_CONFIG
    print(f"{config.path}: ok ({summary})")
    return EXIT_OK


def plural(n: int, noun: str) -> str:
    """`1 warning`, `3 warnings`."""
    return f"{n} {noun}{'s' * (n != 1)}"
