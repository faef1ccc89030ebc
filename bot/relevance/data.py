"""Labelled headlines for `chipwatch learn`, from the three places they come from.

- a stream's `labels.tsv` (`id, label, development id, note`) with its archive of items, as
  in ../shared/data/stream-*: `dev`, `follow` and `neg` are taken, `unsure` is left out;
- the `feedback export` TSV: a Not-relevant mark made in Slack is a negative, weighed above
  a stream label (a team's own judgement); a row marked `kept` (an alert the team let stand)
  is a weak positive;
- the rules' `examples`: a headline a detection rule must match is a development, one a
  `follow-up`-tagged rule must match is a follow-up; both weak (written to test a rule).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.archive import read_archive
from bot.config.schema import RuleConfig

LABELS = ("dev", "follow", "neg")
MARK_WEIGHT = 2.0
KEPT_WEIGHT = 0.5
EXAMPLE_WEIGHT = 0.5


class DataError(ValueError):
    """A training file that cannot be read; the message names the file (and line)."""


@dataclass(frozen=True)
class Labelled:
    """One training headline: its text, label (dev | follow | neg), weight, where it came
    from (a period name, `feedback` or `examples`), its development id and date."""

    title: str
    summary: str
    label: str
    weight: float
    origin: str
    development: str = ""
    published: str = ""


def read_labels(path: Path) -> dict[str, tuple[str, str]]:
    """A labels TSV: item id → (label, development id); `unsure` and blank lines skipped."""
    out: dict[str, tuple[str, str]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(f"{path}: cannot read labels ({exc.strerror})") from exc
    for number, line in enumerate(lines, start=1):
        parts = line.split("\t")
        if not parts[0] or len(parts) < 2:
            continue
        label = parts[1].strip()
        if label == "unsure":
            continue
        if label not in LABELS:
            raise DataError(f"{path}:{number}: label {label!r} is not one of "
                            f"{', '.join(LABELS)}, unsure")
        out[parts[0]] = (label, parts[2].strip() if len(parts) > 2 else "")
    return out


def stream(labels: Path, archive: Path, origin: str) -> list[Labelled]:
    """The labelled items of one period, in the archive's order."""
    wanted = read_labels(labels)
    out = []
    for a in read_archive(archive):
        got = wanted.get(a.id)
        if got is not None:
            out.append(Labelled(a.title, a.summary, got[0], 1.0, origin, got[1],
                                a.published.date().isoformat()))
    if not out:
        raise DataError(f"{labels}: none of its ids is in {archive}")
    return out


def feedback(path: Path) -> list[Labelled]:
    """Slack marks exported by `chipwatch feedback export` (title column; a `mark` column,
    when present, says `kept` for an alert the team let stand)."""
    try:
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
    except OSError as exc:
        raise DataError(f"{path}: cannot read feedback ({exc.strerror})") from exc
    out = []
    for number, row in enumerate(rows, start=2):
        title = (row.get("title") or "").strip()
        if not title:
            raise DataError(f"{path}:{number}: no title (is this a `feedback export` file?)")
        kept = (row.get("mark") or "").strip() == "kept"
        out.append(Labelled(title, "", "dev" if kept else "neg",
                            KEPT_WEIGHT if kept else MARK_WEIGHT, "feedback",
                            published=(row.get("marked_at") or "")[:10]))
    return out


def examples(rules: Iterable[RuleConfig], follow_tags: Sequence[str]) -> list[Labelled]:
    """The `match` examples of the rules: follow-ups for rules tagged as such, else
    developments. `no_match` examples are left out: many are on topic (a reaction that
    must not fire a decision rule), so they are not negatives."""
    out = []
    for rule in rules:
        label = "follow" if set(rule.tags) & set(follow_tags) else "dev"
        for text in rule.examples.match:
            title, _, summary = text.partition("\n")
            out.append(Labelled(title, summary, label, EXAMPLE_WEIGHT, "examples"))
    return out
