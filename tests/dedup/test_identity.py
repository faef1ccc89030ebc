"""Story identity: founding reports, lifespan, and follow-ups that merge nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.dedup import DedupSettings, StoryEngine
from tests.dedup.helpers import item

DAY = 24 * 60
WTO = "China files WTO complaint against US chip export curbs"
WTO_2 = "Beijing takes US chip export curbs to the WTO in formal complaint"
# A report of the first story that also names a second development's words ...
BRIDGE = "Arm halts advanced chip design sales to China over WTO complaint and US curbs"
# ... and the second development, which shares nothing with the first story's founders but
# "China", "chip" and "curbs".
ARM = "Arm halts advanced chip design sales to China, Alibaba hit"


def _settings(**kw: object) -> DedupSettings:
    return replace(DedupSettings(join_threshold=0.18), **kw)  # type: ignore[arg-type]


def _story_of_third(settings: DedupSettings) -> bool:
    engine = StoryEngine(settings)
    engine.assign(item("a", WTO))
    engine.assign(item("b", WTO_2, minutes=60))
    assert engine.assign(item("c", BRIDGE, minutes=2 * DAY)).story_id == "a"
    return engine.assign(item("d", ARM, minutes=2 * DAY + 60)).story_id == "a"


def test_without_founding_a_story_drifts_through_its_latest_member() -> None:
    assert _story_of_third(_settings())


def test_with_founding_a_report_is_compared_with_the_founders_only() -> None:
    assert not _story_of_third(_settings(founding=timedelta(days=1)))


def test_founders_are_reports_of_the_first_span_not_follow_ups() -> None:
    s = _settings(founding=timedelta(days=1), follow_tags=frozenset({"f"}),
                  follow_window=timedelta(days=30))
    engine = StoryEngine(s)
    engine.assign(item("a", WTO))
    engine.assign(replace(item("f", BRIDGE, minutes=30), tags=frozenset({"f"})))
    engine.assign(item("b", WTO_2, minutes=60))
    engine.assign(item("late", WTO_2 + " again", minutes=3 * DAY, link="https://x.org/l"))
    story = engine._stories["a"]
    assert [m.item_id for m in story.founding_members] == ["a", "b"]
    assert story.founders.size == 2 and story.size == 4


def test_lifespan_closes_a_story_to_reports_however_busy() -> None:
    for lifespan, expect_new in ((None, False), (timedelta(days=7), True)):
        engine = StoryEngine(_settings(lifespan=lifespan))
        engine.assign(item("a", WTO))
        for day in range(1, 10):  # a report every day keeps it inside the window
            engine.assign(item(f"r{day}", WTO_2, minutes=day * DAY, link=f"https://x.org/{day}"))
        got = engine.assign(item("n", WTO_2 + " widened", minutes=10 * DAY))
        assert got.is_new is expect_new, lifespan


def test_a_follow_up_never_merges_two_stories() -> None:
    s = _settings(follow_tags=frozenset({"f"}), follow_window=timedelta(days=30),
                  join_threshold=0.6, follow_threshold=0.05, merge_probe=0.0,
                  merge_threshold=0.01)
    bridge = "China chip curbs: what the WTO complaint and Dutch export moves mean"
    for tags, merges in ((frozenset({"f"}), False), (frozenset(), True)):
        engine = StoryEngine(s)
        engine.assign(item("a", WTO))
        engine.assign(item("b", "Dutch restrict ASML chip machine exports to China", minutes=10))
        assert engine.live_stories == 2
        got = engine.assign(replace(item("f", bridge, minutes=20), tags=tags))
        assert got is not None and bool(got.merged) is merges, tags


WEIGHS = "Biden Team Weighs Fully Cutting Off Huawei From US Suppliers"
STOPS = "US stops licences for American companies to ship to Huawei"  # scores ~0.19 to WEIGHS


def _joins(settings: DedupSettings, minutes: float) -> bool:
    engine = StoryEngine(settings)
    engine.assign(item("a", WEIGHS))
    got = engine.assign(item("b", STOPS, minutes=minutes))
    return got is not None and got.story_id == "a"


def test_a_fresh_story_takes_reports_at_the_lower_bar_for_its_first_day_only() -> None:
    fresh = replace(DedupSettings(), join_threshold=0.22, fresh_span=timedelta(days=1),
                    fresh_threshold=0.18)
    assert _joins(fresh, minutes=120)  # the same day: worded otherwise, same development
    assert not _joins(fresh, minutes=2 * DAY)  # two days on: the domain's bar again
    assert not _joins(replace(fresh, fresh_span=timedelta(0)), minutes=120)  # off
