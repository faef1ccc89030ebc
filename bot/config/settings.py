"""Every runtime setting, compiled once from the validated config.

Runtime code reads `Config.settings`, never the raw pydantic model: durations are already
seconds or timedeltas, paths are absolute, and the objects the fetcher, the story engine and
the notifier take are built here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from bot.config.schema import ChipwatchConfig, FeedHealthConfig
from bot.dedup.settings import DedupSettings
from bot.feeds.fetch import FetchLimits
from bot.models import Severity
from bot.relevance.judge import FOLLOW_TAG


@dataclass(frozen=True)
class FetchSettings:
    """How feeds are fetched: per-request limits and how many run at once."""

    limits: FetchLimits
    concurrency: int
    per_host: int
    parse_workers: int
    backoff_max: timedelta


@dataclass(frozen=True)
class SlackSettings:
    """How the notifier reaches Slack (the token only ever comes from the environment)."""

    api_url: str | None
    timeout: float
    per_channel_interval: float
    admin_users: frozenset[str] = frozenset()
    admin_groups: frozenset[str] = frozenset()


@dataclass(frozen=True)
class EscalateSettings:
    """When a story escalates (distinct sources within a span) and how it is posted."""

    sources: int
    within: timedelta
    channel: str
    severity: Severity | None
    mention: str | None  # already Slack syntax: <!here>, <!subteam^S…>, <@U…>


@dataclass(frozen=True)
class Settings:
    """The compiled runtime settings of one config file."""

    state_path: Path
    state_url: str | None  # PostgreSQL; None: the SQLite file at state_path
    default_interval: timedelta  # feeds without their own (a backtest's poll window)
    default_max_age: timedelta
    fetch: FetchSettings
    slack: SlackSettings
    dedup: DedupSettings | None  # None: story dedup off, every item is its own story
    metrics_listen: str | None
    stall_after: float
    feed_health: FeedHealthConfig
    ops_channel: str | None
    failover: float  # seconds within which a standby replica takes over
    replica: str | None
    escalate: EscalateSettings | None = None
    keep: timedelta = timedelta(days=90)  # state retention (see bot.store.retention)
    keep_unmatched: timedelta = timedelta(days=14)  # items no rule fired on

    @property
    def heartbeat_path(self) -> Path:
        """The file the running bot's scheduler touches (read by `chipwatch health`)."""
        return self.state_path.with_suffix(".heartbeat")


def compile_settings(raw: ChipwatchConfig, config_path: Path) -> Settings:
    """Build the runtime settings; a relative state path is taken from the config file's
    folder (as feed paths are), so the bot finds its state whatever the working directory."""
    f = raw.fetch
    limits = FetchLimits(f.connect_timeout.total_seconds(), f.total_timeout.total_seconds(),
                         f.max_bytes, f.max_redirects)
    if f.user_agent is not None:
        limits = replace(limits, user_agent=f.user_agent)
    d = raw.dedup
    # The relevance model marks the follow-ups it reads with this tag: they join a thread.
    follow_tags = frozenset(d.follow_tags) | ({FOLLOW_TAG} if raw.relevance else set())
    dedup = replace(DedupSettings(), window=d.window, join_threshold=d.join_threshold,
                    merge_threshold=d.merge_threshold, near_duplicate=d.near_duplicate,
                    follow_tags=follow_tags, follow_window=d.follow_window,
                    follow_threshold=d.follow_threshold, founding=d.founding,
                    lifespan=d.lifespan, fresh_span=d.fresh_span,
                    fresh_threshold=d.fresh_threshold, distinct_actors=d.distinct_actors,
                    follow_joins_only=bool(follow_tags)) if d.enabled else None
    return Settings(
        state_path=(config_path.parent / raw.state.path).resolve(),
        state_url=raw.state.url,
        default_interval=raw.defaults.interval,
        default_max_age=raw.defaults.max_age,
        fetch=FetchSettings(limits, f.concurrency, f.per_host, f.parse_workers, f.backoff_max),
        slack=SlackSettings(raw.slack.api_url, raw.slack.timeout.total_seconds(),
                            raw.slack.per_channel_interval.total_seconds(),
                            frozenset(a for a in raw.slack.admins if a[0] in "UW"),
                            frozenset(a for a in raw.slack.admins if a[0] == "S")),
        dedup=dedup,
        metrics_listen=raw.metrics.listen,
        stall_after=raw.metrics.stall_after.total_seconds(),
        feed_health=raw.feed_health,
        ops_channel=raw.ops_channel,
        failover=raw.ha.failover.total_seconds(),
        replica=raw.ha.replica,
        escalate=_escalate(raw),
        keep=retention_keep(raw)[0],
        keep_unmatched=unmatched_keep(raw),
    )


DEFAULT_KEEP = timedelta(days=90)
# A week: `replay`'s default window sees every item of it (a feed past max_age alerts nothing).
DEFAULT_KEEP_UNMATCHED = timedelta(days=7)


def retention_keep(raw: ChipwatchConfig) -> tuple[timedelta, timedelta, str]:
    """`state.keep` (unset: 90 days or the floor, whichever is longer), the floor it must
    reach and what sets that floor: an item must outlive the spans in which it can still
    matter, or a feed that still serves it would alert it again, or a story lose its
    thread (dedup.window, dedup.follow_window, every feed's max_age)."""
    floors = [(raw.dedup.window, "dedup.window"), (raw.dedup.follow_window,
                                                   "dedup.follow_window"),
              (raw.defaults.max_age, "defaults.max_age")]
    floors += [(f.max_age, f"feed {f.name!r} max_age") for f in raw.feeds if f.max_age]
    floor, why = max(floors, key=lambda pair: pair[0])
    keep = raw.state.keep if raw.state.keep is not None else max(DEFAULT_KEEP, floor)
    return keep, floor, why


def unmatched_floor(raw: ChipwatchConfig) -> tuple[timedelta, str]:
    """How long an item no rule fired on must stay, and why: while a feed may still serve it
    within its max_age (gone sooner, it could be matched again by a changed rule and alert).
    Exact dedup by title needs no more: a headline no rule fired on, re-issued under a new
    guid, is screened again and fires nothing under the same rules. Stories never hold
    such items."""
    floors = [(raw.defaults.max_age, "defaults.max_age")]
    floors += [(f.max_age, f"feed {f.name!r} max_age") for f in raw.feeds if f.max_age]
    return max(floors, key=lambda pair: pair[0])


def unmatched_keep(raw: ChipwatchConfig) -> timedelta:
    """`state.keep_unmatched`, unset: 7 days or its floor, never longer than `keep`."""
    if raw.state.keep_unmatched is not None:
        return raw.state.keep_unmatched
    return min(retention_keep(raw)[0], max(DEFAULT_KEEP_UNMATCHED, unmatched_floor(raw)[0]))


def mention_syntax(mention: str | None) -> str | None:
    """A configured mention as Slack markup (only ever from the config, never feed text)."""
    if mention is None:
        return None
    if mention in ("here", "channel"):
        return f"<!{mention}>"
    return f"<!subteam^{mention}>" if mention[0] == "S" else f"<@{mention}>"


def _escalate(raw: ChipwatchConfig) -> EscalateSettings | None:
    e = raw.escalate
    if e is None:
        return None
    return EscalateSettings(e.sources, e.within, e.channel,
                            Severity.parse(e.severity) if e.severity else None,
                            mention_syntax(e.mention))
