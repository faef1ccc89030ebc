"""The human report of a backtest: what a team would have read, per channel and week."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from bot.runtime.backtest import Sent

TOP_STORIES = 10
TOP_RULES = 10


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in rows]


def weeks_between(first: datetime, last: datetime) -> list[str]:
    """Every ISO week from `first`'s through `last`'s, quiet ones included."""
    out: list[str] = []
    day = first
    while day <= last + timedelta(days=7):
        year, week, _ = day.isocalendar()
        label = f"{year}-W{week:02d}"
        inside = day.date() <= last.date() or label == _week(last)
        if inside and (not out or out[-1] != label):
            out.append(label)
        day += timedelta(days=7)
    return out


def _week(when: datetime) -> str:
    year, week, _ = when.isocalendar()
    return f"{year}-W{week:02d}"


def render(sent: Sequence[Sent], items: int, bad: int, seconds: float,
           span: Iterable[datetime] = ()) -> str:
    """Alerts per channel per week (every week of `span`, the archive's first and last
    times, quiet ones too), parents vs replies, biggest stories, busiest rules."""
    rate = items / seconds if seconds > 0 else 0.0
    lines = [f"backtest: {items:,} items in {seconds:.1f} s ({rate:,.0f} items/s)"
             + (f"; {bad} bad lines skipped" if bad else "")]
    kinds = Counter(s.kind for s in sent)
    lines.append(f"messages: {len(sent)} — {kinds['parent']} parents, {kinds['reply']} thread "
                 f"replies, {kinds['update']} parent updates, {kinds['digest']} digests"
                 + (f", {kinds['escalation']} escalations" if kinds["escalation"] else ""))
    if not sent:
        return "\n".join(lines)
    channels = sorted({s.channel for s in sent})
    weeks: dict[str, Counter[str]] = defaultdict(Counter)
    for s in sent:
        if s.kind in ("parent", "reply", "digest"):
            year, week, _ = s.at.isocalendar()
            weeks[f"{year}-W{week:02d}"][s.channel] += 1
    lines += ["", "alerts per channel per week (parents + replies + digests):"]
    times = [*span, *(s.at for s in sent)]
    every = sorted(set(weeks_between(min(times), max(times))) | set(weeks))
    lines += _table([("WEEK", *channels)] + [(w, *(str(weeks[w][c]) for c in channels))
                                           for w in every])
    stories: dict[str, list[Sent]] = defaultdict(list)
    for s in sent:
        if s.kind in ("parent", "reply") and s.story:
            stories[s.story].append(s)
    biggest = sorted(stories.values(), key=lambda v: (-len({m.item for m in v}), v[0].at))
    lines += ["", "biggest stories (reports, first headline):"]
    lines += _table([("REPORTS", "FIRST", "CHANNEL", "HEADLINE")] + [
        (str(len({m.item for m in v})), v[0].at.strftime("%Y-%m-%d"), v[0].channel,
         v[0].title[:90]) for v in biggest[:TOP_STORIES]])
    fired: Counter[str] = Counter()
    for item, rules in {s.item: s.rules for s in sent if s.kind in ("parent", "reply")}.items():
        if item:
            fired.update(rules)
    lines += ["", "rules that fired most (alerted items):"]
    lines += _table([("RULE", "ITEMS")] + [(r, str(n)) for r, n in fired.most_common(TOP_RULES)])
    return "\n".join(lines)
