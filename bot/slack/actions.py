"""Applying a button press on a parent alert, inside the transaction that logs it.

*Mute story*: no more replies or updates for the story in that channel. *Not relevant*: the
item, its rules and the user are recorded as a labelled false alert. *Mute rule 24h*
(admins): the rules behind the alert are silent everywhere for 24 hours. Each shows on the
parent (an update through the outbox) and is told to the ops channel (audit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config.compile import Config
from bot.marks import refresh_parent
from bot.slack.blocks import escape
from bot.slack.buttons import MUTE_RULE, MUTE_STORY, NOT_RELEVANT
from bot.slack.requests import ButtonPress
from bot.store import actions, outbox
from bot.store.base import Conn
from bot.store.outbox import OutboxRow

RULE_MUTE_SPAN = timedelta(hours=24)


@dataclass(frozen=True)
class Context:
    """What a handler may use: the time stamped once, the running config, whether the user
    is an admin (resolved before the transaction: it may ask Slack), the log row's id."""

    now: datetime
    config: Config
    admin: bool
    action_id: int


@dataclass(frozen=True)
class Result:
    """What became of a request: `outcome` (applied, unchanged, refused, answered, ignored),
    the ephemeral answer, and the audit line for the ops channel (None: not audited)."""

    outcome: str
    reply: str
    audit: str | None = None
    target: str | None = None


def _find(conn: Conn, p: ButtonPress) -> OutboxRow | None:
    row = actions.parent_by_message(conn, p.channel_id, p.message_ts)
    if row is None and p.value.startswith("alert|"):
        posted = outbox.posted_at(conn, p.value)
        if posted is not None:
            row = actions.parent_by_message(conn, *posted)
    return row


def press(conn: Conn, p: ButtonPress, ctx: Context) -> Result:
    """Apply one button press."""
    parent = _find(conn, p)
    if parent is None or parent.story_id is None or parent.item_id is None:
        return Result("ignored", "I cannot find this alert in my state any more.")
    story, channel, who = parent.story_id, parent.channel, f"<@{p.user}>"
    rules, title, link, source = actions.item_rules(conn, parent.item_id)
    headline = f"“{escape(title)[:200]}” in {escape(channel)}"
    escalate = ctx.config.settings.escalate
    if p.action_id == MUTE_STORY:
        if not actions.mute_story(conn, story, channel, p.user, ctx.action_id, ctx.now):
            return Result("unchanged", "This story is already muted here.", target=story)
        refresh_parent(conn, story, channel, f"action:{ctx.action_id}", ctx.now, escalate,
                       even_if_muted=True)
        return Result("applied", "Muted: no more replies or updates for this story here.",
                      f"{who} muted the story {headline}", story)
    if p.action_id == NOT_RELEVANT:
        mark = actions.Mark(parent.item_id, story, channel, p.user, rules, title, link, source,
                            ctx.now)
        if not actions.add_mark(conn, mark, ctx.action_id):
            return Result("unchanged", "You already marked this alert not relevant.",
                          target=parent.item_id)
        refresh_parent(conn, story, channel, f"action:{ctx.action_id}", ctx.now, escalate,
                       even_if_muted=True)
        return Result("applied", "Thanks: recorded as a false alert "
                      f"(rules: {', '.join(rules) or '-'}).",
                      f"{who} marked {headline} not relevant (rules: {', '.join(rules)})",
                      parent.item_id)
    assert p.action_id == MUTE_RULE
    target = ",".join(rules)
    if not ctx.admin:
        return Result("refused", "Only chipwatch admins (slack.admins) can mute rules.",
                      f"{who} tried to mute rules {target} (refused: not an admin)", target)
    until = ctx.now + RULE_MUTE_SPAN
    for rule in rules:
        actions.mute_rule(conn, rule, until, p.user, ctx.action_id, ctx.now)
    return Result("applied", f"Muted rules {target} until {until:%Y-%m-%d %H:%M} UTC.",
                  f"{who} muted rules {target} until {until:%Y-%m-%d %H:%M} UTC "
                  f"(from {headline})", target)
