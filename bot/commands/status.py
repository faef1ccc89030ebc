"""`chipwatch status`: feeds, outbox and stories from the state file, opened read-only.

Safe to run beside a running bot: the state file is opened with `mode=ro`, so status never
writes, migrates or locks it for writing. Where even that fails (a read-only directory or
file, so SQLite cannot make its shared-memory file beside it) it reads the file as
`immutable`, a snapshot, and says so. `--json` prints the same facts for scripts.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot import digest
from bot.clock import SYSTEM_CLOCK, Clock
from bot.commands.common import EXIT_FAIL, EXIT_OK, add_command, load
from bot.config import Config

DEAD_SHOWN = 10


def register(sub: Any) -> None:
    p = add_command(sub, "status", "show feeds, outbox and stories from the state file")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(func=status)


def _open(path: str) -> tuple[sqlite3.Connection, bool]:
    """The state file, read-only; (connection, whether it is an immutable snapshot)."""
    uri = Path(path).resolve().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True)
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        # A WAL database needs a -shm file beside it even to read; in a directory we may not
        # write, `immutable` reads the file as it stands (no locks, no -shm).
        conn.close()
        conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True)
        snapshot = True
    else:
        snapshot = False
    conn.row_factory = sqlite3.Row
    return conn, snapshot


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _feeds(conn: sqlite3.Connection, config: Config, now: datetime,
           tables: set[str]) -> list[dict[str, Any]]:
    rows = {r["name"]: dict(r) for r in conn.execute("SELECT * FROM feeds")}
    notices: dict[str, list[str]] = {}
    if "feed_notices" in tables:
        for feed, kind in conn.execute("SELECT feed, kind FROM feed_notices ORDER BY kind"):
            notices.setdefault(feed, []).append(kind)
    out = []
    names = [f.name for f in config.feeds] + sorted(set(rows) - {f.name for f in config.feeds})
    for name in names:
        r = rows.get(name, {})
        due = r.get("next_due")
        out.append({
            "feed": name, "configured": name in {f.name for f in config.feeds},
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


def _outbox(conn: sqlite3.Connection) -> dict[str, Any]:
    counts = {r[0]: r[1] for r in conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state")}
    dead = [dict(r) for r in conn.execute(
        "SELECT key, channel, kind, attempts, error, created FROM outbox WHERE state = 'dead' "
        "ORDER BY id DESC LIMIT ?", (DEAD_SHOWN,))]
    oldest = conn.execute("SELECT MIN(created) FROM outbox WHERE state = 'pending'").fetchone()[0]
    return {"pending": counts.get("pending", 0), "inflight": counts.get("inflight", 0),
            "sent": counts.get("sent", 0), "dead": counts.get("dead", 0),
            "oldest_pending": oldest, "dead_rows": dead}


def _stories(conn: sqlite3.Connection, window: timedelta, tables: set[str]) -> dict[str, Any]:
    """Open stories as the story engine counts them: not merged away, and last seen within
    the dedup window of the newest story."""
    if "story_stories" not in tables:
        return {"open": 0, "total": 0}
    newest, total = conn.execute("SELECT MAX(last_seen), COUNT(*) FROM story_stories "
                                 "WHERE merged_into IS NULL").fetchone()
    if newest is None:
        return {"open": 0, "total": 0}
    cutoff = (datetime.fromisoformat(newest) - window).astimezone(UTC)
    cut = cutoff.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")  # the store's fixed-width format
    open_ = conn.execute("SELECT COUNT(*) FROM story_stories WHERE merged_into IS NULL "
                         "AND last_seen >= ?", (cut,)).fetchone()[0]
    return {"open": open_, "total": total}


def _digests(conn: sqlite3.Connection, config: Config, now: datetime,
             tables: set[str]) -> list[dict[str, Any]]:
    """Per digested channel: alerts waiting for its next digest, and when that goes."""
    schedule = digest.digest_schedule(config.routes)
    waiting: dict[str, tuple[int, str | None]] = {}
    if "digest_entries" in tables:
        waiting = {r[0]: (r[1], r[2]) for r in conn.execute(
            "SELECT channel, COUNT(*), MIN(created) FROM digest_entries "
            "WHERE digest_key IS NULL GROUP BY channel")}
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


def gather(config: Config, now: datetime) -> dict[str, Any]:
    """Everything `status` shows, as plain data; raises sqlite3.Error if unreadable."""
    conn, snapshot = _open(str(config.settings.state_path))
    try:
        tables = _tables(conn)
        if "feeds" not in tables:
            raise sqlite3.OperationalError("no chipwatch tables (has the bot run yet?)")
        return {"now": now.isoformat(timespec="seconds"), "state": str(config.settings.state_path),
                "snapshot": snapshot,
                "feeds": _feeds(conn, config, now, tables), "outbox": _outbox(conn),
                "digests": _digests(conn, config, now, tables),
                "stories": _stories(conn, config.raw.dedup.window, tables)}
    finally:
        conn.close()


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
        rows.append((f["feed"], ago(f["last_success"], now), _shown_status(f),
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
    for d in data["digests"]:
        lines.append(f"digest {d['channel']}: queued={d['queued']} next_send="
                     f"{ago(d['next_send'], now) if d['queued'] else '-'}"
                     + ("" if d["configured"] else " (no longer a digest route)"))
    st = data["stories"]
    lines.append(f"stories: open={st['open']} total={st['total']}")
    failing = [f["feed"] for f in data["feeds"] if f["backing_off"] or f["gone"]]
    lines.append(f"feeds: {len(data['feeds'])} total, {len(failing)} failing")
    lines += [f"  {f['feed']}: {f['last_error']}" for f in data["feeds"] if f["last_error"]]
    return "\n".join(lines)


def status(args: argparse.Namespace, clock: Clock = SYSTEM_CLOCK) -> int:
    config = load(args, lint=False)
    now = clock.now()
    state = config.settings.state_path
    if not state.exists():
        print(f"no state file at {state} (the bot has not run yet)")
        return EXIT_FAIL
    try:
        data = gather(config, now)
    except sqlite3.Error as exc:
        print(f"cannot read state file {state}: {exc}")
        return EXIT_FAIL
    print(json.dumps(data, indent=2) if args.json else render(data, now))
    return EXIT_OK
