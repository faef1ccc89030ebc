"""`/chipwatch` from Slack: explain, status, mute, unmute, mutes, feedback. Answers are
ephemeral (only the caller sees them); mute and unmute are admin actions, audited."""

from __future__ import annotations

from bot.commands.explain import render, report
from bot.config.duration import parse_duration
from bot.slack.actions import Context, Result
from bot.slack.blocks import escape
from bot.slack.requests import Command
from bot.store import actions, outbox
from bot.store import feeds as feed_store
from bot.store.base import Conn
from bot.text import visible

MUTE_MAX_DAYS = 30
USAGE = ("Usage: `/chipwatch explain HEADLINE` · `status` · `mute RULE DURATION` (admins) · "
         "`unmute RULE` (admins) · `mutes` · `feedback`")


def _code(text: str, limit: int = 2900) -> str:
    """Text as a code block, made inert (`& < >` escaped) and cut to fit one message."""
    text = escape_lines(text)
    return "```\n" + (text if len(text) <= limit else text[: limit - 1] + "…") + "\n```"


def escape_lines(text: str) -> str:
    """`& < >` escaped and invisible characters dropped, spacing and lines kept."""
    text = visible(text).replace("&", "&amp;")
    return text.replace("<", "&lt;").replace(">", "&gt;").replace("```", "` ` `")


def command(conn: Conn, c: Command, ctx: Context) -> Result:
    """Answer (and for mute/unmute, apply) one slash command."""
    handler = {"explain": _explain, "status": _status, "mute": _mute, "unmute": _unmute,
               "mutes": _mutes, "feedback": _feedback}.get(c.verb)
    if handler is None:
        return Result("answered", USAGE)
    if c.needs_admin and not ctx.admin:
        return Result("refused", "Only chipwatch admins (slack.admins) can do that.",
                      f"<@{c.user}> tried `/chipwatch {escape(c.text)[:200]}` "
                      "(refused: not an admin)", " ".join(c.args)[:200])
    return handler(conn, c, ctx)


def _explain(conn: Conn, c: Command, ctx: Context) -> Result:
    headline = " ".join(c.args)
    if not headline:
        return Result("answered", "Usage: `/chipwatch explain HEADLINE`")
    mutes = actions.muted_rules(conn, ctx.now)  # as the bot applies them: same answer
    return Result("answered", _code(render(report(ctx.config, headline, now=ctx.now,
                                                  slack_mutes=mutes))))


def _status(conn: Conn, c: Command, ctx: Context) -> Result:
    counts = outbox.counts(conn)
    feeds, failing = feed_store.polled_and_failing(conn)
    rules = actions.muted_rules(conn, ctx.now)
    lines = [f"feeds: {len(ctx.config.feeds)} configured, {feeds} polled, {failing} failing",
             "outbox: " + ", ".join(f"{counts.get(s, 0)} {s}"
                                    for s in ("pending", "inflight", "sent", "dead")),
             f"rules: {len(ctx.config.rules)}, {len(rules)} muted from Slack",
             f"feedback: {len(actions.marks(conn, 1000))} not-relevant marks"]
    return Result("answered", _code("\n".join(lines)))


def _mute(conn: Conn, c: Command, ctx: Context) -> Result:
    if len(c.args) != 2:
        return Result("answered", "Usage: `/chipwatch mute RULE DURATION` (e.g. `24h`, `7d`)")
    rule, span = c.args
    if rule not in {r.id for r in ctx.config.rules}:
        return Result("answered", f"No rule `{escape(rule)[:100]}` in the config.")
    try:
        delta = parse_duration(span)
    except ValueError as exc:
        return Result("answered", escape(str(exc)))
    if not 0 < delta.total_seconds() <= MUTE_MAX_DAYS * 86400:
        return Result("answered", f"A mute lasts more than 0 and at most {MUTE_MAX_DAYS}d.")
    until = ctx.now + delta
    actions.mute_rule(conn, rule, until, c.user, ctx.action_id, ctx.now)
    return Result("applied", f"Muted `{rule}` until {until:%Y-%m-%d %H:%M} UTC.",
                  f"<@{c.user}> muted rule `{rule}` until {until:%Y-%m-%d %H:%M} UTC", rule)


def _unmute(conn: Conn, c: Command, ctx: Context) -> Result:
    if len(c.args) != 1:
        return Result("answered", "Usage: `/chipwatch unmute RULE`")
    rule = c.args[0]
    if not actions.unmute_rule(conn, rule):
        return Result("unchanged", f"`{escape(rule)[:100]}` was not muted from Slack.")
    return Result("applied", f"Unmuted `{rule}`.", f"<@{c.user}> unmuted rule `{rule}`", rule)


def _mutes(conn: Conn, c: Command, ctx: Context) -> Result:
    rules = actions.muted_rules(conn, ctx.now)
    lines = [f"rule {r} until {until:%Y-%m-%d %H:%M} UTC (by {who})"
             for r, (until, who) in rules.items()]
    lines += [f"story {s[:40]} in {ch} (by {who}, {when[:16]})"
              for s, ch, who, when in actions.story_mutes(conn)]
    return Result("answered", _code("\n".join(lines) or "nothing is muted"))


def _feedback(conn: Conn, c: Command, ctx: Context) -> Result:
    lines = [f"{m.created:%Y-%m-%d %H:%M} {m.user_id} [{','.join(m.rules)}] {m.title[:120]}"
             for m in actions.marks(conn, 10)]
    return Result("answered", _code("\n".join(lines) or "no not-relevant marks yet"))
