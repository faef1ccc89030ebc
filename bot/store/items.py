"""Items seen: exact dedup by id, normalized link, or (feed, normalized title)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.clock import iso
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


@dataclass
class Known:
    """Which exact-dedup keys the store holds among some items' (ids, normalized links,
    same-feed titles), kept current as items are taken: one lookup serves a whole batch of
    polls instead of three queries for each."""

    ids: set[str]
    links: set[str]
    titles: set[tuple[str, str]]

    def take(self, items: Iterable[Item]) -> list[Item]:
        """The items not known yet, in order, each once; from now on they are known."""
        out = []
        for it in items:
            link = normalize_url(it.link) if it.link else ""
            title = normalize_title(it.title)
            if it.id in self.ids or (link and link in self.links) or \
                    (title and (it.feed, title) in self.titles):
                continue
            self.ids.add(it.id)
            if link:
                self.links.add(link)
            if title:
                self.titles.add((it.feed, title))
            out.append(it)
        return out


def known(conn: Conn, items: Sequence[Item], now: datetime) -> Known:
    """The keys of `items` the store already holds (titles: seen in the same feed within
    SAME_TITLE_SPAN)."""
    links = {normalize_url(it.link) for it in items if it.link} - {""}
    pairs = {(it.feed, t) for it in items if (t := normalize_title(it.title))}
    ids = _existing(conn, "id", list({it.id: None for it in items}))
    # `link_norm != ''` lets SQLite use the partial index items_link instead of a full scan.
    seen_links = _existing(conn, "link_norm", list(links), " AND link_norm != ''")
    return Known(ids, seen_links, _seen_titles(conn, list(pairs), now - SAME_TITLE_SPAN))


def _seen_titles(conn: Conn, pairs: Sequence[tuple[str, str]],
                 since: datetime) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for i in range(0, len(pairs), _CHUNK):
        chunk = pairs[i : i + _CHUNK]
        keys = ",".join(["(?, ?)"] * len(chunk))
        # CROSS JOIN keeps SQLite's loop over the few keys, each one a seek in items_title.
        sql = (f"WITH k(feed, title) AS (VALUES {keys}) SELECT k.feed, k.title FROM k "
               "CROSS JOIN items WHERE items.feed = k.feed AND items.title_norm = k.title "
               "AND items.fetched >= ?")
        found.update((r[0], r[1]) for r in
                     conn.execute(sql, (*(v for pair in chunk for v in pair), since.isoformat())))
    return found


_INSERT = """
    INSERT INTO items (id, feed, link_norm, title_norm, title, link, summary,
        source, published, fetched, story_id, rules, tags, severity, status, relevance)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
    """

Seen = tuple[Item, Match | None, str, str | None]
"""An item as recorded: with what the rules said, its status and its story."""


def _row(item: Item, match: Match | None, status: str, story_id: str | None) -> tuple[Any, ...]:
    return (item.id, item.feed, normalize_url(item.link) if item.link else "",
            normalize_title(item.title), item.title, item.link, item.summary, item.source,
            item.published.isoformat(), iso(item.fetched), story_id,
            json.dumps(match.rule_ids) if match else None,
            json.dumps(sorted(match.tags)) if match else None,
            int(match.severity) if match else None, status,
            match.relevance if match else None)


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


def held_back(conn: Conn, since: datetime, most: int = 3) -> tuple[int, list[Any]]:
    """Alerts the relevance model held back (status `irrelevant` or `review`) fetched since
    `since`: how many, and the latest `most` (title, relevance, status, fetched)."""
    where = "FROM items WHERE status IN ('irrelevant', 'review') AND fetched >= ?"
    count = conn.execute(f"SELECT COUNT(*) {where}", (since.isoformat(),)).fetchone()[0]
    rows = conn.execute(f"SELECT title, relevance, status, fetched {where} "
                        "ORDER BY fetched DESC, id LIMIT ?", (since.isoformat(), most)).fetchall()
    return int(count), list(rows)


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
