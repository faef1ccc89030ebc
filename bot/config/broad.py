"""Rules that fire on ordinary news: a rule such as `all: ["/.*/"]` or `any: ["a*"]` is valid
but would post most of every feed. `broad_rules` runs each rule over a shipped sample of
general-news headlines (`data/ordinary_headlines.txt`, none about chip trade) and warns,
naming the rule and how many of them it fired on, when that is one in ten or more.

One in ten, not "most": a chip-trade rule fires on none of them (the bundled rules: 0 of
404), a country or company alone on about one in twenty, and a rule that takes one ordinary
headline in ten would already post thousands a week from a few busy feeds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from bot.config.load import Located
from bot.errors import Problem
from bot.rules.engine import CompiledRule, match

SAMPLE = Path(__file__).parent / "data" / "ordinary_headlines.txt"
BROAD_SHARE = 0.1


@lru_cache(maxsize=1)
def ordinary_headlines() -> tuple[str, ...]:
    """The shipped sample of general-news headlines."""
    return tuple(line for line in SAMPLE.read_text(encoding="utf-8").splitlines()
                 if line.strip())


def broad_rules(rules: Sequence[CompiledRule], at: Located) -> list[Problem]:
    """A warning for each rule that fires on one in ten or more ordinary headlines (mutes
    ignored: a muted rule comes back)."""
    sample = ordinary_headlines()
    fired: Counter[str] = Counter()
    for headline in sample:
        m = match(rules, headline)
        if m is not None:
            fired.update(m.rule_ids)
    out = []
    for i, rule in enumerate(rules):
        n = fired[rule.id]
        if n >= BROAD_SHARE * len(sample):
            out.append(at.problem(("rules", i), f"rule {rule.id!r} fires on {n} of "
                                                f"{len(sample)} ordinary news headlines "
                                                f"({n / len(sample):.0%}, none about chip "
                                                "trade): it would alert on much of every "
                                                "feed; narrow its terms", level="warning"))
    return out
