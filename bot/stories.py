"""The story engine behind the pipeline's `Stories` protocol, configured from the config."""

from __future__ import annotations

from bot.dedup import DedupSettings, StoryEngine, StoryInput
from bot.models import Item, Match
from bot.pipeline import OwnStory, Stories
from bot.store import outbox
from bot.store.base import Store
from bot.store.stories import SqlStoryStore


class EngineStories:
    """Assigns items to stories with the rapidfuzz story engine, persisted in the state DB.
    Called inside the pipeline's transaction, so its writes commit with the items."""

    def __init__(self, engine: StoryEngine, db: Store) -> None:
        self.engine = engine
        self.db = db

    def assign(self, item: Item, match: Match) -> tuple[str, int] | None:
        got = self.engine.assign(StoryInput(item.id, item.title, item.link, item.source,
                                            item.published, item.summary, match.tags))
        if got is None:
            return None
        if got.merged:
            outbox.adopt_threads(self.db.conn, got.story_id, got.merged)
        return got.story_id, got.sources


def make_stories(settings: DedupSettings | None, db: Store) -> Stories:
    """Story dedup as configured; with dedup off (None) every item is its own story. The
    engine loads the live stories now, and later writes through the store's connection of
    the transaction in progress."""
    if settings is None:
        return OwnStory()
    with db.reading():
        engine = StoryEngine(settings, SqlStoryStore(lambda: db.conn))
    return EngineStories(engine, db)
