"""The schema as an ordered list of migrations; `PRAGMA user_version` counts those applied.

Append only: never edit a migration that has shipped, add a new one.
"""

from __future__ import annotations

from collections.abc import Callable

Migration = str | Callable[[], str]


def _stories() -> str:
    # The story engine owns its tables' shape; imported late so the store has no import cycle.
    from bot.dedup.store import STORY_SCHEMA

    return STORY_SCHEMA


MIGRATIONS: list[Migration] = [
    # 1: feeds, items seen, the outbox of messages to Slack, parent messages per story
    """
    CREATE TABLE feeds (
        name TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        etag TEXT,
        last_modified TEXT,
        last_status TEXT,
        last_error TEXT,
        last_attempt TEXT,
        last_success TEXT,
        last_new_item TEXT,
        errors INTEGER NOT NULL DEFAULT 0,
        failing_since TEXT,
        next_due TEXT,
        items_total INTEGER NOT NULL DEFAULT 0,
        gone INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE items (
        id TEXT PRIMARY KEY,
        feed TEXT NOT NULL,
        link_norm TEXT,
        title_norm TEXT,
        title TEXT NOT NULL,
        link TEXT NOT NULL,
        summary TEXT NOT NULL,
        source TEXT NOT NULL,
        published TEXT NOT NULL,
        fetched TEXT NOT NULL,
        story_id TEXT,
        rules TEXT,
        tags TEXT,
        severity INTEGER,
        status TEXT NOT NULL
    );
    CREATE INDEX items_link ON items(link_norm) WHERE link_norm != '';
    CREATE INDEX items_title ON items(feed, title_norm);
    CREATE INDEX items_fetched ON items(fetched);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,
        channel TEXT NOT NULL,
        kind TEXT NOT NULL,
        story_id TEXT,
        item_id TEXT,
        payload TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt TEXT NOT NULL,
        created TEXT NOT NULL,
        sent_at TEXT,
        ts TEXT,
        channel_id TEXT,
        error TEXT
    );
    CREATE INDEX outbox_due ON outbox(state, next_attempt);
    CREATE TABLE threads (
        story_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        outbox_id INTEGER NOT NULL,
        PRIMARY KEY (story_id, channel)
    );
    """,
    # 2: the story engine's tables
    _stories,
    # 3: alerts waiting for a digest route's next message (digest_key set once queued)
    """
    CREATE TABLE digest_entries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        channel TEXT NOT NULL,
        story_id TEXT NOT NULL,
        item_id TEXT NOT NULL,
        title TEXT NOT NULL,
        link TEXT NOT NULL,
        source TEXT NOT NULL,
        severity INTEGER NOT NULL,
        tags TEXT NOT NULL,
        published TEXT NOT NULL,
        created TEXT NOT NULL,
        digest_key TEXT,
        UNIQUE (channel, item_id)
    );
    CREATE INDEX digest_pending ON digest_entries(channel, created) WHERE digest_key IS NULL;
    """,
    # 4: feed health notices open in the ops channel (one row per feed and kind)
    """
    CREATE TABLE feed_notices (
        feed TEXT NOT NULL,
        kind TEXT NOT NULL,
        since TEXT NOT NULL,
        noticed TEXT NOT NULL,
        PRIMARY KEY (feed, kind)
    );
    """,
    # 5: a row whose last send failed without a clear answer may be in Slack already: the
    # sender looks it up by its key before sending it again
    "ALTER TABLE outbox ADD COLUMN maybe_sent INTEGER NOT NULL DEFAULT 0;",
    # 6: Slack both ways: actions taken from Slack (one row per envelope, so a redelivery
    # is applied once), story and rule mutes, Not-relevant marks, escalations
    """
    CREATE TABLE slack_actions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        envelope_id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        user_id TEXT NOT NULL,
        channel_id TEXT,
        target TEXT,
        outcome TEXT NOT NULL,
        response TEXT NOT NULL DEFAULT '',
        received TEXT NOT NULL
    );
    CREATE TABLE story_mutes (
        story_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        user_id TEXT NOT NULL,
        action_id INTEGER NOT NULL,
        created TEXT NOT NULL,
        PRIMARY KEY (story_id, channel)
    );
    CREATE TABLE rule_mutes (
        rule_id TEXT PRIMARY KEY,
        until TEXT NOT NULL,
        user_id TEXT NOT NULL,
        action_id INTEGER NOT NULL,
        created TEXT NOT NULL
    );
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        item_id TEXT NOT NULL,
        story_id TEXT,
        channel TEXT NOT NULL,
        user_id TEXT NOT NULL,
        rules TEXT NOT NULL,
        title TEXT NOT NULL,
        link TEXT NOT NULL,
        source TEXT NOT NULL,
        action_id INTEGER NOT NULL,
        created TEXT NOT NULL,
        UNIQUE (item_id, channel, user_id)
    );
    CREATE TABLE escalations (
        story_id TEXT PRIMARY KEY,
        sources INTEGER NOT NULL,
        reached TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        queued TEXT
    );
    """,
]
