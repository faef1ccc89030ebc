"""`chipwatch status`: feeds, outbox, stories (and, on PostgreSQL, who leads) from the
state, opened read-only.

Safe to run beside a running bot: the state file is opened with `mode=ro` (PostgreSQL: a
read-only session), so status never writes, migrates or locks it for writing. Where even
that fails (a read-only directory or file, so SQLite cannot make its shared-memory file
beside it) it reads the file as `immutable`, a snapshot, and says so. `--json` prints the
same facts for scripts.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import datetime, timedelta
from typing import Any

from bot import digest
from bot.clock import SYSTEM_CLOCK, Clock
from bot.commands import status_state
from bot.commands.common import EXIT_FAIL, EXIT_OK, add_command, load
from bot.config import Config
from bot.dedup.settings import DedupSettings
from bot.errors import StoreError
from bot.store import database_url, digests, outbox
from bot.store import feeds as feed_store
from bot.store import items as item_store
from bot.store import notices as notice_store
from bot.store import stories as story_store
from bot.store.base import Conn
from bot.store.readonly import columns, read_only, tables

DEAD_SHOWN = 10
REPLICAS_WITHIN = 300.0  # seconds: replicas heard from this recently are listed
HELD_BACK_SPAN = timedelta(days=7)  # what the relevance model held back, shown


def register(sub: Any) -> None:
    p = add_command(sub, "status", "show feeds, outbox, stories and replicas from the state")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(func=status)


def _feeds(conn: Conn, config: Config, now: datetime, names: set[str]) -> list[dict[str, Any]]:
    rows = {r["name"]: dict(r) for r in feed_store.all_rows(conn)}
    notices = notice_store.all_open(conn) if "feed_notices" in names else {}
    out = []
    configured = {f.name for f in config.feeds}
    for name in [f.name for f in config.feeds] + sorted(set(rows) - configured):
        r = rows.get(name, {})
        # A feed no longer in the config (removed, by hot reload or by hand) is never due.
        due = r.get("next_due") if name in configured else None
        out.append({
            "feed": name, "configured": name in configured,
            "last_success": r.get("last_success"), "last_attempt": r.get("last_attempt"),
            "last_status": r.get("last_status"), "last_error": r.get("last_error"),
            "ok": bool(r) and not r.get("last_error"),
            "items": r.get("items_total", 0), "errors": r.get("errors", 0),
            "next_due": due, "failing_since": r.get("failing_since"),
            "backing_off": bool(r.get("errors")), "gone": bool(r.get("gone")),
            "overdue": bool(due and datetime.fromisoformat(due) < now - timedelta(minutes=5)),
            "notices": notices.get(name, []),
        })
    return out


def _outbox(conn: Conn) -> dict[str, Any]:
    counts = outbox.counts(conn)
    return {"pending": counts.get("pending", 0), "inflight": counts.get("inflight", 0),
            "sent": counts.get("sent", 0), "dead": counts.get("dead", 0),
            "oldest_pending": outbox.oldest_pending(conn),
            "dead_rows": outbox.dead_rows(conn, DEAD_SHOWN)}


def _digests(conn: Conn, config: Config, now: datetime,
             names: set[str]) -> list[dict[str, Any]]:
    """Per digested channel: alerts waiting for its next digest, and when that goes."""
    schedule = digest.digest_schedule(config.routes)
    waiting = digests.waiting_counts(conn) if "digest_entries" in names else {}
    out = []
    for channel in [*schedule, *sorted(set(waiting) - set(schedule))]:
        count, oldest = waiting.get(channel, (0, None))
        route = schedule.get(channel)
        # A channel no longer digested gets what it holds at the next tick.
        send = digest.next_send(route, now) if route else now
        out.append({"channel": channel, "queued": count, "oldest": oldest,
                    "next_send": send.isoformat(timespec="seconds"),
                    "configured": route is not None})
    return out


def _replicas(conn: Conn, failover: float) -> dict[str, Any]:
    """Who leads and every replica heard from lately (PostgreSQL only). A replica's `role`
    is what it is now: `leader` only for the holder of the live lease; `gone` for one that
    still claims a role but holds no lease (a killed leader) or has not reported within the
    failover time (replicas report every second); `reported_role` is its last word."""
    from bot.store import lease

    lead = lease.leader(conn)
    live = lead.holder is not None and (lead.expires_in or 0) > 0
    holder = lead.holder if live else None
    return {"leader": holder, "term": lead.term,
            "lease_left_seconds": round(lead.expires_in, 1) if live and lead.expires_in else None,
            "replicas": [{"name": r.name, "role": _role_now(r, holder, failover),
                          "reported_role": r.role, "term": r.term,
                          "seen_seconds_ago": round(r.seen_ago, 1)}
                         for r in lease.replicas(conn, REPLICAS_WITHIN)]}


def _role_now(r: Any, holder: str | None, failover: float) -> str:
    if r.name == holder:
        return "leader"
    if r.role == "stopped":
        return "stopped"
    if r.role == "leader" or r.seen_ago > failover:
        return "gone"
    return str(r.role)


def gather(config: Config, now: datetime, url: str | None = None) -> dict[str, Any]:
    """Everything `status` shows, as plain data; raises StoreError if unreadable."""
    with read_only(url, config.settings.state_path) as (conn, where, snapshot):
        names = tables(conn)
        if "feeds" not in names:
            raise StoreError(f"no chipwatch tables in {where} (has the bot run yet?)")
        window = (config.settings.dedup or DedupSettings()).window  # dedup off: the default
        return {"now": now.isoformat(timespec="seconds"), "state": where,
                "snapshot": snapshot,
                "feeds": _feeds(conn, config, now, names), "outbox": _outbox(conn),
                "digests": _digests(conn, config, now, names),
                "stories": story_store.counts(conn, window) if "story_stories" in names
                else {"open": 0, "total": 0},
                "ha": _replicas(conn, config.settings.failover) if url is not None else None,
                "state_facts": status_state.facts(conn, names, config, url),
                "relevance": _held_back(conn, config, now)}


def _held_back(conn: Conn, config: Config, now: datetime) -> dict[str, Any] | None:
    """What the relevance model held back in the last week (None: no model)."""
    if config.relevance is None or "relevance" not in columns(conn, "items"):
        return None  # no model, or a state the bot has not migrated yet
    count, latest = item_store.held_back(conn, now - HELD_BACK_SPAN)
    return {"model": config.relevance.source, "held_back_7d": count,
            "latest": [{"title": r[0], "relevance": r[1], "status": r[2], "fetched": r[3]}
                       for r in latest]}


def _shown_status(f: dict[str, Any]) -> str:
    """The STATUS cell: the HTTP status, but `error` when the answer came (200, a file) and
    its body was no good (garbage, truncated), so a failing feed never reads `ok`/`200`."""
    status = f["last_status"] or "never"
    if f["last_error"] and (status in ("ok", "not_modified") or status.startswith("2")):
        return "error"
    return str(status)


def ago(value: str | None, now: datetime) -> str:
    """`3m ago`, `in 2h`, or `-` for never."""
    if not value:
        return "-"
    seconds = (datetime.fromisoformat(value) - now).total_seconds()
    span = abs(seconds)
    text = (f"{span:.0f}s" if span < 120 else f"{span / 60:.0f}m" if span < 7200
            else f"{span / 3600:.0f}h" if span < 172800 else f"{span / 86400:.0f}d")
    return f"in {text}" if seconds > 0 else f"{text} ago"


def render(data: dict[str, Any], now: datetime) -> str:
    """The human tables."""
    head = ("FEED", "LAST SUCCESS", "STATUS", "ITEMS", "ERRORS", "NEXT DUE", "BACKOFF", "NOTICE")
    rows = [head]
    for f in data["feeds"]:
        backoff = "gone" if f["gone"] else ("yes" if f["backing_off"] else "no")
        name = f["feed"] if f["configured"] else f"{f['feed']} (removed)"
        rows.append((name, ago(f["last_success"], now), _shown_status(f),
                     str(f["items"]), str(f["errors"]), ago(f["next_due"], now), backoff,
                     ",".join(f["notices"]) or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    how = "read only; the directory is not writable, so a snapshot without the newest writes" \
        if data["snapshot"] else "read only"
    lines = [f"state: {data['state']} ({how})", ""]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in rows]
    ob = data["outbox"]
    lines += ["", f"outbox: pending={ob['pending']} inflight={ob['inflight']} sent={ob['sent']} "
              f"dead={ob['dead']} oldest_pending={ago(ob['oldest_pending'], now)}"]
    lines += [f"  dead {d['channel']} {d['key']}: {d['error']}" for d in ob["dead_rows"]]
    if data.get("sending"):
        lines.append(_sending_line(data["sending"], ob["pending"] + ob["inflight"]))
    for d in data["digests"]:
        lines.append(f"digest {d['channel']}: queued={d['queued']} next_send="
                     f"{ago(d['next_send'], now) if d['queued'] else '-'}"
                     + ("" if d["configured"] else " (no longer a digest route)"))
    st = data["stories"]
    lines.append(f"stories: open={st['open']} total={st['total']}")
    rel = data.get("relevance")
    if rel is not None:
        lines.append(f"relevance: model {rel['model']}; held back {rel['held_back_7d']} alerts "
                     "in the last 7 days (scored below the bar)")
        lines += [f"  {r['relevance'] if r['relevance'] is not None else '?'} {r['status']} "
                  f"{ago(r['fetched'], now)}: {r['title']}" for r in rel["latest"]]
    lines += status_state.lines(data, now, ago)
    ha = data.get("ha")
    if ha is not None:
        lines.append(f"leader: {ha['leader'] or '(none)'} term={ha['term']}")
        lines += [f"  replica {r['name']}: {_replica_role(r)} "
                  f"(seen {r['seen_seconds_ago']:.0f}s ago)" for r in ha["replicas"]]
    feeds = [f for f in data["feeds"] if f["configured"]]
    removed = len(data["feeds"]) - len(feeds)
    failing = [f["feed"] for f in feeds if f["backing_off"] or f["gone"]]
    lines.append(f"feeds: {len(feeds)} total, {len(failing)} failing"
                 + (f", {removed} removed from the config (not polled)" if removed else ""))
    lines += [f"  {f['feed']}: {f['last_error']}" for f in feeds if f["last_error"]]
    return "\n".join(lines)


def _replica_role(r: dict[str, Any]) -> str:
    if r["role"] == "gone" and r["reported_role"] != "gone":
        return f"gone (last reported {r['reported_role']})"
    return str(r["role"])


def _sending_line(sending: dict[str, Any], waiting: int) -> str:
    """`sending: HALTED: Slack refused the bot token (invalid_auth): …`, or `sending: ok`,
    from the running bot's heartbeat file."""
    from bot.runtime.heartbeat import halted_line

    beat = f"heartbeat {sending['heartbeat_age_seconds']:.0f}s ago"
    if sending["halted"]:
        return (f"sending: HALTED: {halted_line(sending['halted'])}; {waiting} messages wait "
                f"({beat})")
    return f"sending: ok ({beat})"


def status(args: argparse.Namespace, clock: Clock = SYSTEM_CLOCK) -> int:
    from bot.runtime import heartbeat

    config = load(args, lint=False)
    now = clock.now()
    try:
        data = gather(config, now, database_url(config.settings.state_url, os.environ))
        # Whether the bot beside this state sends, or Slack refuses its token (not in the
        # state: the running bot's heartbeat file says it).
        data["sending"] = heartbeat.sending_state(config.settings.heartbeat_path, clock)
    except StoreError as exc:
        print(exc)
        return EXIT_FAIL
    print(json.dumps(data, indent=2) if args.json else render(data, now))
    return EXIT_OK
