"""Items seen: exact dedup by id, normalized link, or (feed, normalized title)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.dedup.normalize import normalize_title, normalize_url
from bot.models import Item, Match
from bot.store.base import Conn

# A feed re-issuing the same headline under a new guid within this span is the same item.
SAME_TITLE_SPAN = timedelta(days=7)
_CHUNK = 500


def _existing(conn: Conn, column: str, values: Sequence[str],
              extra: str = "", params: tuple[object, ...] = ()) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(values), _CHUNK):
        chunk = values[i : i + _CHUNK]
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT {column} FROM items WHERE {column} IN ({marks}){extra}"
        found.update(r[0] for r in conn.execute(sql, (*chunk, *params)))
    return found


def unseen(conn: Conn, items: Iterable[Item], now: datetime) -> list[Item]:
    """The items never seen before, in order, each once."""
    items = list(items)
    if not items:
        return []
    links = {it.id: normalize_url(it.link) if it.link else "" for it in items}
    titles = {it.id: (it.feed, normalize_title(it.title)) for it in items}
    ids = _existing(conn, "id", [it.id for it in items])
    # `link_norm != ''` lets SQLite use the partial index items_link instead of a full scan.
    seen_links = _existing(conn, "link_norm", [v for v in links.values() if v],
                           " AND link_norm != ''")
    since = (now - SAME_TITLE_SPAN).isoformat()
    seen_titles: set[tuple[str, str]] = set()
    for feed in {it.feed for it in items}:
        found = _existing(conn, "title_norm", [t for f, t in titles.values() if t and f == feed],
                          " AND feed = ? AND fetched >= ?", (feed, since))
        seen_titles.update((feed, t) for t in found)
    out = []
    for it in items:
        link, title = links[it.id], titles[it.id]
        if it.id in ids or (link and link in seen_links) or (title[1] and title in seen_titles):
            continue
        ids.add(it.id)
        if link:
            seen_links.add(link)
        if title[1]:
            seen_titles.add(title)
        out.append(it)
    return out


_INSERT = """
    INSERT INTO items (id, feed, link_norm, title_norm, title, link, summary,
        source, published, fetched, story_id, rules, tags, severity, status)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
    """

Seen = tuple[Item, Match | None, str, str | None]
"""An item as recorded: with what the rules said, its status and its story."""


def _row(item: Item, match: Match | None, status: str, story_id: str | None) -> tuple[Any, ...]:
    return (item.id, item.feed, normalize_url(item.link) if item.link else "",
            normalize_title(item.title), item.title, item.link, item.summary, item.source,
            item.published.isoformat(), item.fetched.isoformat(), story_id,
            json.dumps(match.rule_ids) if match else None,
            json.dumps(sorted(match.tags)) if match else None,
            int(match.severity) if match else None, status)


def insert(conn: Conn, item: Item, match: Match | None, status: str,
           story_id: str | None) -> None:
    """Record an item as seen, with what the rules said and what became of it."""
    conn.execute(_INSERT, _row(item, match, status, story_id))


def insert_many(conn: Conn, seen: Sequence[Seen]) -> None:
    """Record a poll's items as seen, in one statement."""
    if seen:
        conn.executemany(_INSERT, [_row(*s) for s in seen])


def has_items(conn: Conn, feed: str) -> bool:
    """Whether anything of `feed` was ever recorded."""
    return conn.execute("SELECT 1 FROM items WHERE feed = ? LIMIT 1", (feed,)).fetchone() \
        is not None


def stored_since(conn: Conn, since: datetime) -> list[Any]:
    """Items fetched since `since`, oldest first (rows: every `items` column)."""
    return list(conn.execute("SELECT * FROM items WHERE fetched >= ? ORDER BY fetched, id",
                             (since.isoformat(),)).fetchall())


def feed_times(conn: Conn, feed: str, most: int) -> list[datetime]:
    """The latest `most` distinct times items of `feed` appeared (the earlier of published
    and fetched), newest first."""
    rows = conn.execute(
        "SELECT DISTINCT CASE WHEN published < fetched THEN published ELSE fetched END AS t "
        "FROM items WHERE feed = ? ORDER BY t DESC LIMIT ?", (feed, most)).fetchall()
    return [datetime.fromisoformat(r[0]) for r in rows]


def prune(conn: Conn, before: datetime) -> int:
    """Forget items first seen before `before` (a backtest keeps its in-memory store to a
    window); returns how many."""
    return int(conn.execute("DELETE FROM items WHERE fetched < ?", (before.isoformat(),)).rowcount)
