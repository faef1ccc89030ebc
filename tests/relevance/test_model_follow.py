"""A follow-up only the relevance model saw threads where it can and opens a story where it
cannot; one a rule tagged never opens one. Real story engine, real SQLite file."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from bot.dedup import DedupSettings
from bot.models import Item, Match, RuleHit, Severity
from bot.relevance import FOLLOW_TAG
from bot.store import SqliteStore
from bot.stories import make_stories

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
REPORT = Match((RuleHit("r", ("h200",)),), frozenset({"nvidia"}), Severity.HIGH)
RULE_FOLLOW = replace(REPORT, tags=REPORT.tags | {FOLLOW_TAG})
MODEL_FOLLOW = replace(RULE_FOLLOW, model_follow=True)


def _item(n: int, title: str) -> Item:
    return Item(f"wire-{n}", "wire", title, f"https://wire.example.com/{n}", "", T0, T0,
                "wire")


def test_model_follow_ups_thread_or_open_a_story_rule_follow_ups_only_thread(
        tmp_path: Path) -> None:
    db = SqliteStore.open(tmp_path / "state.db")
    settings = replace(DedupSettings(), follow_tags=frozenset({FOLLOW_TAG}),
                       follow_joins_only=True)
    stories = make_stories(settings, db)
    with db.tx():
        lone_rule = stories.assign(_item(1, "Analysts weigh what Dutch chip curbs mean"),
                                   RULE_FOLLOW)
        lone_model = stories.assign(_item(2, "Konoshchenok pleads not guilty to smuggling"),
                                    MODEL_FOLLOW)
        parent = stories.assign(_item(3, "China approves H200 imports for Alibaba"), REPORT)
        reply = stories.assign(_item(4, "What China's approval of H200 imports means for "
                                        "Alibaba"), MODEL_FOLLOW)
    assert lone_rule is None  # a rule's follow-up with nothing to follow is not posted
    assert lone_model is not None and lone_model[0] == "wire-2"  # a story of its own
    assert parent is not None and reply is not None and reply[0] == parent[0]
