"""The dedup engine's inputs, outputs and every threshold it uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class DedupSettings:
    """Thresholds and sizes for story dedup; the defaults are what the bot uses.

    Scores are in [0, 1]. An item joins the best-scoring live story when its score reaches
    `join_threshold`; the score blends similarity to the story's centroid (weight
    `centroid_share`) with the best similarity to one of its recent members.
    """

    window: timedelta = timedelta(hours=72)
    """A story stays joinable while its latest item is at most this old."""
    join_threshold: float = 0.18
    centroid_share: float = 0.7
    merge_threshold: float = 0.25
    """Two live stories whose centroids are this similar are folded into one."""
    merge_probe: float = 0.1
    """Only stories the current item scored at least this against are checked for a merge."""
    near_duplicate: float = 92.0
    """rapidfuzz token_sort_ratio (0-100) on normalised titles that joins outright."""
    weight_ceiling: float = 7.5
    """Token weight is `ceiling - zipf` (zipf = log10 frequency per billion words)."""
    weight_floor: float = 0.2
    weight_power: float = 0.5
    """Weights are raised to this power: below 1 keeps one rare name from deciding alone."""
    slug_scale: float = 0.7
    """Weight of words from the link's path, relative to title words."""
    summary_scale: float = 0.5
    summary_words: int = 40
    follow_tags: frozenset[str] = frozenset()
    """Rule tags that mark an item as a follow-up of a development (a reaction, an analysis),
    not a new one. Empty: no item is treated as a follow-up."""
    follow_window: timedelta = timedelta(0)
    """How long after its latest item a story still takes follow-ups (when longer than
    `window`); other items only see stories inside `window`."""
    follow_threshold: float = 0.1
    """The score at which a follow-up joins the best live story (below `join_threshold`:
    a follow-up names no new decision, so it belongs in some running thread)."""
    follow_joins_only: bool = False
    """A follow-up that finds no story to join starts none (the engine returns None): a
    reaction or an analysis is never a development of its own."""
    distinct_actors: bool = False
    """A decision (see `StoryInput.decision`) joins no story whose first report names other
    governments than it does, none in common (China aside, the usual target: see
    `bot.dedup.actors`); reactions still join the development they answer."""
    founding: timedelta | None = None
    """A story's identity: its reports (not follow-ups) that arrived within this span of its
    first. A new report is scored against them, not against the story's later members, so a
    story does not drift from one development to the next. None: against the whole story."""
    lifespan: timedelta | None = None
    """A report that is not a follow-up joins only a story that started at most this long
    ago (one development is reported over days, not months). None: no limit."""
    fresh_span: timedelta = timedelta(0)
    fresh_threshold: float = 1.0
    """A report joins a story that started at most `fresh_span` ago at `fresh_threshold`
    (when below `join_threshold`): the first day's reports of one development are worded
    every which way, while a new development of the same actors rarely lands that day.
    A zero span: off."""
    members_kept: int = 12
    """Recent members per story that item-to-member similarity looks at."""
    query_tokens: int = 8
    """Most informative tokens of an item used to look up candidate stories."""
    posting_cap: int = 32
    """Most recently active stories remembered per token; bounds per-item cost."""
    shortlist: int = 8
    """Candidate stories verified per item."""


@dataclass(frozen=True)
class StoryInput:
    """One item as the story engine sees it; `published` is aware UTC."""

    id: str
    title: str
    link: str
    source: str
    published: datetime
    summary: str = ""
    tags: frozenset[str] = frozenset()
    """What the rules said the item is about; only `follow_tags` among them matter here."""
    decision: bool = False
    """Read (by the relevance model) as a report of a new decision rather than a reaction:
    with `distinct_actors`, it stays out of stories of other governments' decisions."""


@dataclass(frozen=True)
class Assignment:
    """Which story an item went to, whether it started it, and the story's size now.

    `merged` names stories that this item showed to be the same development and that were
    folded into `story_id` (their items now belong to it; their alerts may need a pointer).
    """

    story_id: str
    is_new: bool
    size: int
    sources: int
    merged: tuple[str, ...] = ()
