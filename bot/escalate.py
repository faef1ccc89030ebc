"""Escalation by velocity: a story that `escalate.sources` distinct outlets reported within
`escalate.within` is posted once, top-level, to `escalate.channel`, linking its parent alert.

Two halves. `check` runs in the pipeline's transaction where stories grow: it records the
escalation (once per story, ever: a primary key, so a restart or a replayed batch cannot
post it twice) and marks the story's parents. `Escalator.flush` runs beside the sender: once
the parent has been posted (its permalink exists) it queues the post through the outbox.
The optional mention comes from the config only, never from feed text.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from bot.clock import Clock
from bot.config.live import LiveConfig
from bot.config.settings import EscalateSettings
from bot.errors import DeliveryError
from bot.marks import escalation_line, refresh_parent
from bot.models import Severity
from bot.slack.blocks import Message, cut, escape, safe_link
from bot.store import actions, outbox
from bot.store.base import Conn, Store

log = logging.getLogger("chipwatch.escalate")


class Linker(Protocol):
    """Finds a posted message's permalink; raises DeliveryError when Slack cannot say now."""

    def permalink(self, channel_id: str, ts: str) -> str | None: ...


def check(conn: Conn, story_ids: Iterable[str], now: datetime,
          escalate: EscalateSettings | None) -> list[str]:
    """Record the stories that just reached the threshold; the ones that did."""
    if escalate is None:
        return []
    reached = []
    for story in dict.fromkeys(story_ids):
        n = actions.distinct_sources(conn, story, now - escalate.within)
        if n >= escalate.sources and actions.escalate(conn, story, n, now):
            reached.append(story)
            log.info("story_escalated story=%s sources=%d", story, n)
            for channel, *_ in actions.story_parents(conn, story):
                refresh_parent(conn, story, channel, "escalated", now, escalate)
    return reached


def message(escalate: EscalateSettings, sources: int, item: tuple[str, str, str, int] | None,
            link: str | None, where: str | None) -> Message:
    """The escalation post: who is pinged (config only), the headline made inert, the link."""
    title = cut(escape(item[0]) if item else "(story)", 300)
    severity = Severity(item[3]) if item else Severity.INFO
    if escalate.severity is not None and escalate.severity > severity:
        severity = escalate.severity
    head = f"{escalate.mention} " if escalate.mention else ""
    line = escalation_line(sources, escalate).split(" · ")[0]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": f"{head}:chart_with_upwards_trend: *{line}*"}},
        {"type": "section", "text": {"type": "plain_text", "text": title, "emoji": False}}]
    safe = safe_link(link) if link else None
    context = f"severity {severity.label.upper()}"
    if safe:
        context += f" · <{safe.replace('&', '&amp;')}|Open the alert>"
    elif where:
        context += f" · alert in {escape(where)}"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return Message(cut(f"{head}{line}: {title}", 3000), blocks)


class Escalator:
    """Queues recorded escalations once their parent alert can be linked."""

    def __init__(self, db: Store, live: LiveConfig, clock: Clock,
                 linker: Linker | None) -> None:
        self.db, self.live, self.clock, self.linker = db, live, clock, linker

    def flush(self) -> int:
        """Queue what can be queued now; how many were."""
        escalate = self.live.current.settings.escalate
        if escalate is None:
            return 0
        with self.db.reading() as conn:
            pending = actions.pending_escalations(conn)
        queued = 0
        for story, sources, _ in pending:
            with self.db.reading() as conn:
                parents = actions.story_parents(conn, story)
                item = actions.story_item(conn, story)
            if any(state in ("pending", "inflight") for _, state, *_ in parents):
                continue  # the parent is on its way: link it once posted
            sent = [(ch, cid, ts) for ch, state, cid, ts, _ in parents
                    if state == "sent" and cid and ts]
            link = None
            if sent and self.linker is not None:
                try:
                    link = self.linker.permalink(sent[0][1], sent[0][2])
                except DeliveryError as exc:
                    log.warning("escalation_link_failed story=%s error=%s action=wait",
                                story, exc)
                    continue
            msg = message(escalate, sources, item, link, sent[0][0] if sent else None)
            with self.db.tx() as conn:
                outbox.enqueue(conn, f"escalate|{story}", escalate.channel, outbox.Kind.NOTICE, msg,
                               self.clock.now(), story)
                actions.escalation_queued(conn, story, self.clock.now())
            queued += 1
        return queued
