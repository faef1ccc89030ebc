"""What `status` says of the state itself: its size, its oldest row, retention's last run,
whether writes to it fail (a full disk: from the running bot's heartbeat file, since a
state that cannot be written cannot say so itself), and the Slack actions acknowledged but
not yet in it (the Socket Mode journal beside it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.config import Config
from bot.config.duration import format_duration
from bot.slack.journal import journal_path, on_disk
from bot.store import retention
from bot.store.base import Conn
from bot.store.sqlite import file_size


def facts(conn: Conn, names: set[str], config: Config, url: str | None) -> dict[str, Any]:
    """Size in bytes, the oldest row's time, `state.keep`, retention's last run (or None),
    and the Slack journal's files (`bot.slack.journal.on_disk`)."""
    if url is None:
        size = file_size(config.settings.state_path)
    else:
        size = int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])
    return {"size_bytes": size, "oldest_row": retention.oldest(conn),
            "keep_seconds": int(config.settings.keep.total_seconds()),
            "last_retention": retention.last_run(conn) if "retention" in names else None,
            "slack_journal": on_disk(journal_path(config.settings.state_path))}


def lines(data: dict[str, Any], now: datetime, ago: Any) -> list[str]:
    """`size: 12.3 MB, oldest row 89d ago, keep 90d; retention ran 14m ago (removed 311)`
    and a `WRITES FAILING` line while the running bot cannot write the state."""
    from datetime import timedelta

    from bot.runtime.heartbeat import fault_line

    st = data.get("state_facts")
    out = []
    if st is not None:
        last = st["last_retention"]
        ran = (f"retention ran {ago(last['ran'], now)} (removed {last['removed']})" if last
               else "retention has not run yet")
        keep = format_duration(timedelta(seconds=st["keep_seconds"]))
        out.append(f"size: {st['size_bytes'] / 1e6:.1f} MB, oldest row "
                   f"{ago(st['oldest_row'], now)}, keep {keep}; {ran}")
        out += _journal_lines(st.get("slack_journal") or {}, now, ago)
    fault = (data.get("sending") or {}).get("state_write_failed")
    if fault:
        out.append(f"state: WRITES FAILING: {fault_line(fault)}")
    return out


def _journal_lines(journal: dict[str, Any], now: datetime, ago: Any) -> list[str]:
    """`slack journal: 2 actions waiting (oldest 3m ago) · 1 set aside in …failed`, only
    when some wait or were set aside."""
    if journal.get("error"):
        return [f"slack journal: unreadable ({journal['error']})"]
    parts = []
    if journal.get("waiting"):
        n = journal["waiting"]
        parts.append(f"{n} action{'s' if n != 1 else ''} waiting to be applied "
                     f"(oldest {ago(journal['oldest'], now)})")
    if journal.get("set_aside"):
        parts.append(f"{journal['set_aside']} set aside in {journal['failed']}")
    return [f"slack journal: {' · '.join(parts)}"] if parts else []
