"""The matching fast path (one prefilter search, then the rules) gives exactly what evaluating
every rule gives: on the labelled headline sets, the rules' own examples and texts made to
probe the edges (case, hyphens, invisible characters, regex terms, muted rules)."""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import load_config
from bot.models import Match, RuleHit, Severity
from bot.rules import CompiledRule, compile_rule, evaluate, fold, match
from bot.rules.engine import PREFILTER_AFTER, prefilter_for
from bot.rules.literals import required
from bot.rules.prefilter import Prefilter

ROOT = Path(__file__).resolve().parents[2]
HEADLINES = ROOT / "tests" / "fixtures" / "headlines"


def reference(rules: Sequence[CompiledRule], text: str, now: datetime | None = None
              ) -> Match | None:
    """The straightforward evaluation: every rule explained, the fired ones folded."""
    fired = [ev for ev in evaluate(rules, text, now) if ev.fired]
    if not fired:
        return None
    return Match(tuple(RuleHit(ev.rule.id, ev.matched_terms) for ev in fired),
                 frozenset().union(*(ev.rule.tags for ev in fired)),
                 max(ev.rule.severity for ev in fired))


def bundled_rules() -> tuple[CompiledRule, ...]:
    return load_config(ROOT / "config" / "chipwatch.yaml", lint=False).rules


def headline_texts() -> list[str]:
    texts = (HEADLINES / "uci-news-dev-titles.txt").read_text(encoding="utf-8").splitlines()
    for name in sorted(HEADLINES.glob("*.tsv")):
        with name.open(encoding="utf-8", newline="") as f:
            texts += [row["title"] for row in csv.DictReader(f, delimiter="\t")]
    return [t for t in texts if t.strip()]


@pytest.mark.slow  # every labelled headline set through both paths
def test_bundled_rules_fast_path_equals_full_evaluation() -> None:
    rules = bundled_rules()
    assert prefilter_for(rules).enabled  # built now: every text below goes through it
    texts = headline_texts()
    texts += [e for r in rules for e in (*r.examples_match, *r.examples_no_match)]
    assert len(texts) > 3500
    alerted = 0
    for text in texts:
        expected = reference(rules, text)
        assert match(rules, text) == expected, text
        alerted += expected is not None
    assert alerted > 300  # the sets exercise the rules, not only the rejection


def test_prefilter_rejects_most_general_news() -> None:
    rules = bundled_rules()
    gate = prefilter_for(rules)
    assert gate.enabled
    general = (HEADLINES / "uci-news-dev-titles.txt").read_text(encoding="utf-8").splitlines()
    passed = sum(gate.possible(fold(t)) for t in general)
    assert passed < 0.2 * len(general)  # the point of it: most texts end in one search


def _rules() -> list[CompiledRule]:
    return [
        compile_rule("phrases", tags=["a"], severity=Severity.HIGH,
                     all_groups=[["entity list", "U.S.", "chip*", "Arm's China"],
                                 ["ban", "export control*"]]),
        compile_rule("regex-only", tags=["b"], severity=Severity.LOW,
                     all_groups=[["/huawei'?s? ascend ?9[0-9]{2}/", "/\\bkirin\\s+\\d+/"]],
                     none_terms=["rumou?r"]),
        compile_rule("any-only", tags=["c"], severity=Severity.CRITICAL, any_terms=["smuggl*"]),
        compile_rule("muted", tags=["d"], severity=Severity.MEDIUM, all_groups=["gallium"],
                     mute_until=datetime(2026, 2, 1, tzinfo=UTC)),
        compile_rule("cased-title", tags=["e"], severity=Severity.HIGH,
                     all_groups=[["=Intel", "=AMD*"], ["title:export*", "title:/curbs? on/"]]),
    ]


@pytest.mark.parametrize("text", [
    "Added to the ENTITY-LIST: a ban", "the U.S. ban", "chipmakers face export controls",
    "ch\u200bips ban", "Arm's China unit: export ban", "Arm\u2019s China: ban",
    "entity\u00adlist ban", "Huawei Ascend 910B", "HUAWEI'S ASCEND 920 rumour",
    "Kirin 9000s", "K\u0131r\u0131n 9000s",  # dotless i: the regex, ignoring case, matches it
    "huawe\u0131 ascend 910", "Smuggling case", "gallium exports", "nothing here at all",
    "chipotle ban", "the entity listing ban", "us ban",
    "Intel exports fall", "intel exports fall", "AMDs exported", "Intel\nexports in summary",
    "US curbs on Intel", "INTEL EXPORTS", "Int\u200bel exports",
])
def test_fast_path_on_edges(text: str) -> None:
    rules = _rules()
    assert prefilter_for(rules).enabled
    for now in (None, datetime(2026, 1, 15, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)):
        assert match(rules, text, now) == reference(rules, text, now)


def test_a_rule_without_terms_turns_the_prefilter_off() -> None:
    rules = [*_rules(), compile_rule("everything", tags=["e"], severity=Severity.LOW)]
    assert not prefilter_for(rules).enabled
    m = match(rules, "nothing here at all")
    assert m is not None and m.rule_ids == ("everything",)


def test_a_changed_rule_list_gets_its_own_prefilter() -> None:
    rules = _rules()
    prefilter_for(rules)
    assert match(rules, "weather report") is None
    rules.append(compile_rule("late", tags=["f"], severity=Severity.LOW, any_terms=["weather"]))
    m = match(rules, "weather report")
    assert m is not None and m.rule_ids == ("late",)


def test_a_rule_set_gets_its_prefilter_once_it_has_matched_enough() -> None:
    rules = tuple(_rules())
    texts = ["gallium ban", "weather report", "Smuggling case"] * (PREFILTER_AFTER // 3 + 2)
    assert [match(rules, t) for t in texts] == [reference(rules, t) for t in texts]


def test_prefilter_of_empty_gates_rejects_nothing_it_should_not() -> None:
    assert Prefilter(None).possible("anything")
    assert not Prefilter([]).possible("anything")


@pytest.mark.parametrize(("source", "texts"), [
    ("ascend ?9[0-9]{2}[a-z]?", ["ascend 910b", "ASCEND910"]),
    ("(sell|ships?) to (china|russia)", ["sell to china", "ship to Russia"]),
    ("(?x) a \\s b", ["a b"]),
    ("x{2,}yz", ["xxyz"]),
])
def test_required_literals_occur_in_every_match(source: str, texts: list[str]) -> None:
    lits = required(source, re.IGNORECASE)
    assert lits
    for text in texts:
        assert re.search(source, text, re.IGNORECASE)
        assert any(lit.casefold() in text.casefold() for lit in lits), (lits, text)


@pytest.mark.parametrize("source", [".*", "a|", "(a|b*)", "\\w+", "x?"])
def test_required_literals_claim_nothing_when_unsure(source: str) -> None:
    assert required(source, re.IGNORECASE) is None
