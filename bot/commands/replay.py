"""`chipwatch replay --since 7d [--rules FILE]`: run the current (or a candidate) rules over
the items already stored and show what would have alerted, grouped by story, against what
actually alerted. Reads the state read-only: never posts, never writes.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.clock import SYSTEM_CLOCK
from bot.commands.common import EXIT_FAIL, EXIT_OK, add_command, load
from bot.config import Config, parse_duration
from bot.config.compile import compile_config
from bot.config.load import read_config
from bot.errors import StoreError
from bot.route import route
from bot.rules.engine import match
from bot.store import database_url, outbox
from bot.store import items as item_store
from bot.store.base import Conn
from bot.store.readonly import read_only


def register(sub: Any) -> None:
    p = add_command(sub, "replay", "run rules over stored items and diff against what "
                                   "actually alerted (never posts)")
    p.add_argument("--since", default="7d", help="how far back (default 7d)")
    p.add_argument("--rules", help="a candidate file: rules (and terms, routes) to try "
                                   "instead of the config's")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=replay)


def load_candidate(current: Config, path: Path) -> Config:
    """A candidate file over the running config: its `rules` replace the config's, its
    `terms` add to (or override) the config's lists, its `routes`, if given, replace the
    config's. A whole config file works as well."""
    raw, located = read_config(path)
    update: dict[str, Any] = {k: getattr(raw, k) for k in raw.model_fields_set
                              if k in ("rules", "routes", "terms")}
    if "terms" in update:
        update["terms"] = {**current.raw.terms, **raw.terms}
    merged = current.raw.model_copy(update=update)
    # Feeds stay the running config's, so they resolve against its folder.
    return replace(compile_config(merged, current.path, located), path=path)


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

    @property
    def change(self) -> str:
        if self.would and not self.actual_alerted:
            return "new"
        if self.actual_alerted and not self.would:
            return "dropped"
        return "unchanged" if self.would else "none"


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
        fetched = datetime.fromisoformat(row["fetched"])
        published = datetime.fromisoformat(row["published"])
        text = f"{row['title']}\n{row['summary']}" if row["summary"] else row["title"]
        m = match(rules_config.rules, text, fetched)
        too_old = published < fetched - max_age.get(row["feed"], config.raw.defaults.max_age)
        if m is None or too_old or row["status"] == "churn":
            continue
        routes = route(rules_config.routes, m)
        story.would |= {r.channel for r in routes}
        story.would_rules |= set(m.rule_ids)
        story.severity = max(story.severity, m.severity.label, key=_rank)
    return [s for s in stories.values() if s.change != "none"]


def _rank(label: str) -> int:
    return ["", "info", "low", "medium", "high", "critical"].index(label)


def render(stories: list[Story], header: str) -> str:
    """The diff for a person: new, dropped, then unchanged stories."""
    groups = {k: [s for s in stories if s.change == k] for k in ("new", "dropped", "unchanged")}
    would = len(groups["new"]) + len(groups["unchanged"])
    actual = len(groups["dropped"]) + len(groups["unchanged"])
    lines = [header, f"would alert: {would} stories · actually alerted: {actual} · new "
                     f"{len(groups['new'])} · dropped {len(groups['dropped'])} · unchanged "
                     f"{len(groups['unchanged'])}"]
    marks = {"new": "+", "dropped": "-", "unchanged": "="}
    for kind, group in groups.items():
        if not group:
            continue
        lines.append(f"\n{kind.upper()} ({len(group)})")
        for s in group:
            where = sorted(s.would if kind != "dropped" else s.actual) or ["(no channel)"]
            sev = f"[{s.severity}] " if s.severity else ""
            lines.append(f"  {marks[kind]} {sev}{s.title}")
            detail = f"      {', '.join(where)} · {s.items} item{'s' * (s.items != 1)}"
            if s.would_rules:
                detail += f" · rules: {', '.join(sorted(s.would_rules))}"
            if kind == "unchanged" and s.actual and s.actual != s.would:
                detail += f" · channels were {', '.join(sorted(s.actual))}"
            lines.append(detail)
    return "\n".join(lines)


def replay(args: argparse.Namespace) -> int:
    config = load(args, lint=False)
    rules_config = load_candidate(config, Path(args.rules)) if args.rules else config
    try:
        window: timedelta = parse_duration(args.since)
    except ValueError as exc:
        print(f"--since: {exc}")
        return EXIT_FAIL
    state = config.settings.state_path
    url = database_url(config.settings.state_url, os.environ)
    if url is None and not state.exists():
        print(f"no state file at {state}: nothing to replay (run the bot first)")
        return EXIT_FAIL
    since = SYSTEM_CLOCK.now() - window
    try:
        with read_only(url, state) as (conn, _):
            stories = replay_items(config, rules_config, conn, since)
    except StoreError as exc:
        print(exc)
        return EXIT_FAIL
    if args.json:
        print(json.dumps({"since": since.isoformat(), "rules": str(rules_config.path),
                          "stories": [{"id": s.id, "title": s.title, "change": s.change,
                                       "items": s.items, "severity": s.severity or None,
                                       "would_channels": sorted(s.would),
                                       "actual_channels": sorted(s.actual),
                                       "rules": sorted(s.would_rules)} for s in stories]},
                         indent=2, ensure_ascii=False))
    else:
        print(render(stories, f"replay of items fetched since {since:%Y-%m-%d %H:%M} UTC "
                              f"({args.since}) with rules from {rules_config.path}"))
    return EXIT_OK
