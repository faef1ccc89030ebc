"""Per-feed state: validators for conditional GET, errors, backoff, health."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from bot.clock import iso
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


class Fetch(NamedTuple):
    """One poll's outcome, to be stored: `new_items` found, `error` if it failed."""

    result: FetchResult
    next_due: datetime
    new_items: int
    error: str | None


# One statement whether or not the feed has a row yet: the new row is what this poll alone
# says (errors 0 or 1, the times it set), and an existing row takes it in. `errors = 0` in
# the new row is what "the body was processed" reads as below.
_RECORD = """
    INSERT INTO feeds (name, url, etag, last_modified, last_status, last_error, last_attempt,
        last_success, last_new_item, errors, failing_since, next_due, items_total, gone)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT(name) DO UPDATE SET
        url = excluded.url,
        etag = CASE WHEN excluded.errors = 0 THEN excluded.etag ELSE feeds.etag END,
        last_modified = CASE WHEN excluded.errors = 0 THEN excluded.last_modified
                        ELSE feeds.last_modified END,
        last_status = excluded.last_status, last_error = excluded.last_error,
        last_attempt = excluded.last_attempt,
        last_success = COALESCE(excluded.last_success, feeds.last_success),
        last_new_item = COALESCE(excluded.last_new_item, feeds.last_new_item),
        errors = CASE WHEN excluded.errors = 0 THEN 0 ELSE feeds.errors + 1 END,
        failing_since = CASE WHEN excluded.errors = 0 THEN NULL
                        ELSE COALESCE(feeds.failing_since, excluded.failing_since) END,
        next_due = excluded.next_due, items_total = feeds.items_total + excluded.items_total,
        gone = excluded.gone
    """


def _row(f: Fetch) -> tuple[Any, ...]:
    result = f.result
    ok = result.outcome in (Outcome.OK, Outcome.NOT_MODIFIED) and f.error is None
    now = iso(result.fetched)
    return (result.feed.name, result.feed.url,
            result.validators.etag if ok else None,
            result.validators.last_modified if ok else None,
            str(result.status or result.outcome.value), f.error, now,
            now if ok else None, now if f.new_items > 0 else None, 0 if ok else 1,
            None if ok else now, iso(f.next_due), f.new_items,
            1 if result.outcome is Outcome.GONE else 0)


def record_fetches(conn: Conn, fetches: Sequence[Fetch]) -> None:
    """Store the outcome of each poll, in one statement. Validators move only when the body
    was processed."""
    if fetches:
        conn.executemany(_RECORD, [_row(f) for f in fetches])


def record_fetch(conn: Conn, result: FetchResult, next_due: datetime, new_items: int,
                 error: str | None) -> None:
    """Store the outcome of one poll."""
    record_fetches(conn, [Fetch(result, next_due, new_items, error)])
