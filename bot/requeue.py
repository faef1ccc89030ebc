"""Dead letters sent again (`chipwatch outbox requeue --dead`): where they were going, to
where the current config routes them (`--reroute`), or to one channel (`--to`).

A dead letter is moved, not duplicated: the row goes to its new channel with a key naming
that channel, from scratch; a parent alert takes its story's thread along, so the replies
moved after it (rows are taken oldest first) thread under it there. A row is left dead, with
the reason counted, when its new channel already has that message (or that story's parent),
when a reply or update would have no parent there, or when nothing routes it any more:
nothing is lost and nothing is posted twice.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.config import Config
from bot.models import Match, RuleHit, Severity
from bot.route import RouteMode, route
from bot.slack.buttons import ACTIONS_BLOCK
from bot.store import deadletters
from bot.store.base import Conn
from bot.store.deadletters import Dead

Targets = Callable[[Dead], list[str]]
"""The channels a dead letter should go to now, in order (its own: send it again there)."""


@dataclass
class Outcome:
    """What a requeue did with the dead letters it looked at."""

    revived: Counter[str] = field(default_factory=Counter)  # channel → sent again there
    moved: Counter[tuple[str, str]] = field(default_factory=Counter)  # (from, to) → rows
    copied: Counter[tuple[str, str]] = field(default_factory=Counter)  # also queued in `to`
    left: Counter[str] = field(default_factory=Counter)  # why left dead → rows

    @property
    def requeued(self) -> int:
        """Dead letters that are pending again."""
        return sum(self.revived.values()) + sum(self.moved.values())

    def lines(self) -> list[str]:
        """One line per thing done, for the operator."""
        out = [f"  {n} sent again to {c}" for c, n in sorted(self.revived.items())]
        out += [f"  {n} moved {a} -> {b}" for (a, b), n in sorted(self.moved.items())]
        out += [f"  {n} also queued for {b} (from {a})" for (a, b), n in
                sorted(self.copied.items())]
        out += [f"  {n} left dead: {why}" for why, n in sorted(self.left.items())]
        return out


def to_channel(channel: str) -> Targets:
    """Every dead letter to one channel."""
    return lambda row: [channel]


def rerouted(config: Config) -> Targets:
    """Where the current config's immediate routes send each dead letter's item (by the
    rules, tags and severity recorded when it alerted). A row without an item (a digest, a
    notice) goes again where it was going if the config still names that channel."""
    named = {r.channel for r in config.routes}
    settings = config.settings
    named |= {c for c in (settings.ops_channel,
                          settings.escalate.channel if settings.escalate else None) if c}

    def targets(row: Dead) -> list[str]:
        if row.item_id is None or row.severity is None:
            return [row.channel] if row.channel in named else []
        match = Match(tuple(RuleHit(r, ()) for r in row.rules), row.tags,
                      Severity(row.severity))
        return [r.channel for r in route(config.routes, match) if r.mode == RouteMode.IMMEDIATE]

    return targets


def requeue_dead(conn: Conn, rows: list[Dead], targets: Targets, now: datetime) -> Outcome:
    """Send each dead letter again where `targets` says, in the caller's transaction."""
    out = Outcome()
    for row in rows:
        channels = targets(row)
        if row.channel in channels:
            deadletters.revive(conn, row.id, now)
            out.revived[row.channel] += 1
            continue
        placed, why = False, "no route takes it now" if row.item_id else \
            f"{row.channel} is not in the config any more (use --to CHANNEL)"
        for channel in channels:
            key = _rekey(row.key, row.channel, channel)
            refusal = _refusal(conn, row, channel, key, placed)
            if refusal:
                why = refusal
                continue
            payload = _rebutton(row.payload, row.key, key)
            if not placed:
                deadletters.move(conn, row, channel, key, payload, now)
                out.moved[(row.channel, channel)] += 1
                placed = True
            else:
                deadletters.copy(conn, row, channel, key, payload, now)
                out.copied[(row.channel, channel)] += 1
        if not placed:
            out.left[why] += 1
    return out


def _refusal(conn: Conn, row: Dead, channel: str, key: str, placed: bool) -> str | None:
    """Why the row may not go to `channel`, None when it may."""
    if key == row.key and placed:  # a key naming no channel: one row, one place
        return f"its key names no channel, so it goes to one only ({row.key})"
    if deadletters.key_taken(conn, key) or (
            row.kind == "alert" and row.story_id
            and deadletters.has_parent(conn, row.story_id, channel)):
        return f"already in {channel}"
    if row.kind in ("reply", "update") and row.story_id and \
            not deadletters.has_parent(conn, row.story_id, channel):
        return f"its story has no parent alert in {channel}"
    return None


def _rekey(key: str, old: str, new: str) -> str:
    """The outbox key of the same message in another channel (keys name their channel)."""
    return "|".join(new if part == old else part for part in key.split("|"))


def _rebutton(payload: str, old: str, new: str) -> str:
    """The payload with the alert's buttons carrying the new key (their fallback lookup)."""
    if old == new:
        return payload
    data = json.loads(payload)
    for block in data.get("blocks") or []:
        if block.get("type") == "actions" and block.get("block_id") == ACTIONS_BLOCK:
            for element in block.get("elements", []):
                if element.get("value") == old:
                    element["value"] = new
    return json.dumps(data)
