"""The relevance stage's logic: a compiled judge that scores what the rules fired on.

Pure but for the model's lazy load: given an item and its match it returns the match with
the score set (and the `follow-up` tag added when the model reads a follow-up), and what
should become of the alert.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from bot.models import Item, Match, Severity
from bot.relevance.features import WordLlamaEmbedder
from bot.relevance.model import BUNDLED, Kind, RelevanceModel, Verdict, load_model
from bot.rules.engine import CompiledRule, match

FOLLOW_TAG = "follow-up"
# One embedder for every model a process loads: a reload re-reads the small model file, not
# the embedding weights.
EMBEDDER = WordLlamaEmbedder()
_LOAD = threading.Lock()


class Below(StrEnum):
    """What becomes of an alert scoring below the threshold."""

    DROP = "drop"
    REVIEW = "review"


class Fate(StrEnum):
    """The stage's decision for one alert."""

    ALERT = "alert"  # on to stories and routes (a follow-up joins a thread, never opens one)
    DROP = "drop"  # recorded with its score, not posted
    REVIEW = "review"  # posted to the review channel only


@dataclass(frozen=True)
class Judge:
    """A loaded model with the config's threshold, what to do below it, and the rules it
    does not judge."""

    model: RelevanceModel
    threshold: float  # for an alert a rule fires on from the headline alone
    summary_threshold: float  # for an alert that rests on words of the summary
    below: Below
    review_channel: str | None
    exempt: frozenset[str]
    source: str  # "bundled" or the model file's path, for operator tools
    rules: tuple[CompiledRule, ...] = ()

    def applies(self, match: Match) -> bool:
        """Whether this alert is judged: not when every rule that fired opted out."""
        return not all(r in self.exempt for r in match.rule_ids)

    def bar(self, item: Item) -> float:
        """The score this item must reach. A detection rule (medium severity or more) that
        fires on the headline alone is strong evidence: the model overrules it only when
        sure. An alert that needs the summary's words is most often background to other
        news (a live blog, a newsletter), so the model must find it more likely relevant."""
        if not item.summary:
            return self.threshold
        headline = match(self.rules, item.title)
        strong = headline is not None and headline.severity >= Severity.MEDIUM
        return self.threshold if strong else self.summary_threshold

    def verdict(self, item: Item, bar: float | None = None) -> Verdict:
        """The model's verdict on one item, at the bar its evidence sets (or `bar`)."""
        return self.model.judge(item.title, item.summary,
                                self.bar(item) if bar is None else bar)

    def decide(self, item: Item, match: Match) -> tuple[Match, Fate]:
        """The match with its score (and follow-up tag), and the alert's fate."""
        if not self.applies(match):
            return match, Fate.ALERT
        return self.settle(match, self.verdict(item))

    def settle(self, match: Match, v: Verdict) -> tuple[Match, Fate]:
        """What a verdict makes of a judged alert: its match, scored, and its fate."""
        if v.kind is Kind.FOLLOW_UP and FOLLOW_TAG not in match.tags:
            scored = replace(match, tags=match.tags | {FOLLOW_TAG}, relevance=v.score,
                             model_follow=True, development=v.development)
        else:
            scored = replace(match, relevance=v.score, development=v.development)
        if v.kind is not Kind.NEITHER:
            return scored, Fate.ALERT
        return scored, Fate.REVIEW if self.below is Below.REVIEW else Fate.DROP


def explanation(judge: Judge, item: Item, match: Match) -> dict[str, object]:
    """What `explain` shows of the model's opinion: the score, the bar it had to reach and
    why that bar, the verdict, and the headline words that moved the score most."""
    if not judge.applies(match):
        return {"model": judge.source, "judged": False,
                "why": "every rule that fired has relevance: false"}
    bar = judge.bar(item)
    v = judge.verdict(item, bar)
    return {
        "model": judge.source, "judged": True, "score": v.score, "bar": bar,
        "bar_for": "headline" if bar == judge.threshold else "summary",
        "kind": v.kind.value, "development": v.development,
        "fate": judge.settle(match, v)[1].value,
        "movers": [{"word": w, "change": d} for w, d in judge.model.movers(item.title,
                                                                            item.summary)],
    }


@lru_cache(maxsize=8)
def _cached(path: Path, mtime_ns: int) -> RelevanceModel:
    return load_model(path, EMBEDDER)


def model_file(spec: str, base: Path) -> Path:
    """`bundled` or a path relative to the config file's folder."""
    return BUNDLED if spec == "bundled" else (base / spec).resolve()


def load_judge(spec: str, base: Path, thresholds: tuple[float | None, float | None],
               below: str, review_channel: str | None, exempt: frozenset[str],
               rules: tuple[CompiledRule, ...]) -> Judge:
    """Load (or reuse) the model file and compile the judge; raises ModelError."""
    path = model_file(spec, base)
    with _LOAD:
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            stamp = -1  # load_model names the missing file
        model = _cached(path, stamp)
    headline, summary = thresholds
    return Judge(model, model.threshold if headline is None else headline,
                 model.summary_threshold if summary is None else summary, Below(below),
                 review_channel, exempt, spec if spec == "bundled" else str(path), rules)
