"""The story engine behind the pipeline's `Stories` protocol, configured from the config."""

from __future__ import annotations

from dataclasses import replace

from bot.dedup import DedupSettings, StoryEngine, StoryInput
from bot.models import Item, Match
from bot.pipeline import OwnStory, Stories
from bot.relevance.judge import FOLLOW_TAG
from bot.store import outbox
from bot.store.base import Store
from bot.store.stories import SqlStoryStore

# The model's development probability from which a report counts as a decision: well past
# even (its development head weighs both classes equally), so reactions still thread.
DECISION = 0.7


class EngineStories:
    """Assigns items to stories with the rapidfuzz story engine, persisted in the state DB.
    Called inside the pipeline's transaction, so its writes commit with the items."""

    def __init__(self, engine: StoryEngine, db: Store) -> None:
        self.engine = engine
        self.db = db
        self.stale = False  # the engine's memory may differ from the store: reload first

    def reload_later(self) -> None:
        """The engine's memory may no longer match the store: a transaction holding its
        writes rolled back (the database went away mid-batch, or one feed failed), or
        another replica led meanwhile. It is rebuilt from the store at the next assignment,
        inside that transaction (the database may be down now). Without this, an item of a
        rolled-back batch fetched again would get its remembered story and no story row."""
        self.stale = True

    def assign(self, item: Item, match: Match) -> tuple[str, int] | None:
        if self.stale:
            self.engine.reload()
            self.stale = False
        decision = match.development is not None and match.development >= DECISION
        given = StoryInput(item.id, item.title, item.link, item.source, item.published,
                           item.summary, match.tags, decision)
        got = self.engine.assign(given)
        if got is None and match.model_follow:
            # Only the model called it a follow-up, and it follows nothing here: a report.
            got = self.engine.assign(replace(given, tags=match.tags - {FOLLOW_TAG}))
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
