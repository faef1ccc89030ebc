"""Pure response classification and backoff."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.feeds.response import Outcome, classify, max_age_seconds, next_delay, retry_after

NOW = datetime(2026, 1, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("status", "outcome"), [
    (200, Outcome.OK), (203, Outcome.OK), (304, Outcome.NOT_MODIFIED), (410, Outcome.GONE),
    (429, Outcome.RATE_LIMITED), (503, Outcome.RATE_LIMITED), (404, Outcome.ERROR),
    (500, Outcome.ERROR), (403, Outcome.ERROR),
])
def test_classify(status: int, outcome: Outcome) -> None:
    assert classify(status) is outcome


def test_retry_after_forms() -> None:
    assert retry_after({"retry-after": "120"}, NOW) == 120
    assert retry_after({"retry-after": "Wed, 28 Jan 2026 12:05:00 GMT"}, NOW) == 300
    assert retry_after({"retry-after": "soon"}, NOW) is None
    assert retry_after({}, NOW) is None
    assert retry_after({"retry-after": "99999999"}, NOW) == 86400


def test_max_age() -> None:
    assert max_age_seconds({"cache-control": "public, max-age=600"}) == 600
    assert max_age_seconds({"cache-control": "no-cache"}) is None


def test_backoff_doubles_to_the_cap_and_respects_the_floor() -> None:
    rng = random.Random(1)
    interval, cap = timedelta(minutes=5), timedelta(hours=6)
    assert next_delay(interval, 0, cap) == interval
    delays = [next_delay(interval, n, cap, rng=rng).total_seconds() for n in range(1, 12)]
    assert 540 <= delays[0] <= 660 and delays[-1] <= cap.total_seconds() * 1.1
    assert all(b >= a * 0.8 for a, b in itertools.pairwise(delays))
    assert next_delay(interval, 0, cap, floor=3600) == timedelta(hours=1)
