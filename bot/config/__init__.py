"""Config: strict YAML loading (load), the schema, and compilation into runtime objects."""

from bot.config.compile import Config, load_config
from bot.config.load import DEFAULT_PATH, resolve_path
from bot.config.schema import ChipwatchConfig, parse_duration
from bot.models import FeedSpec

__all__ = [
    "DEFAULT_PATH",
    "ChipwatchConfig",
    "Config",
    "FeedSpec",
    "load_config",
    "parse_duration",
    "resolve_path",
]
