"""Wiring only: a config → the store, fetcher, notifier, stories, sender and poller that
`bot.runtime` drives."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from bot import runtime
from bot.clock import SYSTEM_CLOCK, Clock
from bot.config.compile import Config
from bot.config.live import LiveConfig
from bot.deliver import Sender
from bot.escalate import Escalator
from bot.feeds.fetch import Fetcher, FetchResult, HttpFetcher, Validators
from bot.feeds.response import Outcome
from bot.metrics import MeteredNotifier, Metrics
from bot.models import FeedSpec
from bot.pipeline import OwnStory, PollReport, Stories
from bot.poller import Poller
from bot.runtime.heartbeat import Heartbeat
from bot.runtime.leader import Leader, LeaseLeader, SoloLeader, replica_name
from bot.slack.interactions import Interactions
from bot.slack.notifier import ConsoleNotifier, Notifier, SlackNotifier
from bot.slack.web import Admins, SlackWeb
from bot.state_metrics import watch_state
from bot.store import SqliteStore, database_url, open_store, outbox
from bot.store import feeds as feed_store
from bot.store.base import Store
from bot.stories import EngineStories, make_stories

log = logging.getLogger("chipwatch.app")


def make_notifier(config: Config, env: Mapping[str, str], dry_run: bool) -> Notifier:
    """Slack when a token is set (and not a dry run), else the console."""
    token = env.get("SLACK_BOT_TOKEN", "").strip()
    if dry_run or not token:
        if not dry_run:
            log.info("slack_disabled reason=no_SLACK_BOT_TOKEN alerts=console")
        return ConsoleNotifier()
    slack = config.settings.slack
    base = env.get("SLACK_API_URL") or slack.api_url
    if base and not base.endswith("/"):
        base += "/"
    return SlackNotifier(token, base, slack.timeout)


def make_web(config: Config, env: Mapping[str, str], dry_run: bool) -> SlackWeb | None:
    """The two-way side's Web API client, when there is a bot token (and not a dry run)."""
    token = env.get("SLACK_BOT_TOKEN", "").strip()
    if dry_run or not token:
        return None
    from slack_sdk import WebClient

    slack = config.settings.slack
    base = env.get("SLACK_API_URL") or slack.api_url
    if base and not base.endswith("/"):
        base += "/"
    client = WebClient(token=token, timeout=int(slack.timeout), base_url=base) if base \
        else WebClient(token=token, timeout=int(slack.timeout))
    return SlackWeb(client)


def metrics_listen(config: Config, env: Mapping[str, str]) -> str | None:
    """Where /metrics and /healthz listen: $CHIPWATCH_METRICS_LISTEN, else the config."""
    return env.get("CHIPWATCH_METRICS_LISTEN") or config.settings.metrics_listen


@dataclass(frozen=True)
class NoFetcher:
    """A fetcher for bots whose items come from elsewhere (a backtest's archive)."""

    clock: Clock

    def fetch(self, feed: FeedSpec, validators: Validators) -> FetchResult:
        return FetchResult(feed, Outcome.NOT_MODIFIED, self.clock.now(), 304)


@dataclass
class App:
    """A configured bot: its parts, wired. `bot.runtime` runs it (see `runtime.Parts`)."""

    live: LiveConfig
    db: Store
    fetcher: Fetcher
    notifier: Notifier
    clock: Clock = SYSTEM_CLOCK
    stories: Stories = field(default_factory=OwnStory)
    metrics: Metrics = field(default_factory=Metrics)
    stop: threading.Event = field(default_factory=threading.Event)
    wake: threading.Event = field(default_factory=threading.Event)
    web: SlackWeb | None = None
    app_token: str | None = None  # SLACK_APP_TOKEN (xapp-): Socket Mode on
    leader: Leader = field(default_factory=SoloLeader)

    def __post_init__(self) -> None:
        settings = self.config.settings
        # Every write checks the lead, and every send asks for it (see runtime.leader).
        self.db.set_fence(self.leader)
        self.sender = Sender(self.db, MeteredNotifier(self.notifier, self.metrics), self.clock,
                             settings.slack.per_channel_interval)
        self.poller = Poller(self.live, self.db, self.fetcher, self.clock, self.stories,
                             self.metrics)
        self.sender.may_send = self.leader.may_act
        self.poller.on_alert = self.wake.set
        if isinstance(self.stories, EngineStories):
            self.poller.stories_stale = self.stories.reload_later
        self.poller.stop = self.stop
        self.heartbeat = Heartbeat(settings.heartbeat_path, self.clock,
                                   lambda: self.sender.halted, self._write_fault,
                                   lambda: self.leader.database_error)
        # `health` and `status` read the file: a halt (or resume), a full disk (or space
        # again) shows there at once.
        self.sender.on_state = self.heartbeat.refresh
        self.db.faults.listeners.append(self.heartbeat.refresh)
        self.escalator = Escalator(self.db, self.live, self.clock, self.web)
        self.interactions: Interactions | None = None
        if self.app_token and self.web is not None:
            self.interactions = Interactions(
                self.db, self.live, self.clock, Admins(self.live, self.web, self.clock),
                self.web, self.wake.set, self.app_token)
            self.poller.buttons = True
        self._watch_store()
        watch_state(self.metrics, self.db, self.clock)

    @property
    def config(self) -> Config:
        """The running config."""
        return self.live.current

    def _write_fault(self) -> dict[str, object] | None:
        fault = self.db.faults.current
        return fault.as_dict() if fault else None

    @classmethod
    def build(cls, config: Config, *, dry_run: bool = False,
              env: Mapping[str, str] | None = None, clock: Clock = SYSTEM_CLOCK) -> App:
        """Everything from the config: state file, HTTP fetcher, story engine, notifier."""
        env = os.environ if env is None else env
        settings = config.settings
        url = database_url(settings.state_url, env)
        name = replica_name(settings.replica)
        db = open_store(url, settings.state_path, memory_copy=dry_run, name=name,
                        failover=settings.failover)
        log.info("state backend=%s where=%s%s", db.backend, db.where,
                 " (in-memory copy)" * dry_run)
        leader: Leader = SoloLeader(name)
        if url is not None and not dry_run:
            leader = LeaseLeader(url, name, settings.failover, clock)
        stop = threading.Event()  # one event: it stops the loop and cancels fetches in flight
        fetcher = HttpFetcher(clock, settings.fetch.limits,
                              max_connections=settings.fetch.concurrency, stop=stop)
        stories = make_stories(settings.dedup, db)
        web = make_web(config, env, dry_run)
        app_token = env.get("SLACK_APP_TOKEN", "").strip() or None
        if app_token and web is None and not dry_run:
            log.warning("socket_mode_disabled reason=no_SLACK_BOT_TOKEN")
        return cls(LiveConfig(config), db, fetcher, make_notifier(config, env, dry_run), clock,
                   stories, web=web, app_token=app_token, stop=stop, leader=leader)

    @classmethod
    def for_backtest(cls, config: Config, clock: Clock, notifier: Notifier,
                     db: Store | None = None) -> App:
        """A bot on an in-memory store (or `db`, a state file being written) that posts to
        `notifier` (a recorder) and fetches nothing: a backtest hands it the archive's
        items."""
        db = db or SqliteStore.open(":memory:")
        stories = make_stories(config.settings.dedup, db)
        config = replace(config, settings=replace(
            config.settings, slack=replace(config.settings.slack, per_channel_interval=0.0)))
        app = cls(LiveConfig(config), db, NoFetcher(clock), notifier, clock, stories)
        app.poller.watch_health = False  # an archive's feeds go quiet overnight: no notices
        return app

    def _watch_store(self) -> None:
        """Metrics read from the state file: outbox depth now, last successes from before."""
        def depth() -> dict[str, float]:
            with self.db.reading() as conn:
                counts = outbox.counts(conn)
            return {s: float(counts.get(s, 0)) for s in ("pending", "inflight", "sent", "dead")}

        self.metrics.watch("chipwatch_outbox_rows", "Outbox rows by state.", "state", depth)
        with self.db.reading() as conn:
            last = feed_store.last_successes(conn)
        for name, when in last.items():
            self.metrics.success(name, when)

    def run_once(self) -> list[PollReport]:
        """Poll every feed once, deliver, return the reports (see `runtime.run_once`)."""
        return runtime.run_once(self)

    def run_forever(self, env: Mapping[str, str] | None = None) -> None:
        """Run on schedule until `stop` is set (see `runtime.run_forever`)."""
        runtime.run_forever(self, metrics_listen(self.config, os.environ if env is None else env))

    def close(self) -> None:
        self.poller.parsers.close()
        close = getattr(self.fetcher, "close", None)
        if close:
            close()
        self.db.close()
