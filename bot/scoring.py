"""Scores of a backtest against labelled developments: what a team would have seen.

The labels are the stream format of `../shared/data/stream-*/labels.tsv`: one line per item,
`id <TAB> label <TAB> development id <TAB> note`, label `dev | follow | neg | unsure`. The
alerts are what `backtest --json --first-only` prints, in posting order: each item once, the
first alert of a story being its parent. The figures are computed as
`../shared/tools/score_alerts.py` computes them, so the two always agree:

- developments: development ids with at least one `dev` report;
- recall: share of developments with an alerted report (`dev` or `follow`);
- surfaced: share of alerted developments that lead at least one parent;
- buried: alerted developments seen only as replies under another story's parent;
- extra parents: parents beyond the first for one development;
- false alerts / false parents: alerts (parents) on items labelled `neg`; an alert on an item
  with no label counts as false and is listed as unlabelled, for a person to look at.

Pure: no I/O beyond `read_labels`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RELATED = ("dev", "follow")


@dataclass(frozen=True)
class Labels:
    """Each labelled item's label, and its development id where it has one."""

    label: dict[str, str]
    development: dict[str, str]


@dataclass(frozen=True)
class Alert:
    """One alerted item, once, at its first parent or reply (in posting order)."""

    id: str
    story: str
    title: str = ""
    relevance: float | None = None


@dataclass(frozen=True)
class Score:
    """The figures of one backtest against labels (see the module docstring)."""

    developments: int
    alerted: int
    surfaced: int
    alerts: int
    parents: int
    extra_parents: int
    false_alerts: int
    false_parents: int
    missed: tuple[str, ...]
    buried: tuple[str, ...]
    unlabelled: tuple[Alert, ...]
    false_parent_ids: tuple[str, ...] = field(default=())

    @property
    def recall(self) -> float:
        """Share of developments with an alerted report."""
        return self.alerted / (self.developments or 1)

    @property
    def surfaced_share(self) -> float:
        """Share of alerted developments that lead a parent."""
        return self.surfaced / (self.alerted or 1)

    def key_values(self) -> str:
        """One line of `key=value` pairs, the same as score_alerts.py's last line."""
        return (f"recall={self.recall:.3f} surfaced={self.surfaced_share:.3f} "
                f"buried={len(self.buried)} extra_parents={self.extra_parents} "
                f"false_alerts={self.false_alerts} false_parents={self.false_parents} "
                f"parents={self.parents} developments={self.developments}")

    def as_json(self) -> dict[str, Any]:
        """The figures and the lists, for scripts."""
        return {"developments": self.developments, "alerted": self.alerted,
                "recall": round(self.recall, 3), "surfaced": self.surfaced,
                "surfaced_share": round(self.surfaced_share, 3), "alerts": self.alerts,
                "parents": self.parents, "buried": len(self.buried),
                "extra_parents": self.extra_parents, "false_alerts": self.false_alerts,
                "false_parents": self.false_parents, "missed_ids": list(self.missed),
                "buried_ids": list(self.buried),
                "false_parent_ids": list(self.false_parent_ids),
                "unlabelled": [_alert_json(a) for a in self.unlabelled]}


def _alert_json(alert: Alert) -> dict[str, Any]:
    out: dict[str, Any] = {"id": alert.id, "story": alert.story, "title": alert.title}
    if alert.relevance is not None:
        out["relevance"] = alert.relevance
    return out


def parse_labels(lines: Iterable[str]) -> Labels:
    """Labels from TSV lines; lines without an id and a label are skipped, as the script
    skips them (a later line for the same id wins)."""
    label: dict[str, str] = {}
    development: dict[str, str] = {}
    for line in lines:
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 2 or not parts[0]:
            continue
        label[parts[0]] = parts[1]
        if len(parts) > 2 and parts[2]:
            development[parts[0]] = parts[2]
    return Labels(label, development)


def read_labels(path: Path) -> Labels:
    """The labels file at `path` (UTF-8 TSV); raises OSError or UnicodeDecodeError."""
    with path.open(encoding="utf-8") as f:
        return parse_labels(f)


def score(labels: Labels, alerts: Sequence[Alert]) -> Score:
    """The figures for `alerts` (posting order, each item once) against `labels`."""
    dev_of = labels.development
    unlabelled = tuple(a for a in alerts if a.id not in labels.label)
    # An alert on an item nobody labelled counts as false (only items with a chip or trade
    # word were labelled), and is listed so that a person can check it.
    label = {**labels.label, **{a.id: "neg" for a in unlabelled}}
    developments = {d for i, d in dev_of.items() if label[i] == "dev"}
    first_of_story: dict[str, str] = {}
    parents: list[str] = []
    alerted: set[str] = set()
    led: dict[str, int] = defaultdict(int)
    for a in alerts:
        related = a.id in dev_of and label[a.id] in RELATED
        if a.story not in first_of_story:
            first_of_story[a.story] = a.id
            parents.append(a.id)
            if related:
                led[dev_of[a.id]] += 1
        if related:
            alerted.add(dev_of[a.id])
    hit = developments & alerted
    surfaced = {d for d in hit if led.get(d)}
    false_parents = tuple(p for p in parents if label[p] == "neg")
    return Score(
        developments=len(developments), alerted=len(hit), surfaced=len(surfaced),
        alerts=len(alerts), parents=len(parents),
        extra_parents=sum(n - 1 for d, n in led.items() if d in developments and n > 1),
        false_alerts=sum(1 for a in alerts if label[a.id] == "neg"),
        false_parents=len(false_parents), missed=tuple(sorted(developments - alerted)),
        buried=tuple(sorted(hit - surfaced)), unlabelled=unlabelled,
        false_parent_ids=false_parents)


def render(result: Score, shown: int = 20) -> list[str]:
    """The scores for a person: figures, then the ids to look at, then the key=value line."""
    devs = result.developments or 1
    share = result.false_parents / (result.parents or 1)
    lines = [
        f"developments {result.developments}; alerted {result.alerted} "
        f"(recall {result.recall:.3f})",
        f"alerts {result.alerts} in {result.parents} parents; surfaced "
        f"{result.surfaced}/{result.alerted} ({result.surfaced_share:.3f}); buried "
        f"{len(result.buried)}; extra parents {result.extra_parents} "
        f"({result.extra_parents / devs:.2f} per development)",
        f"false alerts {result.false_alerts}, {result.false_parents} of them parents "
        f"({share:.1%} of parents); {len(result.unlabelled)} on unlabelled items, "
        f"counted as false"]
    lines += [f"  missed: {d}" for d in result.missed]
    lines += [f"  buried: {d}" for d in result.buried]
    for a in result.unlabelled[:shown]:
        score_text = "" if a.relevance is None else f" (relevance {a.relevance:.2f})"
        lines.append(f"  unlabelled alert: {a.id} {a.title}{score_text}")
    if len(result.unlabelled) > shown:
        lines.append(f"  … and {len(result.unlabelled) - shown} more unlabelled alerts "
                     f"(all of them in --score-json)")
    lines.append(result.key_values())
    return lines
