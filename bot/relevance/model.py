"""The relevance model: two logistic heads over `features.featurize`, in a small JSON file.

- `relevance`: P(the item reports a chip import/export development, or follows one);
- `development`: P(a new development | relevant) — low means a follow-up (reactions,
  analysis, consequences), which joins a development's thread and never opens one.

The file holds both weight vectors, the thresholds, and a card saying what it was trained on
and how it scored. Scoring is pure arithmetic once the embedder is loaded.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from bot.relevance.features import (
    EMBEDDER_NAME,
    FEATURES,
    HASH_DIM,
    Embedder,
    Vector,
    WordLlamaEmbedder,
    featurize,
    tokens,
)

FORMAT = "chipwatch-relevance/1"
BUNDLED = Path(__file__).with_name("model.json")


class Kind(StrEnum):
    """What the model makes of an item."""

    DEVELOPMENT = "development"
    FOLLOW_UP = "follow-up"
    NEITHER = "neither"


@dataclass(frozen=True)
class Verdict:
    """One item's scores: `score` is the relevance in 0 to 1, `development` the chance that a
    relevant item is a new development rather than a follow-up."""

    score: float
    development: float
    kind: Kind


class ModelError(ValueError):
    """A model file that cannot be used; the message names the file and what is wrong."""


@dataclass
class RelevanceModel:
    """Weights, thresholds and card of a trained model, with the embedder that feeds it."""

    relevance: Vector
    development: Vector
    threshold: float
    follow_below: float
    summary_threshold: float
    card: dict[str, Any] = field(default_factory=dict)
    embedder: Embedder = field(default_factory=WordLlamaEmbedder, repr=False)

    def probabilities(self, titles: Sequence[str],
                      summaries: Sequence[str]) -> tuple[Vector, Vector]:
        """Relevance and development probabilities of each (headline, summary)."""
        x = featurize(self.embedder, titles, summaries)
        return _sigmoid(x @ self.relevance), _sigmoid(x @ self.development)

    def judge_many(self, titles: Sequence[str], summaries: Sequence[str],
                   threshold: float | None = None) -> list[Verdict]:
        """A verdict per item; `threshold` overrides the model's own."""
        if not titles:
            return []
        cut = self.threshold if threshold is None else threshold
        rel, dev = self.probabilities(titles, summaries)
        return [Verdict(round(float(r), 4), round(float(d), 4), self._kind(r, d, cut))
                for r, d in zip(rel, dev, strict=True)]

    def judge(self, title: str, summary: str, threshold: float | None = None) -> Verdict:
        """One item's verdict."""
        return self.judge_many([title], [summary], threshold)[0]

    def _kind(self, rel: float, dev: float, cut: float) -> Kind:
        if rel < cut:
            return Kind.NEITHER
        return Kind.DEVELOPMENT if dev >= self.follow_below else Kind.FOLLOW_UP

    def movers(self, title: str, summary: str, most: int = 4) -> list[tuple[str, float]]:
        """The headline words that moved the relevance score most: the score's change when
        each word is left out (positive: the word raised it)."""
        words = list(dict.fromkeys(tokens(title)))
        if not words:
            return []
        full = tokens(title)
        variants = [" ".join(t for t in full if t != w) for w in words]
        rel, _ = self.probabilities([title, *variants], [summary] * (len(words) + 1))
        deltas = [(w, round(float(rel[0] - r), 3)) for w, r in zip(words, rel[1:], strict=True)]
        deltas.sort(key=lambda pair: -abs(pair[1]))
        return [d for d in deltas[:most] if d[1]]


def _sigmoid(z: Vector) -> Vector:
    out: Vector = 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))
    return out


def to_json(model: RelevanceModel) -> str:
    """The model file's text: stable key order and rounding, so equal inputs give equal
    files."""
    doc = {
        "format": FORMAT,
        "features": {"embedder": EMBEDDER_NAME, "hash_dim": HASH_DIM, "size": FEATURES},
        "threshold": model.threshold,
        "summary_threshold": model.summary_threshold,
        "follow_below": model.follow_below,
        "card": model.card,
        "relevance": [round(float(v), 6) for v in model.relevance],
        "development": [round(float(v), 6) for v in model.development],
    }
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def load_model(path: Path, embedder: Embedder | None = None) -> RelevanceModel:
    """Read a model file; raises ModelError naming the file and the fault."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: cannot read the relevance model ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelError(f"{path}: not a chipwatch relevance model (format {FORMAT!r} "
                         "expected; train one with `chipwatch learn`)")
    feats = doc.get("features", {})
    if feats.get("embedder") != EMBEDDER_NAME or feats.get("size") != FEATURES:
        raise ModelError(f"{path}: made for features {feats!r}; this chipwatch computes "
                         f"{EMBEDDER_NAME} with {FEATURES} features — retrain it")
    try:
        rel = np.asarray(doc["relevance"], dtype=np.float64)
        dev = np.asarray(doc["development"], dtype=np.float64)
        threshold, follow_below = float(doc["threshold"]), float(doc["follow_below"])
        summary_threshold = float(doc["summary_threshold"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{path}: missing or bad field ({exc})") from exc
    if rel.shape != (FEATURES,) or dev.shape != (FEATURES,):
        raise ModelError(f"{path}: weights of the wrong length (want {FEATURES})")
    return RelevanceModel(rel, dev, threshold, follow_below, summary_threshold,
                          dict(doc.get("card", {})), embedder or WordLlamaEmbedder())
