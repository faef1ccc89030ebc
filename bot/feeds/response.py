"""Pure classification of a feed response, and the backoff that follows from it."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum


class Outcome(StrEnum):
    """What a fetch amounted to."""

    NOT_MODIFIED = "not_modified"
    OK = "ok"
    GONE = "gone"
    RATE_LIMITED = "rate_limited"
    ERROR = "error"


def classify(status: int) -> Outcome:
    """Map an HTTP status to an outcome (redirects are followed before this point)."""
    if status == 304:
        return Outcome.NOT_MODIFIED
    if 200 <= status < 300:
        return Outcome.OK
    if status == 410:
        return Outcome.GONE
    if status in (429, 503):
        return Outcome.RATE_LIMITED
    return Outcome.ERROR


def retry_after(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds asked for by `Retry-After` (delta or HTTP date), capped at a day; None if absent."""
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), 86400.0)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, min((when - now).total_seconds(), 86400.0))


def max_age_seconds(headers: Mapping[str, str]) -> float | None:
    """`Cache-Control: max-age=N` in seconds, if the server gave one."""
    for part in headers.get("cache-control", "").split(","):
        key, _, value = part.strip().partition("=")
        if key.lower() == "max-age" and value.strip().isdigit():
            return float(value.strip())
    return None


def next_delay(
    interval: timedelta,
    errors: int,
    cap: timedelta,
    floor: float | None = None,
    rng: random.Random | None = None,
) -> timedelta:
    """When to poll again: the interval, doubled per consecutive error up to `cap`, with
    ±10% jitter on backoff, never sooner than `floor` seconds (Retry-After / max-age)."""
    base = interval.total_seconds()
    if errors > 0:
        base = min(base * (2 ** min(errors, 20)), cap.total_seconds())
        base *= (rng or random).uniform(0.9, 1.1)
    if floor is not None:
        base = max(base, floor)
    return timedelta(seconds=base)
