"""`chipwatch replay --since 7d [--rules FILE]`: run the current (or a candidate) rules over
the items already stored and show what would have alerted, grouped by story, against what
actually alerted. Reads the state read-only: never posts, never writes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.clock import SYSTEM_CLOCK
from bot.commands.common import EXIT_FAIL, EXIT_OK, add_command, load
from bot.config import Config
from bot.config.compile import compile_config
from bot.config.duration import cli_duration, format_duration
from bot.config.load import Located, Overlay, read_config
from bot.errors import StoreError
from bot.models import Item, Severity
from bot.relevance.judge import Fate
from bot.route import route
from bot.rules.engine import match
from bot.store import actions, database_url, outbox
from bot.store import items as item_store
from bot.store.base import Conn
from bot.store.readonly import read_only, tables


def register(sub: Any) -> None:
    p = add_command(sub, "replay", "run rules over stored items and diff against what "
                                   "actually alerted (never posts)")
    p.add_argument("--since", type=cli_duration, default="7d", metavar="DURATION",
                   help="how far back: 90m, 24h, 7d… (default 7d)")
    p.add_argument("--rules", help="a candidate file: rules (and terms, routes) to try "
                                   "instead of the config's")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=replay)


def load_candidate(current: Config, path: Path) -> Config:
    """A candidate file over the running config: its `rules` replace the config's, its
    `terms` add to (or override) the config's lists, its `routes`, if given, replace the
    config's. A whole config file works as well.

    Routes kept from the running config may name tags or rules the candidate no longer has:
    that is what a replay is for (those alerts show as dropped), so it is a warning there,
    reported at the running config's line, not an error at the candidate's."""
    raw, located = read_config(path)
    given = {k for k in raw.model_fields_set if k in ("rules", "routes", "terms")}
    update: dict[str, Any] = {k: getattr(raw, k) for k in given}
    if "terms" in update:
        update["terms"] = {**current.raw.terms, **raw.terms}
    merged = current.raw.model_copy(update=update)
    base = current.located or Located(str(current.path), {})
    # Feeds stay the running config's, so they resolve against its folder.
    compiled = compile_config(merged, current.path, Overlay(located, base, given), lint=False,
                              strict_routes="routes" in given)
    return replace(compiled, path=path)


@dataclass
class Story:
    """One story's fate under the actual and the replayed rules."""

    id: str
    title: str = ""
    items: int = 0
    actual: set[str] = field(default_factory=set)  # channels (or "?" when unknown)
    actual_alerted: bool = False
    would: set[str] = field(default_factory=set)
    would_rules: set[str] = field(default_factory=set)
    severity: str = ""
    marked_rules: set[str] = field(default_factory=set)  # rules behind Not-relevant marks
    actual_severity: str = ""
    held: list[float] = field(default_factory=list)  # relevance scores of alerts held back

    @property
    def change(self) -> str:
        if self.would and not self.actual_alerted:
            return "new"
        if self.actual_alerted and not self.would:
            return "dropped"
        if not self.would:
            return "held" if self.held else "none"
        # Channels are compared only when known: a story alerted under a state file that
        # kept no outbox rows for it (pruned) has nothing to compare against.
        moved = bool(self.actual) and self.actual != self.would
        return "changed" if moved or self.severity != self.actual_severity else "unchanged"


def replay_items(config: Config, rules_config: Config, conn: Conn,
                 since: datetime) -> list[Story]:
    """Every story with stored items fetched since `since`, with both outcomes."""
    channels = outbox.alerted_channels(conn)
    max_age = {f.name: f.max_age for f in config.feeds}
    stories: dict[str, Story] = {}
    for row in item_store.stored_since(conn, since):
        sid = row["story_id"] or row["id"]
        story = stories.setdefault(sid, Story(sid, row["title"]))
        story.items += 1
        if row["status"] == "alert":
            story.actual_alerted = True
            story.actual |= channels.get(sid, set())
            if row["severity"] is not None:
                story.actual_severity = max(story.actual_severity,
                                            Severity(row["severity"]).label, key=_rank)
        fetched = datetime.fromisoformat(row["fetched"])
        published = datetime.fromisoformat(row["published"])
        text = f"{row['title']}\n{row['summary']}" if row["summary"] else row["title"]
        m = match(rules_config.rules, text, fetched)
        too_old = published < fetched - max_age.get(row["feed"], config.settings.default_max_age)
        if m is None or too_old or row["status"] == "churn":
            continue
        judge = rules_config.relevance
        if judge is not None:
            m, fate = judge.decide(_as_item(row, published, fetched), m)
            if fate is not Fate.ALERT:
                story.held.append(m.relevance if m.relevance is not None else 0.0)
                if fate is Fate.REVIEW and judge.review_channel:
                    story.would.add(judge.review_channel)
                continue
        routes = route(rules_config.routes, m)
        story.would |= {r.channel for r in routes}
        story.would_rules |= set(m.rule_ids)
        story.severity = max(story.severity, m.severity.label, key=_rank)
    _marks(conn, stories)
    return [s for s in stories.values() if s.change != "none"]


def _as_item(row: Any, published: datetime, fetched: datetime) -> Item:
    return Item(row["id"], row["feed"], row["title"], row["link"], row["summary"], published,
                fetched, row["source"])


def _marks(conn: Conn, stories: dict[str, Story]) -> None:
    """Attach the rules that Not-relevant marks from Slack came from to their stories."""
    if "feedback" not in tables(conn):
        return
    for item_story, rules in actions.marked_rules(conn):
        if item_story in stories:
            stories[item_story].marked_rules |= set(json.loads(rules))


def _rank(label: str) -> int:
    return ["", "info", "low", "medium", "high", "critical"].index(label)


KINDS = ("new", "dropped", "changed", "unchanged", "held")
MARKS = {"new": "+", "dropped": "-", "changed": "~", "unchanged": "=", "held": "·"}


def render(stories: list[Story], header: str) -> str:
    """The diff for a person: new, dropped, changed (severity or channels), unchanged."""
    groups = {k: [s for s in stories if s.change == k] for k in KINDS}
    n = {k: len(g) for k, g in groups.items()}
    would = n["new"] + n["changed"] + n["unchanged"]
    actual = n["dropped"] + n["changed"] + n["unchanged"]
    lines = [header, f"would alert: {would} stories · actually alerted: {actual} · new "
                     f"{n['new']} · dropped {n['dropped']} · changed {n['changed']} · "
                     f"unchanged {n['unchanged']}"]
    for kind, group in groups.items():
        if not group:
            continue
        lines.append(f"\n{kind.upper()} ({len(group)})")
        for s in group:
            where = sorted(s.would if kind != "dropped" else s.actual) or ["(no channel)"]
            sev = f"[{s.severity or s.actual_severity}] " if s.severity or s.actual_severity \
                else ""
            lines.append(f"  {MARKS[kind]} {sev}{s.title}")
            detail = f"      {', '.join(where)} · {s.items} item{'s' * (s.items != 1)}"
            if s.would_rules:
                detail += f" · rules: {', '.join(sorted(s.would_rules))}"
            if kind == "changed" and s.severity != s.actual_severity:
                detail += f" · severity was {s.actual_severity or '?'}"
            if kind == "changed" and s.actual and s.actual != s.would:
                detail += f" · channels were {', '.join(sorted(s.actual))}"
            if s.held:
                detail += (f" · relevance held back {len(s.held)} (best score "
                           f"{max(s.held):.2f})")
            if s.marked_rules:
                detail += f" · marked not relevant (rules: {', '.join(sorted(s.marked_rules))})"
            lines.append(detail)
    return "\n".join(lines)


def replay(args: argparse.Namespace) -> int:
    config = load(args, lint=False)
    rules_config = load_candidate(config, Path(args.rules)) if args.rules else config
    for w in rules_config.warnings if args.rules else ():
        print(w, file=sys.stderr)
    window: timedelta = args.since
    state = config.settings.state_path
    url = database_url(config.settings.state_url, os.environ)
    if url is None and not state.exists():
        print(f"no state file at {state}: nothing to replay (run the bot first)")
        return EXIT_FAIL
    since = SYSTEM_CLOCK.now() - window
    try:
        with read_only(url, state) as (conn, _, _):
            stories = replay_items(config, rules_config, conn, since)
    except StoreError as exc:
        print(exc)
        return EXIT_FAIL
    if args.json:
        print(json.dumps({"since": since.isoformat(), "rules": str(rules_config.path),
                          "stories": [{"id": s.id, "title": s.title, "change": s.change,
                                       "items": s.items, "severity": s.severity or None,
                                       "actual_severity": s.actual_severity or None,
                                       "would_channels": sorted(s.would),
                                       "actual_channels": sorted(s.actual),
                                       "rules": sorted(s.would_rules),
                                       "relevance_held": s.held,
                                       "marked_not_relevant_rules": sorted(s.marked_rules)}
                                      for s in stories]},
                         indent=2, ensure_ascii=False))
    else:
        print(render(stories, f"replay of items fetched since {since:%Y-%m-%d %H:%M} UTC "
                              f"({format_duration(window)}) with rules from {rules_config.path}"))
    return EXIT_OK
