"""A candidate config against the current one over the same archive: alerts added and
dropped per week, the parents that appear (to review) and those that vanish."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.runtime.backtest import Sent

SHOWN = 30


def week_of(message: Sent) -> str:
    """The ISO week a message was posted in (`2023-W05`)."""
    year, week, _ = message.at.isocalendar()
    return f"{year}-W{week:02d}"


def _first_alerts(sent: Sequence[Sent]) -> dict[str, Sent]:
    """Each alerted item at its first parent or reply."""
    out: dict[str, Sent] = {}
    for m in sent:
        if m.kind in ("parent", "reply") and m.item and m.item not in out:
            out[m.item] = m
    return out


def _parents(sent: Sequence[Sent]) -> dict[str, Sent]:
    """Each item that opened a parent (its first), by item id."""
    out: dict[str, Sent] = {}
    for m in sent:
        if m.kind == "parent" and m.item and m.item not in out:
            out[m.item] = m
    return out


@dataclass
class Comparison:
    """What the candidate changes: per week (added, dropped) alerted items, and parents."""

    added: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    new_parents: list[Sent] = field(default_factory=list)
    gone_parents: list[Sent] = field(default_factory=list)
    changed: int = 0  # items alerted by both, with other channels, severity or rules
    base_parents: int = 0
    parents: int = 0


def compare(base: Sequence[Sent], candidate: Sequence[Sent]) -> Comparison:
    """Compare two runs' messages item by item (`current` first)."""
    out = Comparison()
    was, now = _first_alerts(base), _first_alerts(candidate)
    for item, m in now.items():
        if item not in was:
            out.added[week_of(m)] += 1
        elif (m.severity, m.rules) != (was[item].severity, was[item].rules):
            out.changed += 1
    for item, m in was.items():
        if item not in now:
            out.dropped[week_of(m)] += 1
    parents_was, parents_now = _parents(base), _parents(candidate)
    out.base_parents, out.parents = len(parents_was), len(parents_now)
    out.new_parents = [m for i, m in parents_now.items() if i not in parents_was]
    out.gone_parents = [m for i, m in parents_was.items() if i not in parents_now]
    return out


def render_comparison(c: Comparison) -> list[str]:
    """The comparison for a person: totals, the weeks that change, the parents to review."""
    lines = [f"against the current rules: parents {c.base_parents} → {c.parents}; alerted "
             f"items +{sum(c.added.values())} new, -{sum(c.dropped.values())} dropped, "
             f"{c.changed} changed (severity or rules)"]
    weeks = sorted(set(c.added) | set(c.dropped))
    if weeks:
        lines += ["  WEEK      NEW  DROPPED"]
        lines += [f"  {w}  {c.added[w]:<4} {c.dropped[w]}" for w in weeks]
    for title, parents in (("NEW parents to review", c.new_parents),
                           ("DROPPED parents", c.gone_parents)):
        if parents:
            lines.append(f"{title} ({len(parents)}):")
            lines += [f"  {m.at:%Y-%m-%d}  {m.channel}  {m.title[:90]}"
                      for m in parents[:SHOWN]]
            if len(parents) > SHOWN:
                lines.append(f"  … and {len(parents) - SHOWN} more (see --html)")
    return lines
