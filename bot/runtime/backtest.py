"""A backtest is a run whose clock is the archive's and whose store is in memory.

Archive items are taken in order and grouped into poll windows of the feeds' default
interval: at each window's end the clock moves there and every feed with items in the window
is polled, as the bot would have polled it. Each poll goes through the same `Poller.record`
stages as `run` (exact dedup, rules, stories, routes, record), then closed digests are queued
and the real sender drains the outbox into a `Recorder` instead of Slack. A poll also shows
the feed's last few items again, as a real feed document does, so exact dedup and the churn
guard see what they see live.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from bot import digest
from bot.archive import Archived
from bot.clock import FakeClock
from bot.feeds.fetch import FetchResult
from bot.feeds.parsepool import Parsed
from bot.feeds.response import Outcome
from bot.models import FeedSpec, Item, Severity
from bot.pipeline import CHURN_MIN_ITEMS, Fetched, Polled
from bot.route import RouteMode
from bot.runtime import retention
from bot.runtime.parts import Parts
from bot.slack.blocks import Message
from bot.slack.notifier import LocalNotifier, Posted
from bot.store import actions, outbox
from bot.store import items as item_store
from bot.store.sqlite import SqliteStore

SHOWN_AGAIN = 1  # a feed document's older items shown with its new ones
KEEP_ITEMS = timedelta(days=14)  # the in-memory store forgets items older than this
PRUNE_EVERY = timedelta(days=1)
KIND = {"alert": "parent", "reply": "reply", "update": "update", "digest": "digest",
        "notice": "notice"}
_EPOCH = datetime(2000, 1, 3, tzinfo=UTC)
ESCALATION_KEY = "escalate|"  # the outbox key of an escalation post (bot.escalate)


@dataclass(frozen=True)
class Sent:
    """One message the bot would have posted, in posting order."""

    at: datetime
    kind: str  # parent | reply | update | digest | notice | escalation
    channel: str
    key: str
    story: str | None
    item: str | None
    title: str
    rules: tuple[str, ...]
    tags: tuple[str, ...]
    severity: str
    relevance: float | None = None  # the relevance model's score, where the item has one
    link: str = ""
    source: str = ""

    def as_json(self) -> dict[str, Any]:
        """The message as `backtest --json` prints it (`relevance` only where scored)."""
        out: dict[str, Any] = {
            "id": self.item, "story": self.story, "kind": self.kind, "channel": self.channel,
            "title": self.title, "rules": list(self.rules), "tags": list(self.tags),
            "severity": self.severity, "time": self.at.isoformat(timespec="seconds")}
        if self.relevance is not None:
            out["relevance"] = round(self.relevance, 4)
        return out


class Recorder(LocalNotifier):
    """A Notifier that keeps what would have been posted (outbox key, or the edited ts)."""

    paced = True  # stands in for Slack: the sender keeps Slack's pace (on the archive clock)

    def __init__(self) -> None:
        self.posts: list[tuple[str, str]] = []  # (channel, key) or (channel, "edit:<ts>")
        self._ts_key: dict[str, str] = {}

    def post(self, channel: str, message: Message, key: str,
             thread_ts: str | None = None) -> Posted:
        ts = f"{len(self._ts_key) + 1}.000000"
        self._ts_key[ts] = key
        self.posts.append((channel, key))
        return Posted(channel, ts)

    def update(self, channel_id: str, ts: str, message: Message) -> None:
        self.posts.append((channel_id, f"edit:{self._ts_key.get(ts, ts)}"))


def window_end(when: datetime, every: timedelta) -> datetime:
    """The end of the poll window `when` falls in."""
    return _EPOCH + ((when - _EPOCH) // every + 1) * every


class Backtest:
    """Drives a wired bot (in-memory store, `Recorder` notifier, FakeClock) over items."""

    def __init__(self, parts: Parts, recorder: Recorder, clock: FakeClock) -> None:
        self.parts, self.recorder, self.clock = parts, recorder, clock
        config = parts.live.current
        self.every = config.settings.default_interval
        self.max_age = config.settings.default_max_age
        self.specs: dict[str, FeedSpec] = {}
        self.shown: dict[str, deque[Item]] = {}
        self.pruned = clock.now()
        # Retention of a real state file (--state): state.keep, state.keep_unmatched.
        self.keep = (config.settings.keep, config.settings.keep_unmatched)
        self.sizes: dict[str, int] = {}  # its size after each month's last retention run

    def run(self, items: Iterable[Archived]) -> Iterator[Sent]:
        """Poll window by window; yields each message as the sender would post it."""
        window: dict[str, list[Archived]] = {}
        end: datetime | None = None
        for item in items:
            # An item before the window's end (most of them) falls in that window.
            if end is None or item.published >= end:
                at = window_end(item.published, self.every)
                if end is not None:
                    yield from self._poll(end, window)
                    window = {}
                end = at
            window.setdefault(item.feed, []).append(item)
        if end is not None:
            yield from self._poll(end, window)
            yield from self._poll(end + timedelta(days=8), {})  # let open digests close

    def _spec(self, item: Archived) -> FeedSpec:
        spec = self.specs.get(item.feed)
        if spec is None:
            spec = FeedSpec(item.feed, item.feed, self.every, self.max_age, timedelta(0),
                            item.source or urlsplit(item.feed).hostname or item.feed)
            self.specs[item.feed] = spec
        return spec

    def _poll(self, at: datetime, window: dict[str, list[Archived]]) -> Iterator[Sent]:
        yield from self._quiet_until(at)
        if at > self.clock.now():
            self.clock.advance(at - self.clock.now())
        polls = []
        for feed, archived in window.items():
            spec = self._spec(archived[0])
            shown = self.shown.get(feed)
            if shown is None:
                shown = self.shown[feed] = deque(maxlen=SHOWN_AGAIN)
            new = [it.polled(at) for it in archived]
            # Older items shown again matter only where the churn guard could mistake a
            # burst of new ones for a feed re-issuing its ids; elsewhere they cost time only.
            items = [*new, *shown] if len(new) >= CHURN_MIN_ITEMS else new
            shown.extend(new)
            result = FetchResult(spec, Outcome.OK, at, 200)
            polls.append(Polled(Fetched(spec, 0, result, self.clock.monotonic()),
                                Parsed(items, None)))
        parts = self.parts
        queued = sum(r.alerts for r in parts.poller.record(polls)) if polls else 0
        queued += digest.flush(parts.db, parts.live.current.routes, at)
        if at - self.pruned >= PRUNE_EVERY:
            self._forget(at)
            self.pruned = at
        if queued:
            yield from self._drain(at)

    def _forget(self, at: datetime) -> None:
        """Keep the store bounded: in memory, recent items only; a real state file as `run`
        keeps it (retention, daily on the archive's clock)."""
        db = self.parts.db
        if db.in_memory:
            with db.tx() as conn:
                item_store.prune(conn, at - KEEP_ITEMS)
            return
        retention.run(db, *self.keep, at, self.clock)
        if isinstance(db, SqliteStore):  # the file as it stands, not its log's high-water mark
            db.checkpoint()
        self.sizes[at.strftime("%Y-%m")] = db.size()

    def _quiet_until(self, at: datetime) -> Iterator[Sent]:
        """Windows without items still close digest periods, as the running bot's digest
        job does every 30 s: step through them when there are digest routes."""
        routes = self.parts.live.current.routes
        if not any(r.mode == RouteMode.DIGEST for r in routes):
            return
        step = self.clock.now() + self.every
        while step < at:
            self.clock.advance(step - self.clock.now())
            if digest.flush(self.parts.db, routes, step):
                yield from self._drain(step)
            step += self.every

    def _drain(self, at: datetime) -> Iterator[Sent]:
        before = len(self.recorder.posts)
        self.parts.sender.drain(self.parts.stop, max_wait=0)
        # An escalation post waits for its parent to be sent, as beside the running sender.
        if self.parts.escalator.flush():
            self.parts.sender.drain(self.parts.stop, max_wait=0)
        yield from self._describe(at, self.recorder.posts[before:])

    def _describe(self, at: datetime, posts: list[tuple[str, str]]) -> Iterator[Sent]:
        for channel, key in posts:
            edit = key.startswith("edit:")
            key = key.removeprefix("edit:")
            with self.parts.db.reading() as conn:
                row = outbox.with_item(conn, key)
            if row is None:
                continue
            kind = "update" if edit else KIND.get(row["kind"], row["kind"])
            if key.startswith(ESCALATION_KEY) and not edit:
                yield self._escalation(at, row, key)
                continue
            severity = "" if row["severity"] is None else Severity(row["severity"]).label
            yield Sent(at, kind, row["channel"] or channel, key, row["story_id"],
                       row["item_id"], row["title"] or "",
                       tuple(json.loads(row["rules"] or "[]")),
                       tuple(json.loads(row["tags"] or "[]")), severity,
                       _column(row, "relevance"), _column(row, "link") or "",
                       _column(row, "source") or "")

    def _escalation(self, at: datetime, row: Any, key: str) -> Sent:
        """An escalation post: it has no item of its own, so it is described by the headline
        it carries, its story's first alert (as `bot.escalate.message` writes it), with the
        severity it is posted at (`escalate.severity` may raise it)."""
        with self.parts.db.reading() as conn:
            first = actions.story_item(conn, row["story_id"]) if row["story_id"] else None
        title, link, source, level = first or ("", "", "", int(Severity.INFO))
        escalate = self.parts.live.current.settings.escalate
        if escalate is not None and escalate.severity is not None:
            level = max(level, int(escalate.severity))
        return Sent(at, "escalation", row["channel"], key, row["story_id"], None, title,
                    (), (), Severity(level).label, None, link or "", source or "")


def _column(row: Any, name: str) -> Any:
    """A column the row may lack (a store that does not select it yet): None then."""
    # `in row` would search a sqlite3.Row's values, not its column names.
    return row[name] if name in row.keys() else None  # noqa: SIM118
