"""The config file's shape as strict pydantic models: unknown keys and wrong types are errors."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from bot.config.duration import parse_duration

SeverityName = Literal["info", "low", "medium", "high", "critical"]


def _positive(span: timedelta) -> timedelta:
    if span <= timedelta(0):
        raise ValueError("a poll interval must be longer than 0s (at least 30s for a feed on "
                         "another machine)")
    return span


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
# A poll interval: positive here; the 30 s floor for remote feeds is checked when compiling,
# where each feed's URL is known.
Interval = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_positive)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Defaults(_Strict):
    """Per-feed settings every feed inherits."""

    interval: Interval = timedelta(minutes=10)
    max_age: Duration = timedelta(hours=24)
    jitter: Duration = timedelta(seconds=30)


class FeedConfig(_Strict):
    """One feed to poll; `url` may be http(s), file:// or a local path."""

    name: str = Field(min_length=1)
    url: str = Field(min_length=1)
    interval: Interval | None = None
    max_age: Duration | None = None
    source: str | None = None


class Examples(_Strict):
    """Headlines a rule must (and must not) fire on; `chipwatch check` runs them."""

    match: list[str] = []
    no_match: list[str] = []


class RuleConfig(_Strict):
    """A keyword rule: every `all` entry, one `any` term, no `none` term."""

    id: str = Field(min_length=1)
    tags: list[str] = []
    severity: SeverityName = "medium"
    all: list[str | list[str]] = []
    any: list[str] = []
    none: list[str] = []
    examples: Examples = Examples()
    mute_until: datetime | None = None
    # false: the relevance model does not judge this rule's alerts (a topic it was not
    # trained on); an alert that another judged rule also fired on is still judged.
    relevance: bool = True


class RouteConfig(_Strict):
    """Where alerts go: conditions on tags, rules and severity; first match wins."""

    channel: str = Field(min_length=1)
    tags: list[str] = []
    rules: list[str] = []
    min_severity: SeverityName = "info"
    continue_: bool = Field(False, alias="continue")
    mode: Literal["immediate", "digest"] = "immediate"
    every: Duration | None = None
    at: str | None = None
    timezone: str = "UTC"


class SlackConfig(_Strict):
    """How to reach Slack; the token only ever comes from $SLACK_BOT_TOKEN."""

    api_url: str | None = None
    timeout: Duration = timedelta(seconds=15)
    per_channel_interval: Duration = timedelta(seconds=1)
    # Who may take admin actions from Slack (Mute rule, /chipwatch mute|unmute): user ids
    # (U…, W…) and user-group ids (S…). Empty: nobody.
    admins: list[str] = []

    @field_validator("admins")
    @classmethod
    def _ids(cls, value: list[str]) -> list[str]:
        for v in value:
            if not SLACK_ID_RE.match(v):
                raise ValueError(f"{v!r} is not a Slack user id (U…/W…) or user-group id (S…)")
        return value


SLACK_ID_RE = re.compile(r"^[UWS][A-Z0-9]{2,20}$")
MENTION_RE = re.compile(r"^(here|channel|[UWS][A-Z0-9]{2,20})$")


class EscalateConfig(_Strict):
    """Escalation by velocity: a story reported by `sources` distinct outlets within
    `within` is posted once, top-level, to `channel`, linking its alert."""

    sources: int = Field(ge=2, le=1000)
    within: Duration
    channel: str = Field(min_length=1)
    severity: SeverityName | None = None  # raise the story's shown severity to this
    mention: str | None = None  # here | channel | a user id | a user-group id

    @field_validator("mention")
    @classmethod
    def _mention(cls, value: str | None) -> str | None:
        if value is not None and not MENTION_RE.match(value):
            raise ValueError("expected here, channel, a user id (U…) or a user-group id (S…)")
        return value


class StateConfig(_Strict):
    """Where state lives: a SQLite file (relative paths are from the config file's folder),
    or PostgreSQL when `url` is set (`$CHIPWATCH_DATABASE_URL` overrides it)."""

    path: str = "state/chipwatch.db"
    url: str | None = Field(None, pattern=r"^postgres(ql)?://")
    # How long the state remembers (items, sent messages, closed stories); unset: 90 days,
    # or longer where dedup or a feed's max_age needs it (see compile.retention_keep).
    keep: Duration | None = Field(None, ge=timedelta(days=1))
    # Items no rule fired on (most of them) only serve exact dedup, replay and feed health:
    # kept this long (unset: 14 days, within keep), each feed's newest 31 for ever.
    keep_unmatched: Duration | None = Field(None, ge=timedelta(days=1))


class HaConfig(_Strict):
    """Replicas on PostgreSQL: a standby takes over within `failover` of the leader's loss;
    `replica` names this process in status and /healthz (default: host name and pid)."""

    failover: Duration = Field(timedelta(seconds=15), ge=timedelta(seconds=3))
    replica: str | None = Field(None, min_length=1, max_length=60)


class FetchConfig(_Strict):
    """HTTP fetch limits."""

    connect_timeout: Duration = timedelta(seconds=10)
    total_timeout: Duration = timedelta(seconds=30)
    max_bytes: int = Field(10_000_000, gt=0)
    max_redirects: int = Field(5, ge=0, le=20)
    backoff_max: Duration = timedelta(hours=6)
    concurrency: int = Field(32, ge=1, le=512)
    per_host: int = Field(4, ge=1, le=64)
    parse_workers: int = Field(0, ge=0, le=16)  # processes that parse feeds; 0: in-process
    user_agent: str | None = None


class DedupConfig(_Strict):
    """Story dedup: the window in which a new report joins an existing story, and the
    engine's main thresholds (scores in [0, 1]; near_duplicate is a 0-100 fuzz ratio)."""

    enabled: bool = True
    window: Duration = timedelta(hours=72)
    join_threshold: float = Field(0.18, gt=0, le=1)
    merge_threshold: float = Field(0.25, gt=0, le=1)
    near_duplicate: float = Field(92.0, gt=0, le=100)
    # Items carrying one of these rule tags are follow-ups (reactions, analysis): they join
    # a story up to `follow_window` after its last report, at `follow_threshold`, and never
    # start one (a follow-up with nothing to follow is recorded but not posted).
    follow_tags: list[str] = []
    follow_window: Duration = timedelta(days=30)
    follow_threshold: float = Field(0.1, gt=0, le=1)
    # A story's identity: its reports (not follow-ups) within `founding` of its first; a new
    # report is compared with them, not with later members. A report joins only a story
    # started within `lifespan`. null: off (the whole story; no limit).
    founding: Duration | None = None
    lifespan: Duration | None = None
    # A report joins a story in its first `fresh_span` at `fresh_threshold` (lower than
    # join_threshold: a development's first-day reports are worded every which way).
    fresh_span: Duration = timedelta(0)
    fresh_threshold: float = Field(1.0, gt=0, le=1)
    # A report joins no story whose first report names other governments than it does,
    # none in common (China aside: the usual target): another actor's decision.
    distinct_actors: bool = False


class MetricsConfig(_Strict):
    """The Prometheus/health endpoint; off unless `listen` is set (host:port)."""

    listen: str | None = None
    # /healthz fails once the scheduler's heartbeat (every 30 s) is older than this.
    stall_after: Duration = timedelta(seconds=120)


class FeedHealthConfig(_Strict):
    """When `ops_channel` hears that a feed is failing or has gone silent."""

    failing_after: Duration = timedelta(hours=1)
    silent_factor: float = Field(5.0, gt=1)
    silent_min: Duration = timedelta(hours=6)
    min_history: int = Field(5, ge=2)


class RelevanceConfig(_Strict):
    """The learned second opinion after the rules: `model` is `bundled` (the model shipped
    with chipwatch) or a path (from `chipwatch learn`; relative to the config file's folder).
    Alerts scoring below the bar are dropped, or with `below: review` posted to
    `review_channel` only, never as parents in team channels. The bar is `threshold` when a
    rule of medium severity or more fires on the headline alone, else `summary_threshold`
    (defaults: the model's own)."""

    model: str = Field("bundled", min_length=1)
    threshold: float | None = Field(None, ge=0, le=1)
    summary_threshold: float | None = Field(None, ge=0, le=1)
    below: Literal["drop", "review"] = "drop"
    review_channel: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _review_needs_channel(self) -> RelevanceConfig:
        if self.below == "review" and not self.review_channel:
            raise ValueError("below: review needs a review_channel")
        return self


class ChipwatchConfig(_Strict):
    """The whole config file."""

    defaults: Defaults = Defaults()
    feeds: list[FeedConfig] = []
    terms: dict[str, list[str]] = {}
    rules: list[RuleConfig] = []
    routes: list[RouteConfig] = []
    slack: SlackConfig = SlackConfig()
    state: StateConfig = StateConfig()
    ha: HaConfig = HaConfig()
    fetch: FetchConfig = FetchConfig()
    dedup: DedupConfig = DedupConfig()
    metrics: MetricsConfig = MetricsConfig()
    feed_health: FeedHealthConfig = FeedHealthConfig()
    ops_channel: str | None = None
    escalate: EscalateConfig | None = None
    relevance: RelevanceConfig | None = None  # absent: no model, the rules alone decide
