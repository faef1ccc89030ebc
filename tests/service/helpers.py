"""Helpers for the service tests: RSS documents, an in-process App, HTTP GETs, waiting."""

from __future__ import annotations

import io
import socket
import urllib.error
import urllib.request
from pathlib import Path

from bot.app import App, make_notifier
from bot.clock import Clock
from bot.config import load_config
from bot.config.live import LiveConfig
from bot.feeds.fetch import HttpFetcher
from bot.slack.notifier import ConsoleNotifier
from bot.store import SqliteStore

H200 = "China approves imports of Nvidia H200 chips"


def build_app(config_path: Path, clock: Clock, env: dict[str, str] | None = None) -> App:
    """An App on the real store and HTTP fetcher, with the given clock; console alerts
    unless `env` names a Slack token and URL."""
    config = load_config(config_path)
    db = SqliteStore.open(config.settings.state_path)
    notifier = make_notifier(config, env, False) if env else ConsoleNotifier(io.StringIO())
    fetcher = HttpFetcher(clock, config.settings.fetch.limits)
    return App(LiveConfig(config), db, fetcher, notifier, clock)


def get(url: str) -> tuple[int, str]:
    """GET a URL on loopback: (status, body), for error statuses too."""
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


