"""`chipwatch check`: validate the config, lint it and run each rule's examples.

Exit 2 with one line per problem (file:line: field: message) when the file is invalid, when
a rule example misses, or when a regex term blows its match-time budget; exit 0 otherwise,
with any warnings printed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.commands.common import EXIT_CONFIG, EXIT_OK, add_command, load


def register(sub: Any) -> None:
    p = add_command(sub, "check", "validate the config, warn about dead rules and routes, "
                                  "run rule examples; exit 2 on errors")
    p.add_argument("--no-regex-budget", action="store_true",
                   help="skip timing /regex/ terms on probe texts (a child process)")
    p.set_defaults(func=check)


def check(args: argparse.Namespace) -> int:
    from bot.config.load import Located
    from bot.config.regex_budget import slow_regexes

    config = load(args)  # schema and semantic errors raise: the CLI prints them, exit 2
    located = config.located or Located(str(config.path), {})
    errors = list(config.example_failures)
    warnings = list(config.warnings)
    if not args.no_regex_budget:
        for p in slow_regexes(config.rules, located):
            (errors if p.level == "error" else warnings).append(p)
    for w in warnings:
        print(w)
    for e in sorted(errors, key=lambda p: p.line or 0):
        print(e, file=sys.stderr)
    examples = sum(len(r.examples_match) + len(r.examples_no_match) for r in config.rules)
    failed = len(config.example_failures)
    summary = (f"{len(config.feeds)} feeds, {len(config.rules)} rules, "
               f"{len(config.routes)} routes, {examples - failed}/{examples} examples ok, "
               f"{len(warnings)} warnings")
    if errors:
        n = len(errors)
        print(f"{config.path}: FAILED ({n} error{'s' * (n != 1)}; {summary})", file=sys.stderr)
        return EXIT_CONFIG
    print(f"{config.path}: ok ({summary})")
    return EXIT_OK
