"""The story engine's tables and `SqlStoryStore`, its `StoryStore` on either backend.

The store keeps every member of every story (with the weighted stems computed when it
arrived) so that a new engine replays exactly the same state. It never commits: it writes
through the connection of the transaction in progress (the pipeline's), so a story moves
with the items that made it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.dedup.stories import Member, Story
from bot.store.base import Conn

STORY_SCHEMA = """
CREATE TABLE IF NOT EXISTS story_stories (
    id          TEXT PRIMARY KEY,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    size        INTEGER NOT NULL,
    sources     INTEGER NOT NULL,
    merged_into TEXT
);
CREATE INDEX IF NOT EXISTS story_stories_live ON story_stories (merged_into, last_seen);
CREATE TABLE IF NOT EXISTS story_items (
    seq        INTEGER PRIMARY KEY,
    item_id    TEXT NOT NULL,
    story_id   TEXT NOT NULL,
    url_key    TEXT NOT NULL,
    title_key  TEXT NOT NULL,
    source     TEXT NOT NULL,
    published  TEXT NOT NULL,
    features   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS story_items_story ON story_items (story_id);
"""
"""Tables for stories and their members (migration 2)."""

STORY_FOLLOW = "ALTER TABLE story_items ADD COLUMN follow INTEGER NOT NULL DEFAULT 0;"
"""Whether a member is a follow-up (migration 8): a restarted engine must know, since a
follow-up neither keeps a story open nor counts as one of its reports."""


def _ts(when: datetime) -> str:
    """Fixed-width UTC text, so SQL string comparison orders it like time."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


class SqlStoryStore:
    """`StoryStore` over the connection `conn()` returns: the store's connection of the
    transaction in progress (`lambda: store.conn`), or one fixed connection."""

    def __init__(self, conn: Callable[[], Conn]) -> None:
        self._conn = conn

    @classmethod
    def on(cls, conn: Conn) -> SqlStoryStore:
        """A store on one SQLite connection, creating the tables if missing (for tools and
        tests that keep stories outside a chipwatch state database)."""
        for statement in STORY_SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        if "follow" not in {r[1] for r in conn.execute("PRAGMA table_info(story_items)")}:
            conn.execute(STORY_FOLLOW)
        return cls(lambda: conn)

    def load(self, window: timedelta) -> list[tuple[str, list[Member]]]:
        conn = self._conn()
        row = conn.execute(
            "SELECT max(last_seen) FROM story_stories WHERE merged_into IS NULL"
        ).fetchone()
        if row is None or row[0] is None:
            return []
        cutoff = _ts(datetime.fromisoformat(row[0]) - window)
        by_story: dict[str, list[Member]] = {}
        cursor = conn.execute(
            "SELECT i.seq, i.item_id, i.story_id, i.url_key, i.title_key, i.source,"
            " i.published, i.features, i.follow FROM story_items i JOIN story_stories s"
            " ON s.id = i.story_id WHERE s.merged_into IS NULL AND s.last_seen >= ?"
            " ORDER BY i.seq",
            (cutoff,),
        )
        for (seq, item_id, story_id, url_key, title_key, source, published, feats,
             follow) in cursor:
            by_story.setdefault(story_id, []).append(
                Member(seq=seq, item_id=item_id, features=json.loads(feats),
                       title_key=title_key, url_key=url_key, source=source,
                       published=datetime.fromisoformat(published), follow=bool(follow))
            )
        return list(by_story.items())

    def save_item(self, story: Story, member: Member) -> None:
        self._upsert(story)
        self._conn().execute(
            "INSERT INTO story_items (seq, item_id, story_id, url_key, title_key, source,"
            " published, features, follow) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (seq) DO UPDATE"
            " SET item_id = excluded.item_id, story_id = excluded.story_id,"
            " url_key = excluded.url_key, title_key = excluded.title_key,"
            " source = excluded.source, published = excluded.published,"
            " features = excluded.features, follow = excluded.follow",
            (member.seq, member.item_id, story.id, member.url_key, member.title_key,
             member.source, _ts(member.published),
             json.dumps(member.features, separators=(",", ":")), int(member.follow)),
        )

    def save_merge(self, loser_id: str, winner: Story) -> None:
        self._upsert(winner)
        conn = self._conn()
        conn.execute("UPDATE story_items SET story_id = ? WHERE story_id = ?",
                     (winner.id, loser_id))
        conn.execute("UPDATE story_stories SET merged_into = ? WHERE id = ?",
                     (winner.id, loser_id))

    def _upsert(self, story: Story) -> None:
        self._conn().execute(
            "INSERT INTO story_stories (id, first_seen, last_seen, size, sources)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
            " first_seen = excluded.first_seen, last_seen = excluded.last_seen,"
            " size = excluded.size, sources = excluded.sources",
            (story.id, _ts(story.first_seen), _ts(story.last_seen), story.size,
             len(story.sources)),
        )


def counts(conn: Conn, window: timedelta) -> dict[str, int]:
    """Open stories as the engine counts them (not merged away, last seen within `window`
    of the newest story) and all stories not merged away."""
    newest, total = conn.execute("SELECT MAX(last_seen), COUNT(*) FROM story_stories "
                                 "WHERE merged_into IS NULL").fetchone()
    if newest is None:
        return {"open": 0, "total": 0}
    cutoff = _ts(datetime.fromisoformat(newest) - window)
    open_ = conn.execute("SELECT COUNT(*) FROM story_stories WHERE merged_into IS NULL "
                         "AND last_seen >= ?", (cutoff,)).fetchone()[0]
    return {"open": int(open_), "total": int(total)}
