"""Alerts a team let stand: parent alerts posted before a time whose item and story carry no
Not-relevant mark, in any channel (read-only; `feedback export --kept` writes them as weak
positives for `chipwatch learn`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from bot.store.base import Conn


@dataclass(frozen=True)
class Kept:
    """One alerted item the team kept: when it was first posted, where, and what it said."""

    item_id: str
    posted: datetime
    channels: tuple[str, ...]
    rules: tuple[str, ...]
    title: str
    link: str
    source: str


def kept_parents(conn: Conn, posted_before: datetime) -> list[Kept]:
    """Items posted as a parent alert (sent, first sent before `posted_before`) that no mark
    names, by item or by story, oldest first; one per item (its channels together).
    Review-channel posts (items scored below the relevance bar) are not alerts a team kept."""
    rows = conn.execute(
        """SELECT i.id, o.sent_at, o.channel, i.rules, i.title, i.link, i.source
           FROM outbox o JOIN items i ON i.id = o.item_id
           WHERE o.kind = 'alert' AND o.state = 'sent' AND i.status = 'alert'
             AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.item_id = i.id
                             OR (i.story_id IS NOT NULL AND f.story_id = i.story_id))
           ORDER BY o.sent_at, o.id""").fetchall()
    first: dict[str, Kept] = {}
    for item_id, sent_at, channel, rules, title, link, source in rows:
        seen = first.get(item_id)
        if seen is not None:
            if channel not in seen.channels:
                first[item_id] = Kept(item_id, seen.posted, (*seen.channels, channel),
                                      seen.rules, title, link, source)
            continue
        first[item_id] = Kept(item_id, datetime.fromisoformat(sent_at), (channel,),
                              tuple(json.loads(rules or "[]")), title, link, source)
    # Settled by its first post: a later post elsewhere does not restart the wait.
    return [k for k in first.values() if k.posted < posted_before]
