"""One pass over every feed (`run --once`), or the scheduled loop until stopped (`run`).

The loop follows the leadership (`parts.leader`): while this replica leads it runs the
duties (scheduler, processor, sender); while another leads it waits hot, config loaded and
database connected, ready to take over. /metrics and /healthz answer in both roles.
"""

from __future__ import annotations

import logging
from typing import Any

from bot import digest
from bot.errors import StoreError
from bot.metrics import MetricsServer
from bot.pipeline import PollReport
from bot.runtime import heartbeat, retention
from bot.runtime.duties import Duties, count_drain
from bot.runtime.leader import LEADER, STANDBY
from bot.runtime.lock import hold_state
from bot.runtime.parts import Parts

log = logging.getLogger("chipwatch.runtime")
SEND_WAIT_ONCE = 5.0  # a one-shot run waits this long for per-channel slots and Retry-Afters


def run_once(parts: Parts) -> list[PollReport]:
    """Poll every feed once (concurrently), queue closed digests, deliver; the reports.
    Holds the state for the whole pass (raises StateInUse if another bot holds it); with
    replicas, it takes the lead for its duration (or fails if another replica has it)."""
    with hold_state(parts.db):
        return _run_once(parts)


def _run_once(parts: Parts) -> list[PollReport]:
    parts.leader.tick()
    if not parts.leader.may_act():
        raise StoreError(f"replica {parts.leader.leader_name} leads: a one-shot run would "
                         "compete with it")
    parts.leader.start()  # keeps the lead while the run lasts
    try:
        parts.sender.recover()
        config = parts.live.current
        reports = parts.poller.poll_all(config.feeds, force=True)
        digest.flush(parts.db, config.routes, parts.clock.now())
        # Longer backoffs (Slack down) are left in the outbox for the next run.
        count_drain(parts, parts.sender.drain(parts.stop, max_wait=SEND_WAIT_ONCE))
        if parts.escalator.flush():  # parents just posted can now be linked
            count_drain(parts, parts.sender.drain(parts.stop, max_wait=SEND_WAIT_ONCE))
        if not parts.db.in_memory:  # cron runs forget too; a dry run's copy is dropped
            retention.run_logged(parts.db, config.settings, parts.clock, parts.stop)
    finally:
        parts.leader.release()
    return reports


class Follower:
    """Runs the duties while this replica leads; the /healthz view of it."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self.duties: Duties | None = None
        self.closed: Duties | None = None  # the last lead's, until its threads have ended
        self.changes = 0
        self._beat = 0.0
        self._database: str | None = None  # the last database error the heartbeat file got

    def step(self) -> None:
        """Start or stop the duties to match the role (the lease thread keeps it)."""
        leader, parts = self.parts.leader, self.parts
        leading = leader.may_act()
        if self.closed is not None and self.closed.finished():
            self.closed = None
        if leading and self.duties is None and self.closed is not None:
            # A thread of the lost lead still waits on the database: once it ends (within
            # the pool's wait), this lead starts; until then nothing is done twice at once.
            if not self.closed.deferred:
                self.closed.deferred = True
                log.info("leader_start_deferred replica=%s reason=previous_duties_running",
                         leader.name)
        elif leading and self.duties is None:
            self.changes += 1
            log.info("role replica=%s role=leader term=%s", leader.name, leader.term)
            self.duties = Duties(parts)
            try:
                self.duties.start()
            except StoreError as exc:  # fenced or unreachable while settling: follow again
                log.warning("leader_start_failed error=%s", exc)
                self.duties.close(lost=True)
                self.closed, self.duties = self.duties, None
        elif not leading and self.duties is not None:
            self.changes += 1
            log.warning("role replica=%s role=standby leader=%s", leader.name,
                        leader.leader_name)
            self.duties.close(lost=True)
            self.closed, self.duties = self.duties, None
        if self.duties is None and parts.clock.monotonic() - self._beat >= heartbeat.EVERY:
            parts.heartbeat.beat()  # a standby is alive too: its loop beats for it
            self._beat = parts.clock.monotonic()
        down = leader.database_error
        if (down is None) != (self._database is None):  # the file says so at once
            self._database = down
            parts.heartbeat.refresh()

    def close(self) -> None:
        if self.duties is not None:
            self.duties.close()
            self.duties = None
        self.parts.leader.release()

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy when the scheduler (or, on a standby, the loop) beat recently, the
        processor thread runs, Slack takes our token (a refused token stops all sending),
        the database answers (replicas) and the state takes writes (a full disk); says this
        replica's role and who leads."""
        parts = self.parts
        age, limit = parts.heartbeat.age(), parts.live.current.settings.stall_after
        duties = self.duties
        processing = duties is None or duties.alive()
        halted = parts.sender.halted
        fault = parts.db.faults.current
        down = parts.leader.database_error
        healthy = age <= limit and processing and halted is None and fault is None
        return healthy and down is None, {
            "heartbeat_age_seconds": round(age, 1), "stall_after_seconds": limit,
            "processor_alive": processing, "sending_halted": halted,
            "state_write_failed": fault.as_dict() if fault else None,
            "database": "unavailable" if down else "ok", "database_error": down,
            "replica": parts.leader.name,
            "role": LEADER if duties is not None else STANDBY,
            "leader": parts.leader.leader_name, "term": parts.leader.term}


def run_forever(parts: Parts, listen: str | None) -> None:
    """Until `parts.stop` is set: lead (poll, record, send) or stand by; /metrics and
    /healthz on `listen` if given. Holds the state until stopped (raises StateInUse if
    another bot holds a SQLite file; replicas on PostgreSQL share theirs through the lease)."""
    with hold_state(parts.db):
        _run_forever(parts, listen)


def _run_forever(parts: Parts, listen: str | None) -> None:
    follower = Follower(parts)
    watch_role(parts, follower)
    server = serve_metrics(parts, listen, follower)
    config = parts.live.current
    log.info("started feeds=%d rules=%d routes=%d replica=%s", len(config.feeds),
             len(config.rules), len(config.routes), parts.leader.name)
    parts.leader.tick()  # the first answer before the first step: lead at once if free
    parts.leader.start()
    try:
        while True:
            follower.step()
            if parts.stop.wait(parts.leader.interval):
                break
    finally:
        follower.close()
        if server is not None:
            server.close()
        parts.heartbeat.clear()
        log.info("stopped")


def watch_role(parts: Parts, follower: Follower) -> None:
    """Export the role: 1 for this replica's role, and the term it leads in."""
    leader = parts.leader

    def role() -> dict[str, float]:
        mine = LEADER if follower.duties is not None else STANDBY
        return {LEADER: float(mine == LEADER), STANDBY: float(mine == STANDBY)}

    parts.metrics.watch("chipwatch_replica_role", "This replica's role (1 for the current "
                        "one).", "role", role)
    parts.metrics.watch("chipwatch_leader_term", "The lease term this replica leads in "
                        "(absent on a standby).", "replica",
                        lambda: {} if leader.term is None else {leader.name: float(leader.term)})
    parts.metrics.watch("chipwatch_role_changes", "Times this replica took or lost the lead.",
                        "replica", lambda: {leader.name: float(follower.changes)})


def serve_metrics(parts: Parts, listen: str | None,
                  follower: Follower | None = None) -> MetricsServer | None:
    """Start /metrics and /healthz on `listen` (host:port), if given."""
    if not listen:
        return None
    view = follower or Follower(parts)
    return MetricsServer(listen, parts.metrics, view.health).start()
