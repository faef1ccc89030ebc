"""The Socket Mode answers file: acks kept across a new process, bounded by compaction,
private, and robust to a line cut short by a kill."""

from __future__ import annotations

import stat
from pathlib import Path

from bot.slack.answers import Answers, answers_path

MUTED = {"response_type": "ephemeral", "text": "Muted `us-entity-list` until 14:00 UTC."}


def test_answers_survive_a_new_process(tmp_path: Path) -> None:
    path = answers_path(tmp_path / "state" / "chipwatch.db")
    assert path.name == "chipwatch.slack-answers"
    first = Answers(path)
    first.keep("env-1", None)  # a button press: an empty ack
    first.keep("env-2", MUTED)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # command answers hold user text
    again = Answers(path)  # the next start
    assert again.get("env-1") == (True, None)
    assert again.get("env-2") == (True, MUTED)
    assert again.get("env-3") == (False, None)


def test_bounded_by_compaction_keeping_the_newest(tmp_path: Path) -> None:
    path, bound = tmp_path / "a.slack-answers", 20
    answers = Answers(path, bound=bound)
    for n in range(3 * bound + 7):
        answers.keep(f"env-{n}", {"text": f"answer {n}"})
        assert len(path.read_bytes().splitlines()) <= 2 * bound  # never grows past that
    again = Answers(path, bound=bound)
    newest = 3 * bound + 6
    assert again.get(f"env-{newest}") == (True, {"text": f"answer {newest}"})
    assert again.get(f"env-{newest - bound + 1}")[0]  # the last bound are all there
    assert again.get(f"env-{newest - bound}") == (False, None)  # older ones are gone
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not path.with_name(path.name + ".new").exists()


def test_a_line_cut_short_is_skipped_and_the_next_line_stays_whole(tmp_path: Path) -> None:
    path = tmp_path / "a.slack-answers"
    Answers(path).keep("env-1", MUTED)
    with open(path, "a", encoding="utf-8") as f:  # killed halfway through a write
        f.write('{"envelope_id":"env-2","ack":{"te')
    restarted = Answers(path)
    assert restarted.get("env-2") == (False, None)  # never fsynced, so never acknowledged
    restarted.keep("env-3", None)
    again = Answers(path)
    assert again.get("env-1") == (True, MUTED)
    assert again.get("env-3") == (True, None)
