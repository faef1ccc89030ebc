"""Where stories live between restarts: the `StoryStore` protocol the engine writes through.

Its SQL implementation is `bot.store.stories.SqlStoryStore` (all SQL lives in `bot.store`);
the engine keeps every member of every story so that a new engine replays the same state.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

from bot.dedup.stories import Member, Story


class StoryStore(Protocol):
    """What the engine needs from persistence."""

    def load(self, window: timedelta) -> Sequence[tuple[str, list[Member]]]:
        """Live stories (latest item within `window` of the newest one), members by arrival."""
        ...

    def save_item(self, story: Story, member: Member) -> None:
        """Record that `member` joined (or started) `story`."""
        ...

    def save_merge(self, loser_id: str, winner: Story) -> None:
        """Record that story `loser_id` was folded into `winner`."""
        ...
