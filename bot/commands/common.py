"""What every subcommand shares: the --config option, loading, exit codes."""

from __future__ import annotations

import argparse
from typing import Any

from bot.config import Config, load_config, resolve_path

EXIT_OK, EXIT_FAIL, EXIT_CONFIG = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


def add_command(sub: Any, name: str, help_: str) -> argparse.ArgumentParser:
    """A subparser with the shared --config option."""
    p: argparse.ArgumentParser = sub.add_parser(name, help=help_, description=help_)
    p.add_argument("--config", help="config file (default: $CHIPWATCH_CONFIG, "
                                    "else config/chipwatch.yaml)")
    return p


def load(args: argparse.Namespace, *, lint: bool = True) -> Config:
    """The config named by --config / $CHIPWATCH_CONFIG / the default; raises ConfigError.
    `lint=False` skips warnings and rule examples (errors are always checked)."""
    return load_config(resolve_path(args.config), lint=lint)
