"""Feed health notices: tell the ops channel once when a feed starts failing or goes silent,
and once when it recovers; nothing in between.

A feed is *failing* when its fetches have failed for longer than `failing_after`. It is
*silent* when it fetches fine but has brought nothing new for far longer than its usual
cadence: `silent_factor` times the median gap between its items (learned from their publication
times, or first-seen times when earlier), and at least `silent_min`. Open notices live in
`feed_notices`, written in the same transaction as the poll that opened or closed them, so a
restart neither repeats nor forgets one.
"""

from __future__ import annotations

import itertools
import logging
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config.schema import FeedHealthConfig
from bot.slack.blocks import Message, escape
from bot.store import items as item_store
from bot.store import notices as notice_store
from bot.store import outbox
from bot.store.base import Conn

log = logging.getLogger("chipwatch.health")
FAILING, SILENT = "failing", "silent"
HISTORY = 30  # items whose gaps define a feed's cadence


@dataclass(frozen=True)
class Notice:
    """A feed entering (or leaving, when `recovered`) a failing or silent spell."""

    feed: str
    kind: str
    since: datetime
    recovered: bool
    detail: str


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def cadence(conn: Conn, feed: str, min_history: int) -> timedelta | None:
    """The feed's usual gap between items (median of recent gaps); None with too little
    history to say."""
    times = item_store.feed_times(conn, feed, HISTORY + 1)
    gaps = [(a - b).total_seconds() for a, b in itertools.pairwise(times)]
    gaps = [g for g in gaps if g > 0]
    if len(gaps) < min_history:
        return None
    return timedelta(seconds=statistics.median(gaps))


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes}m"
    hours = minutes // 60
    return f"{hours}h" if hours < 48 else f"{hours // 24}d"


def evaluate(conn: Conn, feeds: Iterable[str], now: datetime,
             cfg: FeedHealthConfig) -> list[Notice]:
    """The notices these feeds' current state calls for, given the open ones."""
    names = list(dict.fromkeys(feeds))
    if not names:
        return []
    rows = notice_store.feed_health(conn, names)
    open_ = {key: _dt(since) for key, since in notice_store.open_notices(conn, names).items()}
    out: list[Notice] = []
    for name, failing_since, last_error, last_new, errors in rows:
        failing = _dt(failing_since)
        was = open_.get((name, FAILING))
        if failing and now - failing >= cfg.failing_after and was is None:
            out.append(Notice(name, FAILING, failing, False,
                              f"failing for {_duration(now - failing)}: {last_error}"))
        elif failing is None and was is not None:
            out.append(Notice(name, FAILING, was, True,
                              f"fetching again after {_duration(now - was)}"))
        newest = _dt(last_new)
        was = open_.get((name, SILENT))
        if newest is None or (errors and was is None):
            continue
        quiet = now - newest
        if was is not None:
            if newest > was:
                out.append(Notice(name, SILENT, was, True,
                                  f"new items again after {_duration(newest - was)}"))
            continue
        if quiet < cfg.silent_min:
            continue
        usual = cadence(conn, name, cfg.min_history)
        if usual is not None and quiet >= max(usual * cfg.silent_factor, cfg.silent_min):
            out.append(Notice(name, SILENT, newest, False,
                              f"nothing new for {_duration(quiet)} (usually every "
                              f"{_duration(usual)})"))
    return out


def notice_message(n: Notice) -> Message:
    """The Slack message for a notice; feed text is escaped like any feed text."""
    icon = ":white_check_mark:" if n.recovered else ":warning:"
    verb = "recovered" if n.recovered else ("is failing" if n.kind == FAILING else "is silent")
    text = f"{icon} Feed {escape(n.feed)} {verb}: {escape(n.detail)}"[:2900]
    return Message(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}])


def apply(conn: Conn, notices: list[Notice], now: datetime,
          channel: str | None) -> None:
    """Record the notices (open or closed) and queue their messages, in the caller's
    transaction; always log them, so operators without an ops channel still see them."""
    for n in notices:
        since = n.since.isoformat()
        if n.recovered:
            notice_store.close_notice(conn, n.feed, n.kind)
            log.warning("feed_recovered feed=%s kind=%s since=%s detail=%s", n.feed, n.kind,
                        since, n.detail)
        else:
            notice_store.open_notice(conn, n.feed, n.kind, since, now)
            log.warning("feed_%s feed=%s since=%s detail=%s", n.kind, n.feed, since, n.detail)
        if channel:
            state = "recovered" if n.recovered else "open"
            outbox.enqueue(conn, f"notice|{n.feed}|{n.kind}|{since}|{state}", channel,
                           outbox.Kind.NOTICE, notice_message(n), now)
