"""The story engine behind the pipeline's `Stories` protocol, configured from the config."""

from __future__ import annotations

import sqlite3

from bot.dedup import DedupSettings, SqliteStoryStore, StoryEngine, StoryInput
from bot.models import Item, Match
from bot.pipeline import OwnStory, Stories
from bot.store import outbox


class EngineStories:
    """Assigns items to stories with the rapidfuzz story engine, persisted in the state DB.
    Called inside the pipeline's transaction, so its writes commit with the items."""

    def __init__(self, engine: StoryEngine, conn: sqlite3.Connection) -> None:
        self.engine = engine
        self.conn = conn

    def assign(self, item: Item, match: Match) -> tuple[str, int] | None:
        got = self.engine.assign(StoryInput(item.id, item.title, item.link, item.source,
                                            item.published, item.summary, match.tags))
        if got is None:
            return None
        if got.merged:
            outbox.adopt_threads(self.conn, got.story_id, got.merged)
        return got.story_id, got.sources


def make_stories(settings: DedupSettings | None, conn: sqlite3.Connection) -> Stories:
    """Story dedup as configured; with dedup off (None) every item is its own story."""
    if settings is None:
        return OwnStory()
    return EngineStories(StoryEngine(settings, SqliteStoryStore(conn)), conn)
