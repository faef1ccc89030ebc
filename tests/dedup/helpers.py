"""Shared helpers for the dedup tests: item builders, fixture loading, B-cubed scoring."""

from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.dedup import StoryInput

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dedup"
T0 = datetime(2026, 1, 28, 9, 0, tzinfo=UTC)


def item(
    id: str, title: str, *, link: str = "", source: str = "Wire", minutes: float = 0.0,
    summary: str = "",
) -> StoryInput:
    """A StoryInput published `minutes` after T0."""
    return StoryInput(
        id=id, title=title, link=link or f"https://example.com/{id}", source=source,
        published=T0 + timedelta(minutes=minutes), summary=summary,
    )


def load_labelled(path: Path, seed: int) -> tuple[list[StoryInput], dict[str, str]]:
    """UCI rows as items in a seeded shuffled order with evenly spaced times, plus gold labels.

    Like the project's conversion tool, this hides the file's per-story crawl order and times.
    """
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rows.sort(key=lambda r: int(r["ID"]))
    random.Random(seed).shuffle(rows)
    span = timedelta(hours=48) / max(1, len(rows) - 1)
    items = [
        StoryInput(id=r["ID"], title=r["TITLE"], link=r["URL"], source=r["PUBLISHER"],
                   published=T0 + i * span)
        for i, r in enumerate(rows)
    ]
    return items, {r["ID"]: r["STORY"] for r in rows}


def b_cubed(gold: Sequence[str], pred: Sequence[str]) -> tuple[float, float, float]:
    """B-cubed (F1, precision, recall) of a predicted clustering against gold labels.

    Per item: precision is the share of its predicted cluster that shares its gold label,
    recall the share of its gold cluster that shares its predicted cluster; both averaged.
    """
    n = len(gold)
    if n == 0 or n != len(pred):
        raise ValueError("need equally long, non-empty label lists")
    in_gold, in_pred = Counter(gold), Counter(pred)
    both = Counter(zip(gold, pred, strict=True))
    precision = sum(both[(g, p)] / in_pred[p] for g, p in zip(gold, pred, strict=True)) / n
    recall = sum(both[(g, p)] / in_gold[g] for g, p in zip(gold, pred, strict=True)) / n
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return f1, precision, recall
