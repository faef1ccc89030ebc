"""State in one SQLite file: feeds, items seen, the outbox, story threads."""

from bot.store.db import Database

__all__ = ["Database"]
