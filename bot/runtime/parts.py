"""What the runtime needs of a wired bot: a protocol, so tests can hand it any assembly."""

from __future__ import annotations

import threading
from typing import Protocol

from bot.clock import Clock
from bot.config.live import LiveConfig
from bot.deliver import Sender
from bot.escalate import Escalator
from bot.metrics import Metrics
from bot.poller import Poller
from bot.runtime.heartbeat import Heartbeat
from bot.runtime.leader import Leader
from bot.slack.interactions import Interactions
from bot.store.base import Store


class Parts(Protocol):
    """The parts of a configured bot that the runtime drives."""

    live: LiveConfig
    db: Store
    poller: Poller
    sender: Sender
    clock: Clock
    metrics: Metrics
    heartbeat: Heartbeat
    leader: Leader  # who may act: always this one on SQLite
    escalator: Escalator  # queues escalation posts once their parent can be linked
    interactions: Interactions | None  # Socket Mode (buttons, /chipwatch), when enabled
    stop: threading.Event  # set to stop the loop (SIGTERM, SIGINT)
    wake: threading.Event  # set when the outbox has something new for the sender
