"""The running config: one reference that a reload swaps and every reader follows."""

from __future__ import annotations

import threading

from bot.config.compile import Config


class LiveConfig:
    """Holds the config a running bot uses. Readers take `current` once per unit of work (a
    poll batch, a drain), so a swap mid-way never mixes two configs in one decision."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._lock = threading.Lock()

    @property
    def current(self) -> Config:
        return self._config

    def swap(self, new: Config) -> Config:
        """Make `new` current; returns the config it replaced."""
        with self._lock:
            old, self._config = self._config, new
        return old
