"""`state.keep` and `state.keep_unmatched`: defaults, floors, and the errors `check` gives."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import load_config
from bot.errors import ConfigError
from tests.conftest import write_config

FEED = {"name": "wire", "url": "https://wire.example.com/rss"}
DEFAULTS = {"interval": "5m", "max_age": "1d", "jitter": "0s"}


def _load(tmp_path: Path, state: dict[str, str],
          feed: dict[str, str] = FEED) -> tuple[timedelta, timedelta]:
    path = write_config(tmp_path, [feed], defaults=DEFAULTS,
                        state={"path": str(tmp_path / "s.db"), **state})
    settings = load_config(path, lint=False).settings
    return settings.keep, settings.keep_unmatched


def test_defaults_and_what_raises_them(tmp_path: Path) -> None:
    assert _load(tmp_path, {}) == (timedelta(days=90), timedelta(days=7))
    # A feed that alerts items up to a year old: both reach its max_age.
    long = {**FEED, "max_age": "365d"}
    assert _load(tmp_path, {}, long) == (timedelta(days=365), timedelta(days=365))
    assert _load(tmp_path, {"keep": "120d", "keep_unmatched": "7d"}) == (
        timedelta(days=120), timedelta(days=7))
    # Items no rule fired on need to outlive max_age only (1d here), not a week.
    assert _load(tmp_path, {"keep_unmatched": "2d"})[1] == timedelta(days=2)


@pytest.mark.parametrize(("state", "feed", "message"), [
    ({"keep": "10d"}, FEED, "state.keep: 10d is shorter than dedup.follow_window (30d)"),
    ({"keep": "60d"}, {**FEED, "max_age": "70d"},
     "state.keep: 60d is shorter than feed 'wire' max_age (70d)"),
    ({"keep_unmatched": "1d"}, {**FEED, "max_age": "2d"},
     "state.keep_unmatched: 1d is shorter than feed 'wire' max_age (2d)"),
    ({"keep_unmatched": "100d"}, FEED,
     "state.keep_unmatched: 100d is longer than state.keep (90d)"),
    ({"keep_for_ever": "1d"}, FEED, "state.keep_for_ever"),
])
def test_what_check_refuses(tmp_path: Path, state: dict[str, str], feed: dict[str, str],
                            message: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, state, feed)
    assert message in str(err.value), str(err.value)
