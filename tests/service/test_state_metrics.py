"""The state's gauges: `chipwatch_state_bytes` is the store's size (the SQLite file and its
log, or `pg_database_size`), asked at most once per heartbeat; `chipwatch_state_write_failing`
follows the store's write fault. On a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.metrics import Metrics
from bot.runtime.heartbeat import EVERY
from bot.state_metrics import watch_state
from bot.store import open_store


def _sample(metrics: Metrics, name: str) -> dict[str, float]:
    """{backend: value} of `name` in the rendered /metrics text."""
    text = metrics.render().decode()
    return {m[1]: float(m[2]) for m in
            re.finditer(rf'^{name}\{{backend="([a-z]+)"\}} (\S+)$', text, re.M)}


def test_state_bytes_is_read_once_per_heartbeat(tmp_path: Path,
                                                backend: str | None) -> None:
    db = open_store(backend, tmp_path / "chipwatch.db")
    clock, metrics = FakeClock(), Metrics()
    watch_state(metrics, db, clock)
    try:
        first = _sample(metrics, "chipwatch_state_bytes")
        assert first == {db.backend: float(db.size())} and first[db.backend] > 0
        with db.tx() as conn:  # a few MB more
            conn.execute("CREATE TABLE pad (x TEXT)")
            conn.executemany("INSERT INTO pad VALUES (?)", [("x" * 4000,) for _ in range(800)])
        assert db.size() > first[db.backend]
        clock.advance(EVERY - 1)  # scrapes before the next beat see the cached size
        assert _sample(metrics, "chipwatch_state_bytes") == first
        clock.advance(1)
        assert _sample(metrics, "chipwatch_state_bytes") == {db.backend: float(db.size())}
    finally:
        db.close()


def test_write_failing_follows_the_stores_fault(tmp_path: Path) -> None:
    db = open_store(None, tmp_path / "chipwatch.db")
    metrics = Metrics()
    watch_state(metrics, db, FakeClock())
    try:
        assert _sample(metrics, "chipwatch_state_write_failing") == {"sqlite": 0.0}
        generation = db.faults.generation
        db.faults.failed("database or disk is full")
        assert _sample(metrics, "chipwatch_state_write_failing") == {"sqlite": 1.0}
        db.faults.committed(generation + 1)  # a commit begun after the failure
        assert _sample(metrics, "chipwatch_state_write_failing") == {"sqlite": 0.0}
    finally:
        db.close()


def test_a_database_that_does_not_answer_drops_the_size_and_logs_once(
    pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = open_store(pg_url, tmp_path / "unused.db")
    clock, metrics = FakeClock(), Metrics()
    watch_state(metrics, db, clock)
    assert _sample(metrics, "chipwatch_state_bytes")["postgresql"] > 0
    db.close()  # its pool is gone: every query fails
    with caplog.at_level(logging.WARNING, logger="chipwatch.metrics"):
        for _ in range(3):
            clock.advance(EVERY)
            assert _sample(metrics, "chipwatch_state_bytes") == {}
    said = [r.message for r in caplog.records if "state_size_unavailable" in r.message]
    assert len(said) == 1, said  # once per spell, not at every refresh
