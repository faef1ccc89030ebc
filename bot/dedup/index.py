"""The candidate index: informative stem -> the stories most recently active with it.

Each posting list is capped, so looking up an item touches at most
`query_tokens x posting_cap` entries whatever the number of stories held; a story that falls
off one common stem's list is still reachable through its rarer stems.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable


class CandidateIndex:
    """Inverted index from stem to story ids, newest activity last."""

    def __init__(self, posting_cap: int) -> None:
        self._cap = posting_cap
        self._postings: dict[str, dict[str, None]] = {}

    def touch(self, story_id: str, stems: Iterable[str]) -> None:
        """Record that `story_id` was just active with `stems`."""
        for stem in stems:
            posting = self._postings.setdefault(stem, {})
            posting.pop(story_id, None)
            posting[story_id] = None
            if len(posting) > self._cap:
                del posting[next(iter(posting))]

    def remove(self, story_id: str, stems: Iterable[str]) -> None:
        """Forget `story_id` under each of `stems`."""
        for stem in stems:
            posting = self._postings.get(stem)
            if posting is None:
                continue
            posting.pop(story_id, None)
            if not posting:
                del self._postings[stem]

    def candidates(self, query: dict[str, float], limit: int) -> list[str]:
        """Up to `limit` story ids sharing the most query weight, best first."""
        score: dict[str, float] = {}
        for stem, weight in query.items():
            for story_id in self._postings.get(stem, ()):
                score[story_id] = score.get(story_id, 0.0) + weight
        ranked = heapq.nlargest(limit, score.items(), key=lambda kv: kv[1])
        return [story_id for story_id, _ in ranked]

    def __len__(self) -> int:
        return len(self._postings)
