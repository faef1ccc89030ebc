"""A live story's profile and the similarity measures that decide who joins it.

A story keeps, per stem, how many of its members carry it and the stem's weight; that makes
its centroid (weight x share of members). It also keeps its most recent members' stems and
normalised titles for item-to-member comparison.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.dedup.actors import actors


@dataclass(frozen=True)
class Member:
    """What a story remembers of one item: its weighted stems and normalised title."""

    seq: int
    """Arrival number across the engine's life; orders members on reload and merge."""
    item_id: str
    features: dict[str, float]
    title_key: str
    url_key: str
    source: str
    published: datetime
    follow: bool = False
    """A follow-up: it joins a story without keeping it open to new reports."""
    total: float = field(init=False)
    """Sum of the feature weights, cached for weighted Jaccard."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", sum(self.features.values()))


@dataclass
class Profile:
    """Per stem, how many of a set of members carry it and its weight: the set's centroid is
    weight x share of members."""

    size: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    mass: dict[str, float] = field(default_factory=dict)
    """weight x count per stem: the centroid times the size, kept for fast dot products."""
    _sq: float = 0.0  # sum over stems of (weight * count)^2, so the norm is O(1)

    def add(self, features: dict[str, float]) -> None:
        """Count one member's stems."""
        self.size += 1
        for stem, weight in features.items():
            self._bump(stem, weight, 1)

    def absorb(self, other: Profile) -> None:
        """Count every member of `other` too."""
        self.size += other.size
        for stem, count in other.counts.items():
            self._bump(stem, other.weights[stem], count)

    def _bump(self, stem: str, weight: float, by: int) -> None:
        old_w, old_c = self.weights.get(stem, 0.0), self.counts.get(stem, 0)
        new_w, new_c = max(old_w, weight), old_c + by
        self._sq += (new_w * new_c) ** 2 - (old_w * old_c) ** 2
        self.weights[stem], self.counts[stem] = new_w, new_c
        self.mass[stem] = new_w * new_c

    @property
    def norm(self) -> float:
        """Euclidean norm of the centroid."""
        return math.sqrt(max(self._sq, 0.0)) / self.size if self.size else 0.0


@dataclass
class Story:
    """The running profile of one story, and the profile of its founding reports."""

    id: str
    first_seen: datetime
    last_seen: datetime
    members_kept: int
    founding: timedelta | None = None
    """Reports (not follow-ups) within this span of the story's first are its founders."""
    profile: Profile = field(default_factory=Profile)
    founders: Profile = field(default_factory=Profile)
    sources: set[str] = field(default_factory=set)
    recent: deque[Member] = field(init=False)
    founding_members: list[Member] = field(default_factory=list)
    """The founders themselves (up to `members_kept`), for item-to-member comparison."""
    keys: list[tuple[str, str, str]] = field(default_factory=list)
    """(item id, url key, title key) of every member, for exact lookups and expiry."""
    last_report: datetime | None = None
    """When the latest item that was not a follow-up arrived."""
    actors: frozenset[str] = frozenset()
    """The governments its first report names (see `bot.dedup.actors`); none: any."""

    def __post_init__(self) -> None:
        self.recent = deque(maxlen=self.members_kept)

    @property
    def size(self) -> int:
        return self.profile.size

    @property
    def counts(self) -> dict[str, int]:
        return self.profile.counts

    @property
    def mass(self) -> dict[str, float]:
        return self.profile.mass

    @property
    def norm(self) -> float:
        """Euclidean norm of the centroid."""
        return self.profile.norm

    def centroid(self, stem: str) -> float:
        """The centroid's coordinate for `stem`."""
        return self.profile.mass[stem] / self.profile.size

    def identity(self) -> tuple[Profile, list[Member]]:
        """What a new report is compared with: the founders when founding is on and the
        story has any (a story started by a follow-up has none), else the whole story."""
        if self.founding is not None and self.founders.size:
            return self.founders, self.founding_members
        return self.profile, list(self.recent)

    def add(self, member: Member) -> None:
        """Fold one item into the profile."""
        self.sources.add(member.source)
        if not member.follow and self.last_report is None:  # its first report
            self.actors = actors(member.title_key)
        self.last_seen = max(self.last_seen, member.published)
        self.first_seen = min(self.first_seen, member.published)
        if not member.follow:
            self.last_report = max(self.last_report or member.published, member.published)
            if (self.founding is not None
                    and member.published <= self.first_seen + self.founding
                    and len(self.founding_members) < self.members_kept):
                self.founders.add(member.features)
                self.founding_members.append(member)
        self.recent.append(member)
        self.keys.append((member.item_id, member.url_key, member.title_key))
        self.profile.add(member.features)

    def absorb(self, other: Story) -> None:
        """Take in every member and count of `other` (a merge); the founders of both are
        the founders of the one story they turned out to be."""
        self.profile.absorb(other.profile)
        self.founders.absorb(other.founders)
        self.founding_members = sorted([*self.founding_members, *other.founding_members],
                                       key=lambda m: m.seq)[: self.members_kept]
        self.sources |= other.sources
        self.first_seen = min(self.first_seen, other.first_seen)
        self.last_seen = max(self.last_seen, other.last_seen)
        if other.last_report is not None:
            self.last_report = max(self.last_report or other.last_report, other.last_report)
        self.keys.extend(other.keys)
        merged = sorted([*self.recent, *other.recent], key=lambda m: m.seq)
        self.recent = deque(merged[-self.members_kept :], maxlen=self.members_kept)


def norm(features: dict[str, float]) -> float:
    """Euclidean norm of a feature vector."""
    return math.sqrt(sum(v * v for v in features.values()))


def centroid_cosine(features: dict[str, float], features_norm: float,
                    profile: Profile | Story) -> float:
    """Cosine between an item's vector and a profile's (or a whole story's) centroid."""
    prof = profile.profile if isinstance(profile, Story) else profile
    denom = features_norm * prof.norm
    if denom == 0:
        return 0.0
    mass = prof.mass
    dot = 0.0
    for stem, weight in features.items():
        m = mass.get(stem)
        if m is not None:
            dot += weight * m
    return dot / (prof.size * denom)


def weighted_jaccard(a: dict[str, float], a_total: float, b: Member) -> float:
    """Shared weight over combined weight of an item's vector (summing to `a_total`) and a
    member's."""
    other = b.features
    inter = 0.0
    for stem, weight in a.items():
        w = other.get(stem)
        if w is not None:
            inter += weight if weight < w else w
    union = a_total + b.total - inter
    return inter / union if union > 0 else 0.0


def best_member(features: dict[str, float], story: Story | list[Member]) -> float:
    """The highest weighted Jaccard between an item and one of the story's recent members
    (or one of the members given)."""
    members = story.recent if isinstance(story, Story) else story
    total = sum(features.values())
    return max((weighted_jaccard(features, total, m) for m in members), default=0.0)


def story_cosine(a: Profile | Story, b: Profile | Story) -> float:
    """Cosine between two centroids (of profiles or whole stories)."""
    pa = a.profile if isinstance(a, Story) else a
    pb = b.profile if isinstance(b, Story) else b
    small, big = (pa, pb) if len(pa.counts) <= len(pb.counts) else (pb, pa)
    denom = pa.norm * pb.norm
    if denom == 0:
        return 0.0
    big_mass = big.mass
    dot = 0.0
    for stem, m in small.mass.items():
        other = big_mass.get(stem)
        if other is not None:
            dot += m * other
    return dot / (pa.size * pb.size * denom)
