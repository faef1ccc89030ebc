"""Turn a validated config into runtime objects, checking what the schema alone cannot."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from ipaddress import ip_address
from pathlib import Path
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.config.duration import format_duration
from bot.config.load import Located, read_config
from bot.config.schema import ChipwatchConfig, RuleConfig
from bot.config.settings import Settings, compile_settings, retention_keep, unmatched_floor
from bot.errors import ConfigError, Problem
from bot.models import FeedSpec, Severity
from bot.relevance.judge import Judge, load_judge
from bot.relevance.model import ModelError
from bot.route import Route, RouteMode
from bot.rules.engine import CompiledRule, compile_rule, expand
from bot.rules.terms import compile_term

# Polling someone else's server more often than this is rude and rarely useful; local files
# and loopback servers (development, tests) may be polled every second.
MIN_INTERVAL = timedelta(seconds=30)
MIN_LOCAL_INTERVAL = timedelta(seconds=1)


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
    # Rule `examples` that did not hold: errors for check, run and reload (see validate).
    example_failures: tuple[Problem, ...] = ()
    located: Located | None = field(default=None, compare=False, repr=False)
    # The relevance model after the rules (None: the rules alone decide).
    relevance: Judge | None = field(default=None, compare=False, repr=False)


def load_config(path: Path | str, *, lint: bool = True) -> Config:
    """Read, validate and compile a config file; raises ConfigError listing every problem.
    `lint=False` skips the warnings and example runs (errors are still checked)."""
    path = Path(path)
    raw, located = read_config(path)
    return compile_config(raw, path, located, lint=lint)


def compile_config(raw: ChipwatchConfig, path: Path, located: Located, *,
                   lint: bool = True, strict_routes: bool = True) -> Config:
    """Check and compile an already validated model (`located` maps fields to lines).
    `strict_routes=False` makes a route naming a tag or rule no rule has a warning (a
    replay candidate with fewer rules under the running config's routes)."""
    from bot.config.lint import lint as lint_config
    from bot.config.lint import run_examples

    problems: list[Problem] = []
    feeds = _feeds(raw, path, located, problems)
    rules = _rules(raw, located, problems)
    routes = _routes(raw, located, problems, strict_routes)
    judge = _relevance(raw, path, located, problems, tuple(rules))
    keep, floor, why = retention_keep(raw)
    if keep < floor:
        problems.append(located.problem(("state", "keep"), f"{format_duration(keep)} is "
                                        f"shorter than {why} ({format_duration(floor)})"))
    unmatched = raw.state.keep_unmatched
    low, why = unmatched_floor(raw)
    if unmatched is not None and not low <= unmatched <= keep:
        problems.append(located.problem(("state", "keep_unmatched"), (
            f"{format_duration(unmatched)} is shorter than {why} ({format_duration(low)})"
            if unmatched < low else
            f"{format_duration(unmatched)} is longer than state.keep ({format_duration(keep)})")))
    errors = [p for p in problems if p.level == "error"]
    if errors:
        raise ConfigError(sorted(errors, key=lambda p: p.line or 0))
    if lint:
        problems.extend(lint_config(raw, rules, routes, located))
    warnings = tuple(p for p in problems if p.level != "error")
    examples = tuple(run_examples(rules, located)) if lint else ()
    return Config(path, raw, feeds, tuple(rules), routes, compile_settings(raw, path), warnings,
                  examples, located, judge)


def _relevance(raw: ChipwatchConfig, path: Path, at: Located, out: list[Problem],
               rules: tuple[CompiledRule, ...]) -> Judge | None:
    """Load the relevance model the config names; a file that cannot be used is an error at
    `relevance.model`."""
    r = raw.relevance
    if r is None:
        return None
    exempt = frozenset(rule.id for rule in raw.rules if not rule.relevance)
    try:
        return load_judge(r.model, path.parent, (r.threshold, r.summary_threshold), r.below,
                          r.review_channel, exempt, rules)
    except ModelError as exc:
        out.append(at.problem(("relevance", "model"), str(exc)))
        return None


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
    inherit: list[str] = []  # feeds whose interval from `defaults` is below their floor
    for i, f in enumerate(raw.feeds):
        scheme = urlsplit(f.url).scheme.lower()
        if scheme not in ("http", "https", "file", "") and len(scheme) > 1:
            out.append(at.problem(("feeds", i, "url"), f"unsupported URL scheme {scheme!r}"))
            continue
        url = feed_url(f.url, path.parent)
        tried = Path(unquote(urlsplit(url).path))
        if url.startswith("file:") and not tried.exists():
            out.append(at.problem(("feeds", i, "url"), f"file not found: {tried}",
                                  level="warning"))
        interval = f.interval or raw.defaults.interval
        floor = MIN_LOCAL_INTERVAL if _local(url) else MIN_INTERVAL
        if interval < floor and f.interval is None:
            inherit.append(f.name)
        elif interval < floor:
            out.append(at.problem(("feeds", i, "interval"), _too_short(interval, floor)))
        specs.append(FeedSpec(f.name, url, interval, f.max_age or raw.defaults.max_age,
                              raw.defaults.jitter, f.source or f.name))
    if inherit:
        floor = MIN_LOCAL_INTERVAL if raw.defaults.interval < MIN_LOCAL_INTERVAL else MIN_INTERVAL
        names = ", ".join(repr(n) for n in inherit[:3]) + (" …" if len(inherit) > 3 else "")
        out.append(at.problem(("defaults", "interval"), _too_short(raw.defaults.interval, floor)
                              + f" (used by feed {names})"))
    return tuple(specs)


def _too_short(interval: timedelta, floor: timedelta) -> str:
    return (f"interval {format_duration(interval)} is too short: the minimum is "
            f"{format_duration(floor)}" + (" for a feed on another machine"
                                           if floor == MIN_INTERVAL else ""))


def _local(url: str) -> bool:
    """A file, or a server on this machine: nobody else's server is polled."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return True
    host = (parts.hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def _term_lists(lists: dict[str, list[str]], at: Located, out: list[Problem]) -> set[str]:
    """Check each named term list where it is written; the names of the broken ones (and of
    lists that include a broken one), so that rules using them are not blamed as well."""
    broken: set[str] = set()
    for name, entries in lists.items():
        try:
            expand([f"${name}"], lists)
        except KeyError as exc:
            out.append(at.problem(("terms", name), f"term list ${name} includes unknown term "
                                                   f"list ${exc.args[0]}"))
            broken.add(name)
            continue
        except ValueError as exc:
            out.append(at.problem(("terms", name), str(exc)))
            broken.add(name)
            continue
        for j, entry in enumerate(entries):
            if isinstance(entry, str) and entry.startswith("$"):
                continue
            try:
                compile_term(entry)
            except ValueError as exc:
                out.append(at.problem(("terms", name, j), f"term list ${name}: {exc}"))
                broken.add(name)
    grew = True
    while grew:  # a list that includes a broken list is broken too
        more = {n for n, entries in lists.items() if n not in broken
                and any(isinstance(e, str) and e[1:] in broken for e in entries)}
        broken |= more
        grew = bool(more)
    return broken


def _entries(r: RuleConfig) -> list[str]:
    return [*(e for g in r.all for e in ([g] if isinstance(g, str) else g)), *r.any, *r.none]


def _uses(r: RuleConfig) -> set[str]:
    """The term lists a rule names directly."""
    return {e[1:] for e in _entries(r) if e.startswith("$")}


def _rules(raw: ChipwatchConfig, at: Located, out: list[Problem]) -> list[CompiledRule]:
    ids = Counter(r.id for r in raw.rules)
    broken_lists = _term_lists(raw.terms, at, out)
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
            own = _own_error(r) if _uses(r) & broken_lists else exc
            if own is not None:  # else the broken list was reported where it is written
                out.append(at.problem(loc, f"rule {r.id!r}: {own}"))
    return compiled


def _own_error(r: RuleConfig) -> ValueError | None:
    """The first error in the terms a rule writes out itself (not through `$lists`)."""
    for entry in _entries(r):
        if not entry.startswith("$"):
            try:
                compile_term(entry)
            except ValueError as exc:
                return exc
    return None


def _compile(r: RuleConfig, lists: dict[str, list[str]]) -> CompiledRule:
    return compile_rule(
        r.id, tags=r.tags, severity=Severity.parse(r.severity), all_groups=r.all,
        any_terms=r.any, none_terms=r.none, lists=lists, mute_until=r.mute_until,
        examples_match=r.examples.match, examples_no_match=r.examples.no_match,
    )


_AT_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _routes(raw: ChipwatchConfig, at: Located, out: list[Problem],
            strict: bool = True) -> tuple[Route, ...]:
    # From every rule in the file, compiled or not: a broken rule is reported once, by
    # itself, not again by each route that names its tags.
    known_tags = {t for r in raw.rules for t in r.tags}
    known_rules = {r.id for r in raw.rules}
    level = "error" if strict else "warning"
    routes = []
    for i, r in enumerate(raw.routes):
        loc = ("routes", i)
        for j, tag in enumerate(r.tags):
            if tag not in known_tags:
                out.append(at.problem((*loc, "tags", j), f"no rule carries tag {tag!r}",
                                      level))
        for j, rid in enumerate(r.rules):
            if rid not in known_rules:
                out.append(at.problem((*loc, "rules", j), f"unknown rule id {rid!r}", level))
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
