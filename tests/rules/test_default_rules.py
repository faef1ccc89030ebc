"""Quality of the default rule set in config/chipwatch.yaml, measured on labelled headlines.

Figures are printed (run `pytest -s tests/rules`) and asserted:
- tuning set (`labelled.tsv`): recall >= 0.95, false-alert rate <= 0.01;
- held-out sets (`heldout.tsv`, `heldout-2.tsv`, each written after a round of tuning):
  recall >= 0.90, false-alert rate <= 0.02;
- general news (`uci-news-dev-titles.txt`, 3,232 real 2014 headlines): false alerts <= 0.5%.
Also checked: each rule's own `examples`, the founding H200 headline, what severities mean, the
term lists that must stay supersets of others, and that tag-only rules never add an alert.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from bot.config import Config, load_config
from bot.models import Severity
from bot.rules import CompiledRule, compile_term, evaluate, fold, match

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "chipwatch.yaml"
HEADLINES = ROOT / "tests" / "fixtures" / "headlines"

FOUNDING = "China approves first imports of Nvidia's H200 AI chips, sources say"


@dataclass(frozen=True)
class Headline:
    """One labelled headline: should it alert, and what kind of headline it is."""

    alert: bool
    title: str
    note: str


@dataclass(frozen=True)
class Score:
    """Recall on positives and false-alert rate on negatives, with the failures."""

    positives: int
    negatives: int
    missed: tuple[Headline, ...]
    false_alerts: tuple[Headline, ...]

    @property
    def recall(self) -> float:
        return 1 - len(self.missed) / self.positives if self.positives else 1.0

    @property
    def false_alert_rate(self) -> float:
        return len(self.false_alerts) / self.negatives if self.negatives else 0.0

    def report(self, name: str) -> str:
        lines = [
            f"{name}: recall {self.recall:.3f} ({self.positives - len(self.missed)}"
            f"/{self.positives}), false alerts {self.false_alert_rate:.4f}"
            f" ({len(self.false_alerts)}/{self.negatives})"
        ]
        lines += [f"  missed [{h.note}] {h.title}" for h in self.missed]
        lines += [f"  false alert [{h.note}] {h.title}" for h in self.false_alerts]
        return "\n".join(lines)


@cache
def config() -> Config:
    # Through the real loader, so the test sees exactly what `chipwatch run` would.
    return load_config(CONFIG)


def rules() -> tuple[CompiledRule, ...]:
    return config().rules


def read_tsv(name: str) -> list[Headline]:
    """A `label<TAB>title<TAB>note` file as headlines."""
    with (HEADLINES / name).open(encoding="utf-8", newline="") as f:
        return [
            Headline(row["label"] == "1", row["title"], row["note"])
            for row in csv.DictReader(f, delimiter="\t")
        ]


def read_general_news() -> list[Headline]:
    """The UCI general-news titles, all labelled as must-not-alert."""
    text = (HEADLINES / "uci-news-dev-titles.txt").read_text(encoding="utf-8")
    return [Headline(False, t, "uci-general-news") for t in text.splitlines() if t.strip()]


def score(headlines: Sequence[Headline]) -> Score:
    """Run the rules over every headline and count misses and false alerts."""
    missed, false_alerts = [], []
    for h in headlines:
        fired = match(rules(), h.title) is not None
        if h.alert and not fired:
            missed.append(h)
        elif not h.alert and fired:
            false_alerts.append(h)
    return Score(
        positives=sum(h.alert for h in headlines),
        negatives=sum(not h.alert for h in headlines),
        missed=tuple(missed),
        false_alerts=tuple(false_alerts),
    )


# ---- the labelled sets -----------------------------------------------------------------------


def test_tuning_set_is_big_and_balanced_enough() -> None:
    headlines = read_tsv("labelled.tsv")
    positives = sum(h.alert for h in headlines)
    assert positives >= 200
    assert len(headlines) - positives >= positives
    assert len({h.title for h in headlines}) == len(headlines), "duplicate headlines"


def test_tuning_set_recall_and_false_alert_rate() -> None:
    result = score(read_tsv("labelled.tsv"))
    print("\n" + result.report("tuning set"))
    assert result.recall >= 0.95, result.report("tuning set")
    assert result.false_alert_rate <= 0.01, result.report("tuning set")


@pytest.mark.parametrize("name", ["heldout.tsv", "heldout-2.tsv"])
def test_heldout_set_recall_and_false_alert_rate(name: str) -> None:
    result = score(read_tsv(name))
    print("\n" + result.report(name))
    assert result.recall >= 0.90, result.report(name)
    assert result.false_alert_rate <= 0.02, result.report(name)


def test_general_news_false_alert_rate() -> None:
    headlines = read_general_news()
    assert len(headlines) > 3000
    result = score(headlines)
    print("\n" + result.report("UCI general news"))
    assert result.false_alert_rate <= 0.005, result.report("UCI general news")


def test_no_overlap_between_the_sets() -> None:
    seen: set[str] = set()
    for name in ("labelled.tsv", "heldout.tsv", "heldout-2.tsv"):
        titles = {fold(h.title) for h in read_tsv(name)}
        assert not titles & seen, f"{name} repeats headlines of an earlier set"
        seen |= titles


# ---- rule by rule ----------------------------------------------------------------------------


def test_config_loads_without_warnings() -> None:
    assert config().warnings == ()


@pytest.mark.parametrize("rule", rules(), ids=lambda r: r.id)
def test_rule_examples(rule: CompiledRule) -> None:
    """What `chipwatch check` runs: each rule alone fires on its match examples only."""
    assert rule.examples_match, f"{rule.id} has no match example"
    for text in rule.examples_match:
        (ev,) = evaluate([rule], text)
        assert ev.fired, f"{rule.id} should match {text!r}: {ev.reasons()}"
    for text in rule.examples_no_match:
        (ev,) = evaluate([rule], text)
        assert not ev.fired, f"{rule.id} should not match {text!r} (terms {ev.matched_terms})"


def test_founding_headline() -> None:
    found = match(rules(), FOUNDING)
    assert found is not None
    assert {"nvidia", "h200", "china"} <= found.tags
    assert found.severity >= Severity.HIGH


# ---- what severity means ---------------------------------------------------------------------

DECISIONS = [
    "US tightens export controls on AI chips to China",
    "China imposes export controls on rare earth magnets",
    "Commerce adds SMIC to trade blacklist",
    "Trump announces 100% tariff on imported semiconductors",
    "Japan adds 23 chipmaking items to export control list",
]
COMPANY_NEWS = [
    "Nvidia readies B30A chip for China, sources say",
    "Microsoft gets US export licenses to ship Nvidia chips to UAE",
    "Two Chinese nationals charged with smuggling Nvidia AI chips to China",
]
COMMENTARY = [
    "Chip tariffs could raise electronics prices, analysts warn",
    "Nvidia CEO Huang says US chip export controls were a failure",
    "ASML warns of lower China sales as export curbs bite",
    "Nvidia shares fall after US bans H20 exports to China",
    "China's integrated circuit imports rise in first half, customs data show",
]


@pytest.mark.parametrize("title", DECISIONS)
def test_government_decisions_are_critical(title: str) -> None:
    found = match(rules(), title)
    assert found is not None and found.severity == Severity.CRITICAL


@pytest.mark.parametrize("title", COMPANY_NEWS)
def test_company_developments_are_high(title: str) -> None:
    found = match(rules(), title)
    assert found is not None and found.severity == Severity.HIGH


@pytest.mark.parametrize("title", COMMENTARY)
def test_commentary_and_data_are_never_critical(title: str) -> None:
    found = match(rules(), title)
    assert found is not None and found.severity < Severity.CRITICAL


# ---- the structure of the rule set -----------------------------------------------------------

# A term list cannot name another list, so these unions spell out their members; each must
# cover every term of the lists it unites.
SUPERSETS = {
    "chip_subject": ["ai_chip_models", "china_models"],
    "ai_chip_models": ["china_models"],
    "trade_strong": ["exports", "imports", "control_phrases", "bans", "tariff_words",
                     "smuggling_words", "sanction_words", "trade_talk"],
    "flow": ["exports", "imports"],
    "mineral_actions": ["exports", "imports", "control_phrases", "bans", "tariff_words"],
    "places": ["china", "us", "eu", "netherlands", "japan", "korea", "taiwan", "india",
               "malaysia", "singapore", "se_asia", "uk", "russia", "middle_east",
               "authorities"],
}


def _covered(term: str, union: list[str]) -> bool:
    """True when `term` is in `union`, or its literal text is matched by a term of it."""
    if term in union:
        return True
    if term.startswith("/"):
        return False
    literal = fold(term.rstrip("*"))
    return any(compile_term(u).search(literal) for u in union)


@pytest.mark.parametrize("union", sorted(SUPERSETS))
def test_union_term_lists_cover_their_parts(union: str) -> None:
    terms = config().raw.terms
    missing = [
        (part, t)
        for part in SUPERSETS[union]
        for t in terms[part]
        if not _covered(t, terms[union])
    ]
    assert missing == [], f"${union} lacks terms of its parts"


def test_term_lists_do_not_name_other_lists() -> None:
    # The loader expands `$name` only inside rules; inside a list it would be a literal term
    # that never matches.
    nested = {k: [t for t in v if t.startswith("$")] for k, v in config().raw.terms.items()}
    assert {k: v for k, v in nested.items() if v} == {}


def test_tag_only_rules_never_add_an_alert() -> None:
    """Low-severity rules exist for tags: wherever one fires, a detection rule fires too."""
    tag_rules = [r for r in rules() if r.severity == Severity.LOW]
    detectors = [r for r in rules() if r.severity > Severity.LOW]
    assert tag_rules and detectors
    texts = [h.title for n in ("labelled.tsv", "heldout.tsv", "heldout-2.tsv")
             for h in read_tsv(n)]
    texts += [h.title for h in read_general_news()]
    alone = [
        t for t in texts if match(tag_rules, t) is not None and match(detectors, t) is None
    ]
    assert alone == []


def test_every_positive_gets_a_topic_tag() -> None:
    """Routing needs more than severity: each alert says what kind of trade news it is."""
    topics = {"exports", "imports", "export-controls", "entity-list", "tariffs", "smuggling",
              "sanctions", "licences", "minerals", "trade-flows", "trade-probe", "trade-talks",
              "proposals", "approvals"}
    untagged = []
    for h in read_tsv("labelled.tsv"):
        found = match(rules(), h.title)
        if h.alert and found is not None and not found.tags & topics:
            untagged.append(h.title)
    assert untagged == []


def test_rule_ids_are_kebab_case() -> None:
    assert [r.id for r in rules() if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", r.id)] == []
