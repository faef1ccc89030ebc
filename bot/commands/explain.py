"""`chipwatch explain "HEADLINE"`: which rules fire and on which terms, which fail and why,
the tags, the severity and the channels the alert would go to. `--json` for scripts.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.clock import SYSTEM_CLOCK
from bot.commands.common import EXIT_OK, add_command, load
from bot.config import Config, format_duration
from bot.config.schema import RuleConfig
from bot.errors import StoreError
from bot.models import Item, Match
from bot.relevance.judge import explanation
from bot.route import Route, route
from bot.rules.engine import RuleEvaluation, evaluate, match
from bot.rules.terms import compile_term
from bot.text import fold, visible

log = logging.getLogger("chipwatch")
NEAR_MISSES = 12  # shown without --all, in config order


def register(sub: Any) -> None:
    p = add_command(sub, "explain", "show which rules a headline fires, why others do not, "
                                    "and where the alert would go")
    p.add_argument("headline", help="the headline (title) to test")
    p.add_argument("--summary", default="", help="the item's summary text, if any")
    p.add_argument("--source", default="", help="the source name shown in the alert")
    p.add_argument("--now", type=_when, default=None,
                   help="evaluate mutes at this ISO time (default: now)")
    p.add_argument("--all", action="store_true", help="list every rule that did not fire")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=explain)


def _when(text: str) -> datetime:
    """An argparse `type=` for --now: an ISO date or time, UTC unless it says otherwise."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO date or time like 2026-01-28T12:00Z, got {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _show(entry: str | list[str], limit: int = 6) -> str:
    """A config entry as the operator wrote it (`$list` names kept), shortened."""
    if isinstance(entry, str):
        return entry if len(entry) <= 40 else entry[:39] + "…"
    more = f", … +{len(entry) - limit}" if len(entry) > limit else ""
    return "[" + ", ".join(_show(e) for e in entry[:limit]) + more + "]"


def hits(terms: Sequence[str], text: str) -> list[dict[str, Any]]:
    """What each hit term matched in `text`, one entry per distinct word (in the order the
    terms hit): `{"text": "Chipotle", "terms": ["chip*"]}`. Several terms that hit the same
    word (`chip*` and `chips`, or one term in two places of a rule) make one entry."""
    shown = visible(text)
    folded = shown.casefold()
    # Offsets in the folded text are offsets in `shown` unless folding changed a length (ß).
    same = len(folded) == len(shown)
    out: dict[str, dict[str, Any]] = {}
    for raw in dict.fromkeys(terms):
        found = compile_term(raw).pattern.search(folded)
        word = (shown if same else folded)[found.start():found.end()] if found else raw
        entry = out.setdefault(word.casefold(), {"text": word, "terms": []})
        entry["terms"].append(raw)
    return list(out.values())


def hit_words(entries: Sequence[dict[str, Any]]) -> str:
    """`Nvidia, approves (approv*)`: the words, with the pattern where it differs."""
    parts = []
    for e in entries:
        patterns = [t for t in e["terms"] if fold(t) != fold(e["text"])]
        parts.append(e["text"] + (f" ({', '.join(patterns)})" if patterns else ""))
    return ", ".join(parts)


def _rule_json(ev: RuleEvaluation, raw: RuleConfig | None, text: str,
               slack_mute: tuple[datetime, str] | None) -> dict[str, Any]:
    rule = ev.rule
    missed = [g for g, hit in enumerate(ev.all_hits) if hit is None]
    missed_any = bool(rule.any_terms) and not ev.any_hits
    reasons = []
    if ev.muted:
        reasons.append(f"muted until {rule.mute_until:%Y-%m-%d %H:%M %Z}")
    for g in missed:
        entry = raw.all[g] if raw else [t.raw for t in rule.all_groups[g]]
        reasons.append(f"no term of all-group {g + 1} {_show(entry)}")
    if missed_any:
        anys = raw.any if raw else [t.raw for t in rule.any_terms]
        reasons.append(f"no `any` term {_show(anys)}")
    none_hits = hits(ev.none_hits, text)
    reasons.extend(f"`none` term {t!r} matched" + (f" ({e['text']!r})" if e["text"] != t
                                                    else "")
                   for e in none_hits for t in e["terms"])
    terms = list(dict.fromkeys(ev.matched_terms))
    return {
        "id": rule.id, "fired": ev.fired, "severity": rule.severity.label,
        "tags": sorted(rule.tags), "terms": terms, "hits": hits(terms, text),
        "missed_all_groups": [g + 1 for g in missed], "missed_any": missed_any,
        "none_hits": list(dict.fromkeys(ev.none_hits)), "muted": ev.muted,
        "mute_until": rule.mute_until.isoformat() if rule.mute_until else None,
        "slack_mute": {"by": slack_mute[1], "until": slack_mute[0].isoformat()}
        if slack_mute else None,
        # The `none` list is one condition however many of its terms hit.
        "failed_conditions": len(missed) + missed_any + bool(ev.none_hits) + ev.muted,
        "reasons": reasons,
    }


def _schedule(r: Route) -> str | None:
    """A digest route's schedule as configured (`every 1h`, `at 09:00 Europe/Berlin`)."""
    if r.mode != "digest":
        return None
    parts = [f"every {format_duration(r.every)}" if r.every else "",
             f"at {r.at} {r.timezone}" if r.at else ""]
    return " ".join(x for x in parts if x)


def _slack_muted(mute: tuple[datetime, str]) -> str:
    until, who = mute
    return f"muted from Slack by {who} until {until.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def report(config: Config, headline: str, summary: str = "", source: str = "",
           now: datetime | None = None,
           slack_mutes: Mapping[str, tuple[datetime, str]] | None = None) -> dict[str, Any]:
    """The whole explanation as plain data (the `--json` shape). `slack_mutes` (rule id →
    (until, who), as `bot.store.actions.muted_rules` gives): the alert is dropped, as the bot
    drops it, when every rule that fired is muted from Slack."""
    now = now or SYSTEM_CLOCK.now()
    mutes = slack_mutes or {}
    text = f"{headline}\n{summary}" if summary else headline
    evaluations = evaluate(config.rules, text, now)
    raw = {r.id: r for r in config.raw.rules}
    m = match(config.rules, text, now)
    muted = m is not None and all(rule in mutes for rule in m.rule_ids)
    opinion = _opinion(config, headline, summary, source, now, m)
    routes = route(config.routes, m) if m and not muted else ()
    if opinion and opinion.get("fate") in ("drop", "review"):
        review = config.relevance.review_channel if config.relevance else None
        routes = (Route(review),) if opinion["fate"] == "review" and review else ()
    return {
        "headline": headline, "summary": summary, "source": source, "now": now.isoformat(),
        "alert": bool(routes), "matched": m is not None, "muted_from_slack": muted,
        "severity": m.severity.label if m else None,
        "tags": sorted(m.tags) if m else [],
        "relevance": opinion,
        "channels": [{"channel": r.channel, "mode": r.mode, "schedule": _schedule(r),
                      "route": config.routes.index(r) + 1} for r in routes],
        "rules": [_rule_json(ev, raw.get(ev.rule.id), text,
                             mutes.get(ev.rule.id) if ev.fired else None)
                  for ev in evaluations],
    }


def _opinion(config: Config, headline: str, summary: str, source: str, now: datetime,
             m: Match | None) -> dict[str, Any] | None:
    """The relevance model's opinion of a matched headline (None: no model or no match)."""
    if m is None or config.relevance is None:
        return None
    item = Item("explain", "explain", headline, "", summary, now, now, source)
    return explanation(config.relevance, item, m)


def _relevance_line(rel: dict[str, Any]) -> str:
    if not rel["judged"]:
        return f"relevance: not judged ({rel['why']})"
    movers = ", ".join(f"{m['word']} {m['change']:+.2f}" for m in rel["movers"]) or "-"
    return (f"relevance: {rel['score']:.2f} (bar {rel['bar']:.2f}, {rel['bar_for']}-borne"
            f" alert) → {rel['kind']}, {rel['fate']}; words that moved it: {movers}")


def _near_miss(rule: dict[str, Any]) -> bool:
    """Failed on exactly one condition: the rules an operator most likely wants to see."""
    return (not rule["fired"] and rule["failed_conditions"] == 1
            and bool(rule["terms"] or rule["none_hits"] or rule["muted"]))


def render(data: dict[str, Any], show_all: bool = False) -> str:
    """The explanation for a person."""
    lines = [f"headline: {data['headline']}"]
    if data["summary"]:
        lines.append(f"summary:  {data['summary']}")
    if data["source"]:
        lines.append(f"source:   {data['source']}")
    tags = " ".join(f"#{t}" for t in data["tags"]) or "-"
    if data["alert"]:
        verdict = f"ALERT  severity {data['severity']}  tags {tags}"
    elif data.get("muted_from_slack"):
        verdict = (f"no alert: every rule that fired is muted from Slack  severity "
                   f"{data['severity']}  tags {tags}")
    elif (data.get("relevance") or {}).get("fate") == "drop":
        verdict = (f"no alert: the relevance model scored it below its bar  severity "
                   f"{data['severity']}  tags {tags}")
    elif data["matched"]:
        verdict = f"matched but routed nowhere  severity {data['severity']}  tags {tags}"
    else:
        verdict = "no alert"
    lines.append(f"verdict:  {verdict}")
    if data.get("relevance"):
        lines.append(_relevance_line(data["relevance"]))
    if data["channels"]:
        lines.append("channels: " + ", ".join(
            f"{c['channel']} ({c['mode']}{' ' + c['schedule'] if c['schedule'] else ''}, "
            f"route {c['route']})" for c in data["channels"]))
    fired = [r for r in data["rules"] if r["fired"]]
    lines.append(f"\nmatched rules ({len(fired)}):" if fired else "\nmatched rules: none")
    for r in fired:
        mute = r.get("slack_mute")
        lines.append(f"  + {r['id']} [{r['severity']}] on {hit_words(r['hits'])}" + (
            f" ({_slack_muted((datetime.fromisoformat(mute['until']), mute['by']))})"
            if mute else ""))
    missed = [r for r in data["rules"] if not r["fired"]]
    shown = missed if show_all else [r for r in missed if _near_miss(r)][:NEAR_MISSES]
    if shown:
        lines.append(f"\n{'rules that did not fire' if show_all else 'near misses'} "
                     f"({len(shown)}{'' if show_all else ', failed on one condition'}):")
    else:
        lines.append("\nnear misses: none")
    for r in shown:
        hit = f" (hit: {hit_words(r['hits'])})" if r["hits"] else ""
        lines.append(f"  - {r['id']} [{r['severity']}]{hit}: {'; '.join(r['reasons'])}")
    if not show_all and len(shown) < len(missed):
        lines.append(f"  ({len(missed) - len(shown)} more rules did not fire; --all lists them)")
    return "\n".join(lines)


def slack_mutes(config: Config, now: datetime) -> dict[str, tuple[datetime, str]]:
    """Rules muted from Slack at `now`, from the state (read-only, beside a running bot);
    none before the bot's first run. An unreadable state is said in one line."""
    from bot.store import database_url
    from bot.store.actions import muted_rules
    from bot.store.readonly import read_only, tables

    settings = config.settings
    if settings.state_url is None and not settings.state_path.exists():
        return {}
    try:
        with read_only(database_url(settings.state_url, os.environ), settings.state_path) as (
                conn, _, _):
            return muted_rules(conn, now) if "rule_mutes" in tables(conn) else {}
    except StoreError as exc:
        log.warning("explain_without_slack_mutes error=%s", exc)
        return {}


def explain(args: argparse.Namespace) -> int:
    config = load(args, lint=False)
    now = args.now or SYSTEM_CLOCK.now()
    data = report(config, args.headline, args.summary, args.source, now,
                  slack_mutes(config, now))
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print(render(data, args.all))
    return EXIT_OK
