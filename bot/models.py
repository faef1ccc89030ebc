"""The plain data that flows through the pipeline: items, severities, match results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum


class Severity(IntEnum):
    """How much an alert matters; ordered so that `max` picks the top one."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, name: str) -> Severity:
        return cls[name.strip().upper()]

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Item:
    """One news item as the pipeline sees it, whatever feed format it came from."""

    id: str
    feed: str
    title: str
    link: str
    summary: str
    published: datetime
    fetched: datetime
    source: str = ""

    @property
    def text(self) -> str:
        """Title and summary, the text that rules match against."""
        return f"{self.title}\n{self.summary}" if self.summary else self.title


@dataclass(frozen=True)
class RuleHit:
    """One rule that fired for an item, with the terms that made it fire."""

    rule_id: str
    terms: tuple[str, ...]


@dataclass(frozen=True)
class Match:
    """What the rules said about an item: which fired, the union of tags, the top severity;
    and, once the relevance stage has run, the model's score (None: not scored)."""

    hits: tuple[RuleHit, ...]
    tags: frozenset[str]
    severity: Severity
    relevance: float | None = None
    # The relevance model, not a rule, read it as a follow-up: it joins a thread if it can,
    # and opens one if there is none (a model's misreading must not lose a development).
    model_follow: bool = False
    # The model's chance that a relevant item reports a new decision (None: not scored).
    development: float | None = None

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(h.rule_id for h in self.hits)


@dataclass(frozen=True)
class FeedSpec:
    """One feed as the poller needs it; `url` is absolute (http(s) or file://)."""

    name: str
    url: str
    interval: timedelta
    max_age: timedelta
    jitter: timedelta
    source: str
