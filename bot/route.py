"""Routing: an alert's tags, rules and severity pick its channels; first match wins."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from bot.models import Match, Severity


class RouteMode(StrEnum):
    """How a route delivers: each alert at once, or collected into a periodic digest."""

    IMMEDIATE = "immediate"
    DIGEST = "digest"


@dataclass(frozen=True)
class Route:
    """One compiled route. No tags and no rules means every alert qualifies."""

    channel: str
    tags: frozenset[str] = frozenset()
    rules: frozenset[str] = frozenset()
    min_severity: Severity = Severity.INFO
    cont: bool = False
    mode: RouteMode = RouteMode.IMMEDIATE
    every: timedelta | None = None
    at: str | None = None
    timezone: str = "UTC"

    @property
    def catch_all(self) -> bool:
        return not self.tags and not self.rules and self.min_severity == Severity.INFO

    def accepts(self, match: Match) -> bool:
        """True when this route's conditions all hold for `match`."""
        if match.severity < self.min_severity:
            return False
        if self.tags and not (self.tags & match.tags):
            return False
        return not (self.rules and not (self.rules & set(match.rule_ids)))


def route(routes: Sequence[Route], match: Match) -> tuple[Route, ...]:
    """The routes an alert goes to, in order, each channel once."""
    out: list[Route] = []
    for r in routes:
        if r.accepts(match):
            if all(o.channel != r.channel for o in out):
                out.append(r)
            if not r.cont:
                break
    return tuple(out)
