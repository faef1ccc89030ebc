"""One exception tree for chipwatch.

    ChipwatchError
    ├── ConfigError          the config file is unreadable or invalid (carries every problem)
    ├── FetchError           a feed could not be fetched (names the feed and the reason)
    ├── DeliveryError        Slack refused or could not be reached (flags: code, ambiguous)
    │   └── PermanentDeliveryError   retrying will not help (channel_not_found, invalid_blocks…)
    │       └── CredentialsError     the token itself is refused: all sending stops
    └── StoreError           the state database is unusable
        ├── StateInUse       another `chipwatch run` holds the state (names its pid)
        └── StateWriteError  a write could not land (a full disk, an I/O error): nothing
                             committed; it lasts until a later write commits

Messages never carry the Slack token: `redact` scrubs anything token-shaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN_RE = re.compile(r"xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+")


def redact(text: str) -> str:
    """Replace anything that looks like a Slack token with a placeholder."""
    return _TOKEN_RE.sub("xox?-[redacted]", text)


class ChipwatchError(Exception):
    """Base of every error chipwatch raises on purpose."""

    def __str__(self) -> str:
        return redact(super().__str__())


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config file: where, which field, what."""

    file: str
    line: int | None
    field: str
    message: str
    level: str = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}" if self.level == "error" else (
            f"{where}: warning:{field} {self.message}"
        )


class ConfigError(ChipwatchError):
    """The config is invalid; `problems` lists every error found, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class FetchError(ChipwatchError):
    """A feed could not be fetched."""


class DeliveryError(ChipwatchError):
    """A message could not be delivered to Slack; it stays in the outbox and is retried.

    The notifier that raises it says what it means, so nobody reads the message text: `code`
    is Slack's error (None when Slack never answered), `ambiguous` that Slack may have taken
    the message anyway (no answer, a timeout, a 5xx), `retry_after` the wait Slack asked for,
    and the class attribute `permanent` whether a retry can help.
    """

    permanent = False

    def __init__(self, message: str, *, code: str | None = None,
                 retry_after: float | None = None, ambiguous: bool = False) -> None:
        self.code = code
        self.retry_after = retry_after
        self.ambiguous = ambiguous
        super().__init__(message)


class PermanentDeliveryError(DeliveryError):
    """Slack refused a message for a reason retrying will not fix; it goes to dead letters."""

    permanent = True


class CredentialsError(PermanentDeliveryError):
    """Slack refused the token itself (invalid_auth, token_revoked…): no message can go, so
    the sender stops sending and keeps every row pending until the token is fixed."""


class StoreError(ChipwatchError):
    """The state database cannot be opened or migrated."""


class StateWriteError(StoreError):
    """The state refused a write it would take on a healthy disk (SQLite's `database or disk
    is full`, an I/O error, a read-only file): the transaction rolled back whole."""


class StateInUse(StoreError):
    """Another running bot holds the state: two bots on one state would send every alert
    twice, so the second refuses to start."""
