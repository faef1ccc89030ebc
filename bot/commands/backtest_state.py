"""`backtest --state FILE`: the backtest writes a real SQLite state file, as `run` would,
with retention (`state.keep`), so the size a state reaches after months of feeds can be
measured before a bot runs that long.

The archive's feeds stand in for the config's: unless `state.keep` is set, it is 90 days or
the floor dedup and `defaults.max_age` need (a config's own feeds, and their max_age, are not
polled). The file must not exist: a backtest never writes over a bot's state.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.config import Config
from bot.config.duration import format_duration
from bot.config.settings import retention_keep, unmatched_keep
from bot.store.base import Store
from bot.store.sqlite import SqliteStore


def add_option(p: Any) -> None:
    p.add_argument("--state", type=Path, metavar="FILE",
                   help="write a real state file (a new one) as run would, with retention "
                        "(state.keep): its size is what a bot on these feeds would keep")


def keep_for(config: Config) -> tuple[timedelta, timedelta]:
    """`state.keep` and `state.keep_unmatched` as a backtest applies them: the archive's
    feeds, not the config's."""
    raw = config.raw.model_copy(update={"feeds": []})
    return retention_keep(raw)[0], unmatched_keep(raw)


def open_state(args: argparse.Namespace) -> Store | None:
    """The new state file `--state` names, or None without the option; refuses a file that
    exists (raises ValueError naming it)."""
    path: Path | None = args.state
    if path is None:
        return None
    if path.exists():
        raise ValueError(f"{path} exists: --state writes a new state file, never over one")
    return SqliteStore.open(path)


def sizes_line(sizes: dict[str, int], keep: tuple[timedelta, timedelta], path: Path) -> str:
    """The state's size at the end of each month of the archive, and at the end."""
    mb = " ".join(f"{month} {size / 1e6:.1f}" for month, size in sizes.items())
    end = path.stat().st_size / 1e6 if path.exists() else 0.0
    return (f"state: {path} {end:.1f} MB after the archive (state.keep "
            f"{format_duration(keep[0])}, keep_unmatched {format_duration(keep[1])}); MB at "
            f"each month's end: {mb}")
