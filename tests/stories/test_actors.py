"""Another government's decision is another development: the story engine keeps a decision
out of a story whose first report names other governments; reactions still join."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.dedup import DedupSettings, StoryEngine, StoryInput
from bot.dedup.actors import actors, apart
from bot.dedup.normalize import normalize_title

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _who(title: str) -> frozenset[str]:
    return actors(normalize_title(title))


def test_actors_are_the_governments_named_but_china() -> None:
    assert _who("U.S. adds Chinese chipmakers to entity list") == {"us"}
    assert _who("Hong Kong customs seize smuggled GPUs bound for China") == {"hong kong"}
    assert _who("Japan, Netherlands to join US in chip curbs on China") == {
        "japan", "netherlands", "us"}
    assert _who("China restricts gallium exports") == frozenset()
    assert apart(_who("Singapore seizes GPUs"), _who("Hong Kong seizes GPUs"))
    assert not apart(_who("Dutch join US curbs"), _who("US wins Dutch support for curbs"))
    assert not apart(_who("China bans Micron"), _who("US responds to Micron ban"))


def _item(n: int, title: str, hours: int, decision: bool) -> StoryInput:
    return StoryInput(f"i{n}", title, f"https://s{n}.example.com/{n}", f"s{n}",
                      T0 + timedelta(hours=hours), decision=decision)


def test_a_decision_of_another_government_starts_its_own_story() -> None:
    on = replace(DedupSettings(), distinct_actors=True)
    for settings, split in ((on, True), (DedupSettings(), False)):
        engine = StoryEngine(settings)
        hk = engine.assign(_item(1, "Hong Kong customs seize smuggled Nvidia GPUs", 0, True))
        sg = engine.assign(_item(2, "Singapore customs seize smuggled Nvidia GPUs", 30, True))
        assert hk is not None and sg is not None
        assert (sg.story_id != hk.story_id) is split


def test_a_reaction_naming_another_government_still_joins() -> None:
    engine = StoryEngine(replace(DedupSettings(), distinct_actors=True))
    first = engine.assign(_item(1, "Hong Kong customs seize smuggled Nvidia GPUs", 0, True))
    reaction = engine.assign(_item(2, "Singapore customs seize smuggled Nvidia GPUs", 30,
                                   False))
    assert first is not None and reaction is not None
    assert reaction.story_id == first.story_id
