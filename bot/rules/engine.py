"""Rules compiled once at load, evaluated as pure functions of an item's text.

A rule fires when every `all` group has a hit (a group is a list of alternatives), at least one
`any` term hits (when `any` is given), and no `none` term hits. `evaluate` explains each rule;
`match` keeps only what fired and folds tags (union) and severity (max).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.models import Match, RuleHit, Severity
from bot.rules.groups import TermGroup, group
from bot.rules.terms import Doc, Term, compile_term


@dataclass(frozen=True)
class CompiledRule:
    """A rule ready to run: terms compiled, named lists expanded."""

    id: str
    tags: frozenset[str]
    severity: Severity
    all_groups: tuple[tuple[Term, ...], ...]
    any_terms: tuple[Term, ...]
    none_terms: tuple[Term, ...]
    mute_until: datetime | None = None
    examples_match: tuple[str, ...] = ()
    examples_no_match: tuple[str, ...] = ()
    all_matchers: tuple[TermGroup, ...] = field(init=False, repr=False, compare=False)
    any_matcher: TermGroup = field(init=False, repr=False, compare=False)
    none_matcher: TermGroup = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Frozen dataclass: the derived matchers are set once, here.
        object.__setattr__(self, "all_matchers", tuple(group(g) for g in self.all_groups))
        object.__setattr__(self, "any_matcher", group(self.any_terms))
        object.__setattr__(self, "none_matcher", group(self.none_terms))

    def muted(self, now: datetime | None) -> bool:
        return self.mute_until is not None and now is not None and now < self.mute_until


@dataclass(frozen=True)
class RuleEvaluation:
    """Why a rule fired or not: the hit per `all` group, the `any` and `none` terms that hit."""

    rule: CompiledRule
    all_hits: tuple[str | None, ...]
    any_hits: tuple[str, ...]
    none_hits: tuple[str, ...]
    muted: bool = False

    @property
    def fired(self) -> bool:
        return (
            not self.muted
            and all(h is not None for h in self.all_hits)
            and (bool(self.any_hits) or not self.rule.any_terms)
            and not self.none_hits
        )

    @property
    def matched_terms(self) -> tuple[str, ...]:
        return tuple(h for h in self.all_hits if h is not None) + self.any_hits

    def reasons(self) -> list[str]:
        """Human reasons the rule did not fire (empty when it fired)."""
        out: list[str] = []
        if self.muted:
            out.append(f"muted until {self.rule.mute_until:%Y-%m-%d %H:%M %Z}")
        for terms, hit in zip(self.rule.all_groups, self.all_hits, strict=True):
            if hit is None:
                out.append("no term of all-group [" + ", ".join(t.raw for t in terms) + "]")
        if self.rule.any_terms and not self.any_hits:
            out.append("no any-term [" + ", ".join(t.raw for t in self.rule.any_terms) + "]")
        out.extend(f"none-term {t!r} matched" for t in self.none_hits)
        return out


@dataclass
class _GroupCache:
    """Scans each distinct group at most once per text: rules share `$lists`."""

    text: Doc
    firsts: dict[int, str | None] = field(default_factory=dict)
    everys: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def first(self, g: TermGroup) -> str | None:
        key = id(g)
        if key not in self.firsts:
            self.firsts[key] = g.first(self.text)
        return self.firsts[key]

    def every(self, g: TermGroup) -> tuple[str, ...]:
        key = id(g)
        if key not in self.everys:
            self.everys[key] = g.every(self.text) if self.first(g) is not None else ()
        return self.everys[key]


def expand(entries: Iterable[str], lists: Mapping[str, Sequence[str]],
           _within: tuple[str, ...] = ()) -> list[str]:
    """Replace `$name` entries by the named term list (lists may name lists; `title:$name`
    scopes its terms to the headline); raises KeyError for an unknown name and ValueError for
    a list that contains itself."""
    out: list[str] = []
    for entry in entries:
        if isinstance(entry, str) and entry.startswith("title:$"):
            # `title:$list` scopes every term of the list to the headline.
            out.extend(t if t.startswith("title:") else "title:" + t
                       for t in expand([entry[len("title:"):]], lists, _within))
        elif isinstance(entry, str) and entry.startswith("$"):
            name = entry[1:]
            if name in _within:
                raise ValueError("term list $" + " → $".join((*_within, name)) + " is circular")
            out.extend(expand(lists[name], lists, (*_within, name)))
        else:
            out.append(entry)
    return out


def compile_rule(
    rule_id: str,
    *,
    tags: Iterable[str],
    severity: Severity,
    all_groups: Sequence[str | Sequence[str]] = (),
    any_terms: Sequence[str] = (),
    none_terms: Sequence[str] = (),
    lists: Mapping[str, Sequence[str]] | None = None,
    mute_until: datetime | None = None,
    examples_match: Sequence[str] = (),
    examples_no_match: Sequence[str] = (),
) -> CompiledRule:
    """Compile one rule; raises ValueError / KeyError naming the bad term or list."""
    named = lists or {}
    groups = tuple(
        tuple(compile_term(t) for t in expand([g] if isinstance(g, str) else g, named))
        for g in all_groups
    )
    return CompiledRule(
        id=rule_id,
        tags=frozenset(tags),
        severity=severity,
        all_groups=groups,
        any_terms=tuple(compile_term(t) for t in expand(any_terms, named)),
        none_terms=tuple(compile_term(t) for t in expand(none_terms, named)),
        mute_until=mute_until,
        examples_match=tuple(examples_match),
        examples_no_match=tuple(examples_no_match),
    )


def evaluate(
    rules: Sequence[CompiledRule], text: str, now: datetime | None = None
) -> list[RuleEvaluation]:
    """Evaluate every rule against `text` (title + summary) and say why each fired or not."""
    cache = _GroupCache(Doc(text))
    return [
        RuleEvaluation(
            rule=rule,
            all_hits=tuple(cache.first(g) for g in rule.all_matchers),
            any_hits=cache.every(rule.any_matcher),
            none_hits=cache.every(rule.none_matcher),
            muted=rule.muted(now),
        )
        for rule in rules
    ]


def match(rules: Sequence[CompiledRule], text: str, now: datetime | None = None) -> Match | None:
    """The rules that fire on `text`, their tags (union) and top severity; None when none."""
    cache = _GroupCache(Doc(text))
    hits: list[RuleHit] = []
    tags: set[str] = set()
    top = Severity.INFO
    for rule in rules:
        if rule.muted(now):
            continue
        matched: list[str] = []
        for g in rule.all_matchers:
            hit = cache.first(g)
            if hit is None:
                break
            matched.append(hit)
        else:
            if rule.any_terms:
                anys = cache.every(rule.any_matcher)
                if not anys:
                    continue
                matched.extend(anys)
            if rule.none_terms and cache.first(rule.none_matcher) is not None:
                continue
            hits.append(RuleHit(rule.id, tuple(matched)))
            tags |= rule.tags
            top = max(top, rule.severity)
    if not hits:
        return None
    return Match(tuple(hits), frozenset(tags), top)
