"""The bundled config's `follow-up` tag: reports that name no new decision (explainers,
reactions, market moves, the rules as background) are tagged; reports of a decision are not.

Headlines written for the test, one per family; the dev stream's figures are in the README.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from bot.config import load_config
from bot.models import Match
from bot.rules import match

CONFIG = Path(__file__).resolve().parents[2] / "config" / "chipwatch.yaml"


@cache
def _match(title: str) -> Match | None:
    return match(load_config(CONFIG, lint=False).rules, title)


@pytest.mark.parametrize("title", [
    "Why Washington's chip export curbs may backfire on US toolmakers",      # question opener
    "Analysis: the loopholes in the new chip export controls",               # genre opener
    "Beijing slams Tokyo plan to restrict chip equipment exports",            # reaction verb
    "Korea urges US to ease chip export curbs on its China fabs",            # reaction verb
    "Chipmaker shares slide after new US export curbs",                       # market move
    "Startups rent cloud GPUs amid US chip export controls",                 # rules as background
    "Dutch chip curbs on ASML could cost billions in China sales",           # noun "curbs"
])
def test_commentary_families_are_follow_ups(title: str) -> None:
    found = _match(title)
    assert found is not None and "follow-up" in found.tags


@pytest.mark.parametrize("title", [
    "US bans exports of advanced AI chips to China amid security fears",
    "Japan restricts chipmaking tool exports as chip war deepens",
    "Netherlands to curb exports of ASML chip machines, minister says",
    "Commerce adds 36 Chinese chip firms to entity list",
    "China says it will restrict gallium and germanium exports",
    # A company reworking its product to get around the rules makes its own move.
    "GPU startup cuts its chip speeds to skirt US export controls",
])
def test_decisions_are_not_follow_ups(title: str) -> None:
    found = _match(title)
    assert found is not None and "follow-up" not in found.tags
