"""What every subcommand shares: the --config option, loading, exit codes."""

from __future__ import annotations

import argparse
from typing import Any

from bot.config import Config, load_config, resolve_path

EXIT_OK, EXIT_FAIL, EXIT_CONFIG = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C
EXIT_PIPE = 141  # 128 + SIGPIPE: the reader of stdout went away (`| head`), as for `yes | head`


def add_global_options(p: argparse.ArgumentParser, *, defaults: bool = True) -> None:
    """--log-level and --log-format: on the main parser with their defaults, and again on
    each command without them (`chipwatch run --log-level debug` then overrides)."""
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                   default="info" if defaults else argparse.SUPPRESS)
    p.add_argument("--log-format", choices=["human", "json"],
                   default="human" if defaults else argparse.SUPPRESS)


def add_command(sub: Any, name: str, help_: str) -> argparse.ArgumentParser:
    """A subparser with the shared --config option (and the global options)."""
    p: argparse.ArgumentParser = sub.add_parser(name, help=help_, description=help_)
    add_global_options(p, defaults=False)
    p.add_argument("--config", help="config file (default: $CHIPWATCH_CONFIG, "
                                    "else config/chipwatch.yaml)")
    return p


def validated(args: argparse.Namespace, *, remember: bool = True) -> Config:
    """The config after the one validation `check` and reload also apply (`bot.config.
    validate`, remembered for unchanged bytes), its warnings attached; raises ConfigError
    listing every error."""
    from bot.config.validate import validate_remembered

    return validate_remembered(resolve_path(args.config), remember=remember).config_or_raise()


def load(args: argparse.Namespace, *, lint: bool = True) -> Config:
    """The config named by --config / $CHIPWATCH_CONFIG / the default; raises ConfigError.
    `lint=False` skips warnings and rule examples (errors are always checked)."""
    return load_config(resolve_path(args.config), lint=lint)
