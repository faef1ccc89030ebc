"""The items a bot has stored, read in the archive format `backtest` and `cluster` take."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bot.store.base import Conn


def items(conn: Conn, since: str | None = None) -> Iterator[dict[str, Any]]:
    """Every stored item (published at or after the ISO time `since`), oldest first, as an
    archive line: id, title, summary, link, published, feed, source."""
    where, params = ("WHERE published >= ?", (since,)) if since else ("", ())
    for r in conn.execute(
            f"""SELECT id, feed, title, link, summary, source, published FROM items {where}
                ORDER BY published, id""", params):
        yield {"id": r["id"], "title": r["title"] or "", "summary": r["summary"] or "",
               "link": r["link"] or "", "published": r["published"], "feed": r["feed"],
               "source": r["source"] or ""}
