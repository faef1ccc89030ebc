"""`feedback export --kept` end to end: a real run posts to the fake Slack, a reader presses
Not relevant over the real Socket Mode client, the export reads the real state file, and
`chipwatch learn --feedback` trains on it (marks as negatives, kept alerts as weak positives).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.relevance.data import KEPT_WEIGHT, MARK_WEIGHT, feedback
from bot.slack.buttons import NOT_RELEVANT
from tests.relevance.test_relevance import _labelled
from tests.slack.conftest import ENTITY, H200, USER, TwoWay
from tests.support.fake_socket import button

pytestmark = pytest.mark.slow  # Socket Mode end to end over a real websocket on loopback


def _mark_not_relevant(w: TwoWay, channel: str) -> None:
    """Press Not relevant on the H200 parent in `channel`; the mark is stored before the ack."""
    parent = w.parent(channel)
    value = next(e.get("value", "") for b in parent["blocks"]
                 if b.get("block_id") == "chipwatch_actions" for e in b["elements"])
    eid, ack, _ = w.send("interactive", button(USER, w.slack.state.channel_id(channel),
                                               parent["ts"], NOT_RELEVANT, value))
    assert ack == {"envelope_id": eid}


def _export(config: Path, out: Path, *options: str) -> list[dict[str, str]]:
    assert main(["feedback", "export", "--config", str(config), "-o", str(out),
                 *options]) == 0
    with out.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_kept_alerts_are_exported_beside_the_marks_and_learn_takes_them(
    two_way: TwoWay, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    w = two_way
    # The H200 story and the entity-list story; a reader marks H200 in one channel (which
    # covers its story everywhere); a later report of H200 is a reply, never kept.
    w.start({"wire-a": H200[:1], "wire-d": [ENTITY]})
    _mark_not_relevant(w, "#chip-firehose")
    w.start({"wire-a": H200[:1], "wire-b": H200[1:2], "wire-d": [ENTITY]}, socket=False)
    assert w.rows("SELECT COUNT(*) FROM outbox WHERE kind = 'reply' AND state = 'sent'") == [
        (2,)]
    w.stop()
    config, tsv = w.tmp / "chipwatch.yaml", tmp_path / "feedback.tsv"

    rows = _export(config, tsv)  # marks only, as before, now with their mark
    assert [(r["title"], r["mark"], r["user"]) for r in rows] == [
        (H200[0][0], "not-relevant", USER)]

    rows = _export(config, tsv, "--kept", "--settled", "0s")
    assert [(r["title"], r["mark"]) for r in rows] == [
        (H200[0][0], "not-relevant"), (ENTITY[0], "kept")]  # in time order: posted, marked
    kept = rows[1]
    assert kept["user"] == "" and kept["link"] == ENTITY[1]
    assert set(kept["channel"].split(",")) == {"#policy", "#chip-firehose"}
    assert kept["rules"] and kept["item_id"] and kept["marked_at"].startswith("2026-01-28")
    err = capsys.readouterr().err
    assert "1 marks, 1 kept alerts (posted over 0s ago, no mark)" in err

    # Not settled yet: posted less than 100 years ago, so nothing is kept.
    assert [r["mark"] for r in _export(config, tsv, "--kept", "--settled", "36500d")] == [
        "not-relevant"]
    assert main(["feedback", "export", "--config", str(config), "--settled", "1d"]) == 2
    assert "--settled applies to --kept" in capsys.readouterr().err

    # The reader learn uses: the mark a negative, the kept alert a weak positive.
    _export(config, tsv, "--kept", "--settled", "0s")
    read = {r.title: (r.label, r.weight) for r in feedback(tsv)}
    assert read == {H200[0][0]: ("neg", MARK_WEIGHT), ENTITY[0]: ("dev", KEPT_WEIGHT)}
    labels, archive = _labelled(tmp_path)
    model = tmp_path / "model.json"
    assert main(["learn", "--stream", str(labels), str(archive), "--feedback", str(tsv),
                 "--no-examples", "-o", str(model)]) == 0
    card = json.loads(model.read_text(encoding="utf-8"))["card"]
    assert card["trained_on"]["feedback"] == 2
