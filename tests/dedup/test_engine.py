"""StoryEngine: exact short-circuits, fuzzy joins, separation, window expiry, merges."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.dedup import DedupSettings, StoryEngine
from tests.dedup.helpers import item

H200_A = "China approves first imports of Nvidia's H200 AI chips, sources say"
H200_B = "Beijing clears Nvidia H200 purchases for three tech giants - report"
BANANA = "Chiquita and Fyffes merge to create world's largest banana company"


def test_first_item_starts_a_story_named_after_it() -> None:
    engine = StoryEngine()
    a = engine.assign(item("a", H200_A))
    assert (a.story_id, a.is_new, a.size, a.sources) == ("a", True, 1, 1)


def test_same_id_returns_its_story_without_growing_it() -> None:
    engine = StoryEngine()
    engine.assign(item("a", H200_A))
    again = engine.assign(item("a", "a totally different title", minutes=5))
    assert (again.story_id, again.is_new, again.size) == ("a", False, 1)


def test_same_normalised_url_joins_even_with_unrelated_title() -> None:
    engine = StoryEngine()
    engine.assign(item("a", H200_A, link="http://www.example.com/h200/?utm_source=rss"))
    b = engine.assign(item("b", "Completely other words here", source="Other",
                           link="https://www.example.com/h200#top"))
    assert (b.story_id, b.is_new, b.size, b.sources) == ("a", False, 2, 2)


def test_same_normalised_title_joins() -> None:
    engine = StoryEngine()
    engine.assign(item("a", "UPDATE 1-Bond default shakes China markets - Reuters"))
    b = engine.assign(item("b", "Bond default shakes China markets | CNBC", source="CNBC"))
    assert b.story_id == "a" and not b.is_new


def test_reworded_headline_joins_and_unrelated_one_does_not() -> None:
    engine = StoryEngine()
    engine.assign(item("a", H200_A, source="Reuters"))
    b = engine.assign(item("b", H200_B, source="SCMP", minutes=30))
    c = engine.assign(item("c", BANANA, source="AP", minutes=40))
    assert (b.story_id, b.is_new, b.sources) == ("a", False, 2)
    assert (c.story_id, c.is_new) == ("c", True)


def test_stories_that_share_only_common_words_stay_apart() -> None:
    engine = StoryEngine()
    a = engine.assign(item("a", "Apple releases iOS 7.1 update with CarPlay"))
    b = engine.assign(item("b", "Gas prices rise again in Ohio this week"))
    c = engine.assign(item("c", "Copper prices fall on weak China export data"))
    assert len({a.story_id, b.story_id, c.story_id}) == 3


def test_story_expires_after_the_window() -> None:
    engine = StoryEngine(DedupSettings(window=timedelta(hours=72)))
    engine.assign(item("a", H200_A))
    inside = engine.assign(item("b", H200_B, minutes=71 * 60))
    assert inside.story_id == "a"
    # 72h after the story's latest item it leaves the index: the next report starts anew.
    later = engine.assign(item("c", H200_A, minutes=(71 + 73) * 60, link="https://x.org/c"))
    assert (later.story_id, later.is_new) == ("c", True)
    assert engine.live_stories == 1


def test_expired_exact_keys_are_forgotten() -> None:
    engine = StoryEngine(DedupSettings(window=timedelta(hours=1)))
    engine.assign(item("a", H200_A, link="https://x.org/h200"))
    engine.assign(item("z", BANANA, minutes=120))
    again = engine.assign(item("b", "unrelated words", link="https://x.org/h200", minutes=121))
    assert again.is_new


def test_fragments_of_one_story_merge_when_a_bridge_arrives() -> None:
    engine = StoryEngine()
    a = engine.assign(item("a", "Chiquita to buy Fyffes in all-share deal"))
    b = engine.assign(item("b", "World's largest banana company is born", minutes=1))
    assert b.is_new  # nothing but "banana"-free words link b to a yet
    c = engine.assign(item("c", "Chiquita and Fyffes create world's largest banana company",
                          minutes=2))
    assert len(c.merged) == 1 and {c.story_id, *c.merged} == {a.story_id, b.story_id}
    d = engine.assign(item("d", "Largest banana company: Chiquita, Fyffes merge", minutes=3))
    # c bridged the two fragments: one story of four remains, under one of their ids.
    assert d.story_id in {a.story_id, b.story_id}
    assert d.size == 4
    assert engine.live_stories == 1


FOLLOWS = DedupSettings(window=timedelta(hours=72), follow_window=timedelta(days=30),
                        follow_tags=frozenset({"reaction"}), follow_threshold=0.05)
CURBS = "US imposes sweeping curbs on chip exports to China"
LATE_REACTION = "China chip curbs bite as Beijing weighs its response"


def test_follow_up_joins_a_story_past_the_window_and_others_do_not() -> None:
    engine = StoryEngine(FOLLOWS)
    engine.assign(item("a", CURBS))
    ten_days = 10 * 24 * 60
    tagged = replace(item("b", LATE_REACTION, minutes=ten_days), tags=frozenset({"reaction"}))
    assert engine.assign(tagged).story_id == "a"
    other = StoryEngine(FOLLOWS)
    other.assign(item("a", CURBS))
    assert other.assign(item("b", LATE_REACTION, minutes=ten_days)).is_new


def test_follow_ups_do_not_keep_a_story_open_to_new_reports() -> None:
    engine = StoryEngine(FOLLOWS)
    engine.assign(item("a", CURBS))
    for day in (2, 4, 6):
        follow = replace(item(f"f{day}", LATE_REACTION, minutes=day * 24 * 60,
                              link=f"https://x.org/f{day}"), tags=frozenset({"reaction"}))
        assert engine.assign(follow).story_id == "a"
    # A week after the last report a new report is a new development, however alike.
    again = engine.assign(item("n", "US widens sweeping curbs on chip exports to China",
                               minutes=7 * 24 * 60))
    assert again.is_new
