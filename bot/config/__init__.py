"""Config: strict YAML loading (load), the schema, and compilation into runtime objects."""

from bot.config.compile import Config, load_config
from bot.config.duration import format_duration, parse_duration
from bot.config.load import DEFAULT_PATH, resolve_path
from bot.config.schema import ChipwatchConfig
from bot.models import FeedSpec

__all__ = [
    "DEFAULT_PATH",
    "ChipwatchConfig",
    "Config",
    "FeedSpec",
    "format_duration",
    "load_config",
    "parse_duration",
    "resolve_path",
]
