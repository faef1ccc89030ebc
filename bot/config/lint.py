"""Warnings about a valid config that will not do what its author meant, and rule examples.

`lint` finds rules that can never fire (an `all` group or the `any` list wholly excluded by
`none`), terms that can never help (also excluded by `none`), rules whose alerts reach no
route, routes that can never be reached (shadowed by an earlier route without `continue`,
or asking for tags/severity no rule produces), and rules that fire on ordinary news
(`bot.config.broad`). `run_examples` runs each rule's `examples` headlines and reports every
miss.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from bot.config.broad import broad_rules
from bot.config.load import Located
from bot.config.schema import ChipwatchConfig
from bot.errors import Problem
from bot.models import Match, RuleHit, Severity
from bot.route import Route, route
from bot.rules.engine import CompiledRule, evaluate, match
from bot.rules.terms import Term
from bot.text import fold


def lint(
    raw: ChipwatchConfig, rules: Sequence[CompiledRule], routes: Sequence[Route], at: Located
) -> list[Problem]:
    """Every warning for a config that compiled without errors."""
    out: list[Problem] = []
    for i, rule in enumerate(rules):
        out.extend(_dead_terms(i, rule, at))
    out.extend(_unrouted_rules(rules, routes, at))
    out.extend(_route_warnings(rules, routes, at))
    out.extend(broad_rules(rules, at))
    return out


def excludes(none: Term, term: Term) -> bool:
    """True when every text `term` matches is also matched by `none` (conservatively: False
    when unsure). A whole-word term's text always contains its own words, so a word or
    prefix `none` term that finds them there finds them in any matching text too."""
    if fold(none.raw.strip()) == fold(term.raw.strip()):
        return True
    body = fold(term.raw.strip().rstrip("*").strip())
    if term.kind == "word" and none.kind in ("word", "prefix"):
        return none.search(body)
    if term.kind == "prefix" and none.kind == "prefix":
        return none.search(body)
    return False


@dataclass(frozen=True)
class _NoneIndex:
    """A rule's `none` terms, indexed so that thousands of terms are checked quickly."""

    exact: dict[str, Term]
    word_or_prefix: tuple[Term, ...]
    any_hit: re.Pattern[str] | None
    prefix_hit: re.Pattern[str] | None
    # Rules share big term lists: each term's verdict against this index is worked out once.
    verdicts: dict[Term, Term | None] = field(default_factory=dict, compare=False)


def _union(terms: Sequence[Term]) -> re.Pattern[str] | None:
    return re.compile("|".join(f"(?:{t.pattern.pattern})" for t in terms)) if terms else None


@lru_cache(maxsize=256)
def _index(nones: tuple[Term, ...]) -> _NoneIndex:
    # Rules share their big `none` lists, so one index serves many rules.
    loose = tuple(n for n in nones if n.kind in ("word", "prefix"))
    return _NoneIndex({fold(n.raw.strip()): n for n in nones}, loose, _union(loose),
                      _union([n for n in loose if n.kind == "prefix"]))


def _excluder(index: _NoneIndex, term: Term) -> Term | None:
    """The first `none` term that excludes `term` (see `excludes`), quickly."""
    if term not in index.verdicts:
        index.verdicts[term] = _find_excluder(index, term)
    return index.verdicts[term]


def _find_excluder(index: _NoneIndex, term: Term) -> Term | None:
    exact = index.exact.get(fold(term.raw.strip()))
    if exact is not None:
        return exact
    body = fold(term.raw.strip().rstrip("*").strip())
    quick = index.any_hit if term.kind == "word" else (
        index.prefix_hit if term.kind == "prefix" else None)
    if quick is None or not quick.search(body):
        return None
    return next((n for n in index.word_or_prefix if excludes(n, term)), None)


def _dead_terms(i: int, rule: CompiledRule, at: Located) -> list[Problem]:
    out: list[Problem] = []
    index = _index(rule.none_terms)
    parts: list[tuple[tuple[str | int, ...], str, tuple[Term, ...]]] = [
        (("rules", i, "all", g), f"all-group {g + 1}", group)
        for g, group in enumerate(rule.all_groups)
    ]
    if rule.any_terms:
        parts.append((("rules", i, "any"), "`any`", rule.any_terms))
    for loc, name, terms in parts:
        killers = [_excluder(index, t) for t in terms]
        if all(k is not None for k in killers):
            listed = ", ".join(f"{t.raw!r}" for t in terms)
            out.append(at.problem(loc, f"rule {rule.id!r} can never match: every term of its "
                                       f"{name} [{listed}] is excluded by `none`",
                                  level="warning"))
            continue
        for t, k in zip(terms, killers, strict=True):
            if k is not None:
                out.append(at.problem(loc, f"term {t.raw!r} can never help rule {rule.id!r} "
                                           f"fire: `none` term {k.raw!r} excludes it",
                                      level="warning"))
    return out


def _unrouted_rules(
    rules: Sequence[CompiledRule], routes: Sequence[Route], at: Located
) -> list[Problem]:
    if not routes:
        return []  # an error, not a warning: see `bot.config.validate`
    out = []
    for i, rule in enumerate(rules):
        alone = Match((RuleHit(rule.id, ()),), rule.tags, rule.severity)
        if not route(routes, alone):
            out.append(at.problem(("rules", i), f"alerts from rule {rule.id!r} alone reach no "
                                                f"route (tags {sorted(rule.tags)}, severity "
                                                f"{rule.severity.label})", level="warning"))
    return out


def covers(first: Route, later: Route) -> bool:
    """True when `first` accepts every alert `later` would accept."""
    tags = not first.tags or (bool(later.tags) and later.tags <= first.tags)
    rules = not first.rules or (bool(later.rules) and later.rules <= first.rules)
    return tags and rules and first.min_severity <= later.min_severity


def _producible(r: Route, rule: CompiledRule) -> bool:
    return ((not r.tags or bool(r.tags & rule.tags)) and (not r.rules or rule.id in r.rules)
            and rule.severity >= r.min_severity)


def _route_warnings(
    rules: Sequence[CompiledRule], routes: Sequence[Route], at: Located
) -> list[Problem]:
    out: list[Problem] = []
    top = max((r.severity for r in rules), default=Severity.INFO)
    # Rules built to combine (one carries the tag, another the severity) reach a route only
    # together; the rules' own example headlines show whether they ever do.
    samples = [m for rule in rules for h in rule.examples_match if (m := match(rules, h))]
    for k, r in enumerate(routes):
        loc = ("routes", k)
        name = f"route {k + 1} ({r.channel})"
        shadow = next((j for j in range(k) if not routes[j].cont and covers(routes[j], r)),
                      None)
        if shadow is not None:
            what = "a catch-all" if routes[shadow].catch_all else "a broader route"
            out.append(at.problem(loc, f"{name} can never be reached: route {shadow + 1} "
                                       f"({routes[shadow].channel}) is {what} before it "
                                       f"without `continue: true`", level="warning"))
        elif r.min_severity > top:
            out.append(at.problem((*loc, "min_severity"), f"{name} can never be reached: no "
                                  f"rule has severity {r.min_severity.label} or higher",
                                  level="warning"))
        elif not (r.catch_all or any(_producible(r, rule) for rule in rules)
                  or any(r.accepts(m) for m in samples)):
            out.append(at.problem(loc, f"{name} may never be reached: no rule at severity "
                                       f"{r.min_severity.label} or higher meets its "
                                       "conditions, and no rule example reaches it",
                                  level="warning"))
        if r.mode == "immediate" and (r.every or r.at):
            out.append(at.problem((*loc, "mode"), f"{name}: `every`/`at` apply only to "
                                                  "`mode: digest`", level="warning"))
    return out


def run_examples(rules: Sequence[CompiledRule], at: Located) -> list[Problem]:
    """Each rule against its own `examples`: a `match` headline it misses or a `no_match`
    headline it fires on is an error (muting is ignored: examples test the terms)."""
    out: list[Problem] = []
    for i, rule in enumerate(rules):
        for j, headline in enumerate(rule.examples_match):
            ev = evaluate([rule], headline)[0]
            if not ev.fired:
                out.append(at.problem(("rules", i, "examples", "match", j),
                                      f"rule {rule.id!r} should match {headline!r} but does "
                                      f"not: {'; '.join(ev.reasons())}"))
        for j, headline in enumerate(rule.examples_no_match):
            ev = evaluate([rule], headline)[0]
            if ev.fired:
                out.append(at.problem(("rules", i, "examples", "no_match", j),
                                      f"rule {rule.id!r} should not match {headline!r} but "
                                      f"does (terms: {', '.join(ev.matched_terms)})"))
    return out
