"""One poll of one feed as a pipeline of small stages.

    (poller: fetch ─▶ parse) ─▶ fresh ─▶ match ─▶ judge ─▶ story ─▶ route ─▶ record ─▶ (sender)
                                 └───── screen ──────┘   └────────── act ──────────┘

Every stage has the same signature, `(ctx, list) -> list`, and the run stops at the first
empty list. Stages are pure but for `fresh` (reads), `story` and `record`, which read and
write the store inside the one transaction that also moves the feed's validators: an item is
recorded as seen in the same commit that queues its messages, so nothing is lost or sent
twice. `run`, `replay` and `backtest` all drive these stages; only where items come from
differs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

from bot import escalate
from bot.config.compile import Config
from bot.digest import add_entry as add_digest_entry
from bot.feeds.fetch import FetchResult
from bot.feeds.parsepool import Parsed
from bot.feeds.response import Outcome, next_delay
from bot.marks import apply_marks
from bot.models import FeedSpec, Item, Match
from bot.relevance.judge import Fate
from bot.route import Route, RouteMode, route
from bot.rules.engine import match
from bot.slack.blocks import alert_message, reply_message, with_sources
from bot.slack.buttons import with_buttons
from bot.store import actions as action_store
from bot.store import feeds as feed_store
from bot.store import items as item_store
from bot.store import outbox
from bot.store.base import Store

log = logging.getLogger("chipwatch.poll")
# A known feed whose every entry turns "new" at once has churned its ids (a platform move):
# record the entries as seen instead of flooding Slack with old news.
CHURN_MIN_ITEMS = 10
CHURN_SPAN = timedelta(hours=1)


class Stories(Protocol):
    """Assigns an alerting item to a story: returns (story id, sources so far), or None for
    a follow-up that has no story to follow (it does not alert). Whether an alert becomes a
    parent or a thread reply is decided per channel, by whether it has a parent."""

    def assign(self, item: Item, match: Match) -> tuple[str, int] | None: ...


class OwnStory:
    """Each item is its own story (story dedup off)."""

    def assign(self, item: Item, match: Match) -> tuple[str, int] | None:
        return item.id, 1


@dataclass
class RunContext:
    """What every stage may use; `now` is stamped once per run."""

    now: datetime
    config: Config
    db: Store
    stories: Stories
    feed: FeedSpec
    known: item_store.Known  # the batch's exact-dedup lookup, kept current by each poll
    buttons: bool = False  # parent alerts carry Mute / Not relevant buttons (Socket Mode on)


class Status(StrEnum):
    """What became of an item (stored in `items.status`)."""

    NEW = "new"
    NOMATCH = "nomatch"  # no rule fired
    OLD = "old"  # a rule fired, but the item is older than the feed's max_age
    CHURN = "churn"  # recorded without alerts: the feed re-issued all its ids at once
    UNROUTED = "unrouted"  # a rule fired, no route took it
    UNTHREADED = "unthreaded"  # a follow-up with no story to follow: recorded, not posted
    IRRELEVANT = "irrelevant"  # a rule fired, the relevance model scored it below threshold
    REVIEW = "review"  # below threshold, posted to the review channel only
    ALERT = "alert"


class Candidate(NamedTuple):
    """An item on its way through the stages, with what each stage decided (a tuple: one
    or two are made for every item polled)."""

    item: Item
    status: Status = Status.NEW
    match: Match | None = None
    story_id: str | None = None
    sources: int = 1
    routes: tuple[Route, ...] = ()


Stage = Callable[[RunContext, list[Any]], list[Any]]


def fresh(ctx: RunContext, items: list[Item]) -> list[Candidate]:
    """Exact dedup against everything seen (id, normalized link, same-feed title)."""
    new = ctx.known.take(items)
    churn = len(new) == len(items) >= CHURN_MIN_ITEMS and _watched_closely(ctx)
    if churn:
        log.warning("feed_churn feed=%s items=%d action=recorded_without_alerts",
                    ctx.feed.name, len(new))
    return [Candidate(it, Status.CHURN if churn else Status.NEW) for it in new]


def _watched_closely(ctx: RunContext) -> bool:
    """A known feed read successfully a short while ago: if all of it is new now, that is a
    churn. After a long gap (the bot was down) a fully turned-over feed is real news."""
    span = max(CHURN_SPAN, 4 * ctx.feed.interval)
    conn = ctx.db.conn
    last = feed_store.last_success(conn, ctx.feed.name)
    return (last is not None and ctx.now - last <= span
            and item_store.has_items(conn, ctx.feed.name))


def match_rules(ctx: RunContext, cands: list[Candidate]) -> list[Candidate]:
    """Run the rules; items older than max_age are kept as seen but never alert."""
    oldest = ctx.now - ctx.feed.max_age
    out = []
    for c in cands:
        if c.status is not Status.NEW:
            out.append(c)
            continue
        m = match(ctx.config.rules, c.item.text, ctx.now)
        if m is None:  # most items: a plain constructor, not _replace (hot loop)
            out.append(Candidate(c.item, Status.NOMATCH))
            continue
        out.append(c._replace(match=m,
                           status=Status.OLD if c.item.published < oldest else Status.ALERT))
    return out


def judge_relevance(ctx: RunContext, cands: list[Candidate]) -> list[Candidate]:
    """The learned second opinion on each alert: its score goes on the match; below the
    bar it is dropped (recorded with its score) or sent for review; a follow-up is tagged
    so that it joins a thread where it finds one (see `bot.stories`)."""
    judge = ctx.config.relevance
    if judge is None:
        return cands
    out = []
    for c in cands:
        if c.status is Status.ALERT and c.match is not None:
            m, fate = judge.decide(c.item, c.match)
            if fate is Fate.ALERT:
                c = c._replace(match=m)
            elif fate is Fate.DROP:
                c = c._replace(match=m, status=Status.IRRELEVANT)
            else:
                assert judge.review_channel is not None
                c = c._replace(match=m, status=Status.REVIEW, story_id=f"review:{c.item.id}",
                               routes=(Route(judge.review_channel),))
        out.append(c)
    return out


def assign_stories(ctx: RunContext, cands: list[Candidate]) -> list[Candidate]:
    """Fold alerting items into stories: the first is new, later ones follow up; a
    follow-up (by its rule tags) with nothing to follow is not posted."""
    out = []
    for c in cands:
        if c.status is Status.ALERT and c.match is not None:
            got = ctx.stories.assign(c.item, c.match)
            c = (c._replace(status=Status.UNTHREADED) if got is None
                 else c._replace(story_id=got[0], sources=got[1]))
        out.append(c)
    return out


def route_alerts(ctx: RunContext, cands: list[Candidate]) -> list[Candidate]:
    """Pick each alert's channels."""
    out = []
    for c in cands:
        if c.status is Status.ALERT and c.match is not None:
            routes = route(ctx.config.routes, c.match)
            c = c._replace(routes=routes, status=Status.ALERT if routes else Status.UNROUTED)
        out.append(c)
    return out


def record(ctx: RunContext, cands: list[Candidate]) -> list[Candidate]:
    """Write items as seen and queue their messages, in the caller's transaction."""
    conn = ctx.db.conn
    item_store.insert_many(conn, [(c.item, c.match, c.status, c.story_id) for c in cands])
    for c in cands:
        for r in c.routes:
            if r.mode == RouteMode.DIGEST and c.match is not None:
                add_digest_entry(conn, r.channel, c.item, c.match, c.story_id, ctx.now)
            else:
                queue_alert(ctx, c, r.channel)
    return cands


def queue_alert(ctx: RunContext, c: Candidate, channel: str) -> None:
    """A story's first alert in a channel becomes its parent; later ones reply in its thread
    and update the parent's source count. Nothing is queued when every rule that fired is
    muted from Slack, nor replies and updates where the story is muted."""
    assert c.match is not None and c.story_id is not None
    conn = ctx.db.conn
    muted = action_store.muted_rules(conn, ctx.now)
    if muted and all(rule in muted for rule in c.match.rule_ids):
        log.debug("alert_muted item=%s channel=%s reason=rule", c.item.id, channel)
        return
    parent = outbox.parent(conn, c.story_id, channel)
    if parent is None:
        key = f"alert|{c.story_id}|{channel}"
        message = alert_message(c.item, c.match)
        row = outbox.enqueue(conn, key, channel, outbox.Kind.ALERT,
                             with_buttons(message, key) if ctx.buttons else message, ctx.now,
                             c.story_id, c.item.id)
        if row is not None:
            outbox.set_parent(conn, c.story_id, channel, row)
        return
    if action_store.story_muted(conn, c.story_id, channel):
        log.debug("alert_muted item=%s channel=%s reason=story", c.item.id, channel)
        return
    outbox.enqueue(conn, f"reply|{c.item.id}|{channel}", channel, outbox.Kind.REPLY,
                   reply_message(c.item), ctx.now, c.story_id, c.item.id)
    update = with_sources(parent.message, c.sources, c.item.published)
    update = apply_marks(conn, update, c.story_id, channel, ctx.config.settings.escalate)
    outbox.enqueue(conn, f"update|{c.story_id}|{channel}|{c.sources}", channel,
                   outbox.Kind.UPDATE, update, ctx.now, c.story_id, c.item.id)


def escalate_stories(ctx: RunContext, cands: list[Candidate]) -> list[Candidate]:
    """Stories that grew in this batch and now reach the escalation threshold escalate
    (once per story; see `bot.escalate`)."""
    grown = [c.story_id for c in cands if c.status is Status.ALERT and c.story_id]
    escalate.check(ctx.db.conn, grown, ctx.now, ctx.config.settings.escalate)
    return cands


# Screening reads the store and writes nothing. Acting writes for alerting items only, but
# for `record`'s one insert of every new item.
SCREEN_STAGES: Sequence[Stage] = (fresh, match_rules, judge_relevance)
ACT_STAGES: Sequence[Stage] = (assign_stories, route_alerts, record, escalate_stories)


def screen(ctx: RunContext, polled: Polled) -> list[Candidate]:
    """A poll's new items, matched: the stages that only read."""
    return run_stages(ctx, polled.parsed.items, SCREEN_STAGES)


def alerting(cands: Sequence[Candidate]) -> bool:
    """Whether any candidate alerts. Only then do stories, routes and escalation have work;
    otherwise acting is one statement (the insert of the items), which SQLite and PostgreSQL
    apply whole or not at all, so the poll needs no savepoint of its own."""
    return any(c.status is Status.ALERT or c.status is Status.REVIEW for c in cands)


def run_stages(ctx: RunContext, things: list[Any], stages: Sequence[Stage]) -> list[Any]:
    """Feed `things` through `stages` in order, stopping at the first empty list."""
    for stage in stages:
        if not things:
            break
        things = stage(ctx, things)
    return things


class PollReport(NamedTuple):
    """One line's worth of what a poll did; `alerted` holds (rule, channel) pairs queued."""

    feed: str
    outcome: Outcome
    items: int
    new: int
    alerts: int
    error: str | None
    next_due: datetime
    status: str = ""
    alerted: tuple[tuple[str, str], ...] = ()


class Fetched(NamedTuple):
    """A fetch waiting to be processed, with the error count its feed had before it."""

    feed: FeedSpec
    errors: int
    result: FetchResult
    started: float


class Polled(NamedTuple):
    """A fetch and its parsed items: the input of `finish`."""

    fetched: Fetched
    parsed: Parsed

    @property
    def error(self) -> str | None:
        """Why this poll failed: the fetch's error, else a document that is not a feed."""
        res = self.fetched.result
        if res.outcome not in (Outcome.OK, Outcome.NOT_MODIFIED):
            return res.error
        return self.parsed.problem


def finish(ctx: RunContext, polled: Polled, cands: list[Candidate]) -> PollReport:
    """Act on a poll's screened items: stories, routes, record, in the caller's transaction.
    The caller stores the fetch (`fetch_record`) in that transaction too, so items, their
    outbox rows and the feed's validators move together."""
    result, error = polled.fetched.result, polled.error
    errors = polled.fetched.errors + 1 if error else 0
    delay = next_delay(ctx.feed.interval, errors,
                       ctx.config.settings.fetch.backoff_max, result.retry_after)
    items = polled.parsed.items
    # Stories, routes and escalation act on alerting items only: most polls just record.
    cands = run_stages(ctx, cands, ACT_STAGES if alerting(cands) else (record,))
    alerts = [c for c in cands if c.status is Status.ALERT or c.status is Status.REVIEW]
    alerted = tuple((rule, r.channel) for c in alerts if c.match
                    for r in c.routes for rule in c.match.rule_ids)
    return PollReport(ctx.feed.name, result.outcome, len(items), len(cands), len(alerts),
                      error, ctx.now + delay, str(result.status or result.outcome.value),
                      alerted)


def fetch_record(polled: Polled, report: PollReport) -> feed_store.Fetch:
    """What the store keeps of a finished poll."""
    return feed_store.Fetch(polled.fetched.result, report.next_due, report.new, report.error)


def log_report(report: PollReport, errors: int) -> None:
    """One log line per poll, written once its transaction has committed."""
    if report.outcome is Outcome.GONE:
        log.error("feed_error feed=%s status=%s error=%s action=stopped_polling",
                  report.feed, report.status, report.error)
    elif report.error:
        log.warning("feed_error feed=%s status=%s error=%s errors=%d next_due=%s",
                    report.feed, report.status, report.error, errors,
                    report.next_due.isoformat(timespec="seconds"))
    else:
        log.info("feed_polled feed=%s outcome=%s items=%d new=%d alerts=%d", report.feed,
                 report.outcome.value, report.items, report.new, report.alerts)
