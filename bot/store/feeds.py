"""Per-feed state: validators for conditional GET, errors, backoff, health."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.feeds.fetch import FetchResult, Validators
from bot.feeds.response import Outcome
from bot.store.base import Conn


@dataclass(frozen=True)
class FeedState:
    """What we remember about a feed between polls."""

    validators: Validators = field(default_factory=Validators)
    errors: int = 0
    next_due: datetime | None = None
    gone: bool = False
    last_success: datetime | None = None
    failing_since: datetime | None = None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _state(row: Any) -> FeedState:
    return FeedState(Validators(row["etag"], row["last_modified"]), row["errors"],
                     _dt(row["next_due"]), bool(row["gone"]), _dt(row["last_success"]),
                     _dt(row["failing_since"]))


def load_state(conn: Conn, name: str) -> FeedState:
    """The stored state of a feed (a fresh state if never polled)."""
    row = conn.execute("SELECT * FROM feeds WHERE name = ?", (name,)).fetchone()
    return FeedState() if row is None else _state(row)


def load_states(conn: Conn) -> dict[str, FeedState]:
    """Every stored feed's state by name, in one query (a poll cycle starts with this)."""
    return {row["name"]: _state(row) for row in conn.execute("SELECT * FROM feeds")}


def all_rows(conn: Conn) -> list[Any]:
    """Every stored feed's row (every `feeds` column), for `status`."""
    return list(conn.execute("SELECT * FROM feeds ORDER BY name").fetchall())


def polled_and_failing(conn: Conn) -> tuple[int, int]:
    """How many feeds were ever polled, and how many of them are failing now."""
    row = conn.execute("SELECT COUNT(*), COALESCE(SUM(CASE WHEN errors > 0 THEN 1 ELSE 0 END),"
                       " 0) FROM feeds").fetchone()
    return int(row[0]), int(row[1])


def last_successes(conn: Conn) -> dict[str, datetime]:
    """When each feed was last fetched successfully (feeds never fetched are left out)."""
    return {name: datetime.fromisoformat(when) for name, when in conn.execute(
        "SELECT name, last_success FROM feeds WHERE last_success IS NOT NULL")}


def last_success(conn: Conn, name: str) -> datetime | None:
    """When one feed was last fetched successfully."""
    row = conn.execute("SELECT last_success FROM feeds WHERE name = ?", (name,)).fetchone()
    return _dt(row[0]) if row else None


def record_fetch(
    conn: Conn, result: FetchResult, next_due: datetime, new_items: int,
    error: str | None,
) -> None:
    """Store the outcome of one poll. Validators move only when the body was processed."""
    ok = result.outcome in (Outcome.OK, Outcome.NOT_MODIFIED) and error is None
    now = result.fetched.isoformat()
    conn.execute(
        """
        INSERT INTO feeds (name, url) VALUES (?, ?)
        ON CONFLICT(name) DO UPDATE SET url = excluded.url
        """,
        (result.feed.name, result.feed.url),
    )
    conn.execute(
        """
        UPDATE feeds SET
            etag = CASE WHEN :ok THEN :etag ELSE etag END,
            last_modified = CASE WHEN :ok THEN :lm ELSE last_modified END,
            last_status = :status, last_error = :error, last_attempt = :now,
            last_success = CASE WHEN :ok THEN :now ELSE last_success END,
            last_new_item = CASE WHEN :new > 0 THEN :now ELSE last_new_item END,
            errors = CASE WHEN :ok THEN 0 ELSE errors + 1 END,
            failing_since = CASE WHEN :ok THEN NULL ELSE COALESCE(failing_since, :now) END,
            next_due = :due, items_total = items_total + :new,
            gone = CASE WHEN :gone THEN 1 ELSE 0 END
        WHERE name = :name
        """,
        {"ok": ok, "etag": result.validators.etag, "lm": result.validators.last_modified,
         "status": str(result.status or result.outcome.value), "error": error, "now": now,
         "new": new_items, "due": next_due.isoformat(), "name": result.feed.name,
         "gone": result.outcome is Outcome.GONE},
    )
