"""Digest routes: a `mode: digest` route collects its alerts and posts one message per period.

Alerts are stored as `digest_entries` in the same transaction that records their items. A
scheduler tick (`tick`) closes each period: the period's entries become one outbox message
(kind `digest`, keyed by channel and period end) and are stamped with that key in the same
transaction, so a digest is never lost and never posted twice.

Periods: `every: 1h` ends periods on the hour (multiples of `every` counted from midnight in
the route's `timezone`; `at` shifts that anchor); `at: "09:00"` alone is daily at 09:00 local
time, following daylight-saving changes; whole-day `every` (2d, 7d) keeps to local `at` too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.models import Item, Match, Severity
from bot.route import Route, RouteMode
from bot.slack.blocks import SEVERITY_EMOJI, Message, cut, escape, safe_link
from bot.store import actions, digests, outbox
from bot.store.base import Conn, Store

log = logging.getLogger("chipwatch.digest")
MAX_STORIES = 40  # per message: Block Kit allows 50 blocks
_REF = date(2000, 1, 3)  # a Monday: the anchor multi-day periods count from
_DAY = timedelta(days=1)


def _iso(when: datetime) -> str:
    # One fixed format, so that stored times compare correctly as strings.
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def add_entry(conn: Conn, channel: str, item: Item, match: Match,
              story_id: str | None, now: datetime) -> None:
    """Hold an alert for `channel`'s next digest (in the caller's transaction); nothing when
    every rule that fired is muted from Slack ("Mute rule 24h" holds in every channel, as
    for immediate routes)."""
    muted = actions.muted_rules(conn, now)
    if muted and all(rule in muted for rule in match.rule_ids):
        log.debug("alert_muted item=%s channel=%s reason=rule", item.id, channel)
        return
    digests.add(conn, channel, story_id or item.id, item.id, item.title, item.link,
                item.source or item.feed, int(match.severity),
                json.dumps(sorted(match.tags)), _iso(item.published), _iso(now))


def period_end(route: Route, now: datetime) -> datetime:
    """The end of the latest period that has closed at `now` (UTC)."""
    tz = ZoneInfo(route.timezone)
    hour, minute = (int(x) for x in (route.at or "00:00").split(":"))
    period = route.every or _DAY
    if period % _DAY == timedelta(0):
        days = period // _DAY
        day = now.astimezone(tz).date()
        for _ in range(days + 2):
            end = datetime.combine(day, time(hour, minute), tz)
            if end <= now and (day - _REF).days % days == 0:
                return end.astimezone(UTC)
            day -= _DAY
    # Sub-day periods count in absolute time from a local anchor: `1h` stays on the hour
    # across daylight-saving changes.
    anchor = datetime.combine(_REF, time(hour, minute), tz).astimezone(UTC)
    return anchor + ((now - anchor) // period) * period


def next_send(route: Route, now: datetime) -> datetime:
    """When the period open at `now` closes (its digest is queued at the next tick after)."""
    # The period after the latest closed one; stepping back from a little more than a period
    # ahead copes with 23- and 25-hour days.
    end = period_end(route, now + (route.every or _DAY) + timedelta(hours=2))
    while (earlier := period_end(route, end - timedelta(microseconds=1))) > now:
        end = earlier
    return end


def digest_schedule(routes: Sequence[Route]) -> dict[str, Route]:
    """Each digested channel's route (the first digest route naming it)."""
    schedule: dict[str, Route] = {}
    for r in routes:
        if r.mode == RouteMode.DIGEST:
            schedule.setdefault(r.channel, r)
    return schedule


def digest_message(channel: str, start: datetime, end: datetime, tz: str,
                   entries: Sequence[Any]) -> Message:
    """One message listing a period's alerts for a channel, grouped by story."""
    zone = ZoneInfo(tz)
    a, b = start.astimezone(zone), end.astimezone(zone)
    span = f"{a:%d %b %H:%M} to {b:%H:%M}" if a.date() == b.date() else (
        f"{a:%d %b %H:%M} to {b:%d %b %H:%M}")
    stories: dict[str, list[Any]] = {}
    for e in entries:
        stories.setdefault(e["story_id"], []).append(e)
    ordered = sorted(stories.values(), key=lambda rows: (-max(r["severity"] for r in rows),
                                                         rows[0]["id"]))
    count = f"{len(entries)} alert{'s' * (len(entries) != 1)} in {len(stories)} " \
            f"stor{'ies' if len(stories) != 1 else 'y'}"
    title = f"Digest for {channel} · {span} {b.tzname() or tz}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": cut(title, 150)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": count}]},
    ]
    for rows in ordered[:MAX_STORIES]:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _story_line(rows),
                                                   "verbatim": True}})
    if len(ordered) > MAX_STORIES:
        blocks.append({"type": "context", "elements": [{
            "type": "mrkdwn", "text": f"…and {len(ordered) - MAX_STORIES} more stories"}]})
    return Message(cut(f"{title}: {count}", 3000), blocks)


def _story_line(rows: Sequence[Any]) -> str:
    first = rows[0]
    severity = Severity(max(r["severity"] for r in rows)).label
    title = cut(escape(first["title"]) or "(untitled)", 300)
    link = safe_link(first["link"])
    head = f"<{link}|{title}>" if link else f"*{title}*"
    tags = " ".join(f"#{t}" for t in json.loads(first["tags"]))
    line = (f"{SEVERITY_EMOJI.get(severity, '')} *{severity.upper()}* {head}\n"
            f"{escape(first['source'])} · {tags}")
    if len(rows) > 1:
        others = ", ".join(dict.fromkeys(escape(r["source"]) for r in rows[1:]))
        line += f"\n+{len(rows) - 1} more report{'s' * (len(rows) > 2)}: {others}"
    return cut(line, 3000)


def flush(db: Store, routes: Sequence[Route], now: datetime) -> int:
    """Queue a digest for every channel whose period has closed; returns how many."""
    with db.reading() as conn:  # usually nothing waits: no write transaction for that
        if not digests.waiting_channels(conn):
            return 0
    schedule = digest_schedule(routes)
    rt: Route | None
    queued = 0
    with db.tx() as conn:
        for channel in digests.waiting_channels(conn):
            rt = schedule.get(channel)
            # A channel no longer digested (config reloaded) gets what it has, now.
            end = period_end(rt, now) if rt else now
            rows = digests.waiting(conn, channel, _iso(end))
            if not rows:
                continue
            start = min(end - (rt.every or _DAY) if rt else end,
                        datetime.fromisoformat(rows[0]["created"]))
            key = f"digest|{channel}|{_iso(end)}"
            message = digest_message(channel, start, end, rt.timezone if rt else "UTC", rows)
            outbox.enqueue(conn, key, channel, outbox.Kind.DIGEST, message, now)
            digests.stamp(conn, key, [row["id"] for row in rows])
            log.info("digest_queued channel=%s alerts=%d period_end=%s", channel, len(rows),
                     _iso(end))
            queued += 1
    return queued
