"""Turn a validated config into runtime objects, checking what the schema alone cannot."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.config.load import Located, read_config
from bot.config.schema import ChipwatchConfig, RuleConfig
from bot.config.settings import Settings, compile_settings
from bot.errors import ConfigError, Problem
from bot.models import FeedSpec, Severity
from bot.route import Route, RouteMode
from bot.rules.engine import CompiledRule, compile_rule


@dataclass(frozen=True)
class Config:
    """A loaded, checked config: the raw model (for operator tools that show the file) plus
    everything the runtime uses, compiled: feeds, rules, routes and settings."""

    path: Path
    raw: ChipwatchConfig
    feeds: tuple[FeedSpec, ...]
    rules: tuple[CompiledRule, ...]
    routes: tuple[Route, ...]
    settings: Settings
    warnings: tuple[Problem, ...] = ()
    # Rule `examples` that did not hold: warnings for `run`, errors for `check`.
    example_failures: tuple[Problem, ...] = ()
    located: Located | None = field(default=None, compare=False, repr=False)


def load_config(path: Path | str, *, lint: bool = True) -> Config:
    """Read, validate and compile a config file; raises ConfigError listing every problem.
    `lint=False` skips the warnings and example runs (errors are still checked)."""
    path = Path(path)
    raw, located = read_config(path)
    return compile_config(raw, path, located, lint=lint)


def compile_config(raw: ChipwatchConfig, path: Path, located: Located, *,
                   lint: bool = True) -> Config:
    """Check and compile an already validated model (`located` maps fields to lines)."""
    from bot.config.lint import lint as lint_config
    from bot.config.lint import run_examples

    problems: list[Problem] = []
    feeds = _feeds(raw, path, located, problems)
    rules = _rules(raw, located, problems)
    routes = _routes(raw, rules, located, problems)
    errors = [p for p in problems if p.level == "error"]
    if errors:
        raise ConfigError(sorted(errors, key=lambda p: p.line or 0))
    if lint:
        problems.extend(lint_config(raw, rules, routes, located))
    warnings = tuple(p for p in problems if p.level != "error")
    examples = tuple(run_examples(rules, located)) if lint else ()
    return Config(path, raw, feeds, tuple(rules), routes, compile_settings(raw, path), warnings,
                  examples, located)


def feed_url(url: str, base: Path) -> str:
    """http(s) and file URLs as given; a bare path becomes file:// relative to `base`."""
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("http", "https", "file"):
        return url
    return (base / url).resolve().as_uri()


def _feeds(
    raw: ChipwatchConfig, path: Path, at: Located, out: list[Problem]
) -> tuple[FeedSpec, ...]:
    for name, n in Counter(f.name for f in raw.feeds).items():
        if n > 1:
            i = [f.name for f in raw.feeds].index(name)
            out.append(at.problem(("feeds", i, "name"), f"duplicate feed name {name!r}"))
    specs = []
    for i, f in enumerate(raw.feeds):
        scheme = urlsplit(f.url).scheme.lower()
        if scheme not in ("http", "https", "file", "") and len(scheme) > 1:
            out.append(at.problem(("feeds", i, "url"), f"unsupported URL scheme {scheme!r}"))
            continue
        url = feed_url(f.url, path.parent)
        if scheme in ("file", "") and not Path(urlsplit(url).path).exists():
            out.append(at.problem(("feeds", i, "url"), "file not found", level="warning"))
        specs.append(FeedSpec(f.name, url, f.interval or raw.defaults.interval,
                              f.max_age or raw.defaults.max_age, raw.defaults.jitter,
                              f.source or f.name))
    return tuple(specs)


def _rules(raw: ChipwatchConfig, at: Located, out: list[Problem]) -> list[CompiledRule]:
    ids = Counter(r.id for r in raw.rules)
    compiled = []
    for i, r in enumerate(raw.rules):
        loc = ("rules", i)
        if ids[r.id] > 1 and [x.id for x in raw.rules].index(r.id) != i:
            out.append(at.problem((*loc, "id"), f"duplicate rule id {r.id!r}"))
        if not (r.all or r.any):
            out.append(at.problem(loc, f"rule {r.id!r} has no terms (give `all` or `any`)"))
            continue
        try:
            compiled.append(_compile(r, raw.terms))
        except KeyError as exc:
            out.append(at.problem(loc, f"rule {r.id!r} uses unknown term list ${exc.args[0]}"))
        except ValueError as exc:
            out.append(at.problem(loc, f"rule {r.id!r}: {exc}"))
    return compiled


def _compile(r: RuleConfig, lists: dict[str, list[str]]) -> CompiledRule:
    return compile_rule(
        r.id, tags=r.tags, severity=Severity.parse(r.severity), all_groups=r.all,
        any_terms=r.any, none_terms=r.none, lists=lists, mute_until=r.mute_until,
        examples_match=r.examples.match, examples_no_match=r.examples.no_match,
    )


_AT_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _routes(
    raw: ChipwatchConfig, rules: list[CompiledRule], at: Located, out: list[Problem]
) -> tuple[Route, ...]:
    known_tags = {t for r in rules for t in r.tags}
    known_rules = {r.id for r in raw.rules}
    routes = []
    for i, r in enumerate(raw.routes):
        loc = ("routes", i)
        for j, tag in enumerate(r.tags):
            if tag not in known_tags:
                out.append(at.problem((*loc, "tags", j), f"no rule carries tag {tag!r}"))
        for j, rid in enumerate(r.rules):
            if rid not in known_rules:
                out.append(at.problem((*loc, "rules", j), f"unknown rule id {rid!r}"))
        if r.mode == "digest" and not (r.every or r.at):
            out.append(at.problem((*loc, "mode"), "a digest route needs `every` or `at`"))
        if r.at is not None and not _AT_RE.match(r.at):
            out.append(at.problem((*loc, "at"), f"expected HH:MM (24h), got {r.at!r}"))
        if r.every is not None and r.every < timedelta(minutes=1):
            out.append(at.problem((*loc, "every"), "a digest period must be at least 1m"))
        try:
            ZoneInfo(r.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            out.append(at.problem((*loc, "timezone"), f"unknown time zone {r.timezone!r}"))
        routes.append(Route(r.channel, frozenset(r.tags), frozenset(r.rules),
                            Severity.parse(r.min_severity), r.continue_, RouteMode(r.mode),
                            r.every, r.at, r.timezone))
    return tuple(routes)
