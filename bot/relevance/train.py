"""Training and scoring of the relevance model: L2-regularised logistic regression fitted by
Newton's method (deterministic: the same data give the same weights, bit for bit on one
machine and to the file's six digits across machines)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bot.relevance.data import Labelled
from bot.relevance.features import Embedder, Vector, featurize
from bot.relevance.model import RelevanceModel

# Chosen on stream-dev (a model trained on its first half, scored on its second) and checked
# on stream-val with a model trained on stream-dev alone: see README, "Relevance".
PENALTY = 1.0
DEV_PENALTY = 0.3  # the development head: fewer items, a lighter penalty
THRESHOLD = 0.05
SUMMARY_THRESHOLD = 0.4
FOLLOW_BELOW = 0.3
NEWTON_STEPS = 25


def fit_logistic(x: Vector, y: Vector, weight: Vector, penalty: float) -> Vector:
    """Weights minimising weighted log-loss + penalty/2·|w|² (the intercept, last column,
    unpenalised)."""
    d = x.shape[1]
    w = np.zeros(d)
    ridge = np.full(d, penalty)
    ridge[-1] = 1e-6
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -40, 40)))
        grad = x.T @ (weight * (p - y)) + ridge * w
        hess = (x * (weight * p * (1 - p))[:, None]).T @ x + np.diag(ridge)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.max(np.abs(step))) < 1e-9:
            break
    return w


@dataclass(frozen=True)
class Recipe:
    """What `learn` may vary: the penalty and the thresholds."""

    penalty: float = PENALTY
    threshold: float = THRESHOLD
    summary_threshold: float = SUMMARY_THRESHOLD
    follow_below: float = FOLLOW_BELOW
    dev_penalty: float = DEV_PENALTY


def train(data: Sequence[Labelled], embedder: Embedder, recipe: Recipe = Recipe(),
          card: dict[str, Any] | None = None) -> RelevanceModel:
    """Fit both heads on `data`: relevance on everything, development on the relevant."""
    x = featurize(embedder, [d.title for d in data], [d.summary for d in data])
    weight = np.array([d.weight for d in data])
    relevant = np.array([d.label != "neg" for d in data])
    rel = fit_logistic(x, relevant.astype(float), weight, recipe.penalty)
    is_dev = np.array([d.label == "dev" for d in data], dtype=float)[relevant]
    # Classes weighed equally: reports outnumber follow-ups in the labels, and a head fitted
    # to that prior calls almost everything a development.
    devs = float(is_dev.sum())
    balance = np.where(is_dev == 1, 1.0, devs / max(1.0, len(is_dev) - devs))
    dev = fit_logistic(x[relevant], is_dev, weight[relevant] * balance, recipe.dev_penalty)
    return RelevanceModel(rel, dev, recipe.threshold, recipe.follow_below,
                          recipe.summary_threshold, card or {}, embedder)


def auc(scores: Vector, truth: Vector) -> float:
    """Area under the ROC curve (ties broken by order; 0.5 when one class is absent)."""
    pos = int(truth.sum())
    neg = len(truth) - pos
    if not pos or not neg:
        return 0.5
    ranks = np.empty(len(scores))
    ranks[np.argsort(scores, kind="stable")] = np.arange(1, len(scores) + 1)
    return float((ranks[truth == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def figures(model: RelevanceModel, data: Sequence[Labelled]) -> dict[str, Any]:
    """How `model` scores labelled `data`: AUC; at each of its two bars, the share of
    relevant items kept, the negatives kept and the developments that keep at least one
    report; and how well it tells a development from a follow-up."""
    rel, dev = model.probabilities([d.title for d in data], [d.summary for d in data])
    truth = np.array([d.label != "neg" for d in data])
    developments = {d.development for d in data if d.label == "dev" and d.development}
    out: dict[str, Any] = {"items": len(data), "relevant": int(truth.sum()),
                           "negatives": int((~truth).sum()),
                           "auc": round(auc(rel, truth.astype(float)), 3)}
    for name, bar in (("headline", model.threshold), ("summary", model.summary_threshold)):
        kept = rel >= bar
        still = {d.development for d, k in zip(data, kept, strict=True)
                 if k and d.label != "neg" and d.development}
        out[f"{name}_bar"] = {
            "at": bar,
            "kept_relevant": round(float(kept[truth].mean()) if truth.any() else 0.0, 3),
            "kept_negatives": int((kept & ~truth).sum()),
            "developments_kept": f"{len(still & developments)}/{len(developments)}"}
    is_dev = np.array([d.label == "dev" for d in data])
    told = (dev >= model.follow_below) == is_dev
    out["dev_vs_follow_accuracy"] = round(float(told[truth].mean()) if truth.any() else 0.0, 3)
    return out
