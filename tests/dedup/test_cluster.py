"""run_cluster: JSON lines in, one {"id", "story"} line out per item, bad lines reported."""

from __future__ import annotations

import io
import json

from bot.dedup import DedupSettings, run_cluster


def _line(id: str, title: str, minute: int = 0, **extra: str) -> str:
    rec = {"id": id, "title": title, "link": f"https://example.com/{id}", "source": "S",
           "published": f"2026-01-28T09:{minute:02d}:00+00:00", **extra}
    return json.dumps(rec)


def test_writes_one_line_per_item_in_input_order() -> None:
    lines = [
        _line("1", "Chiquita and Fyffes merge to create largest banana company"),
        _line("2", "Gas prices rise again across Ohio", 1),
        _line("3", "Chiquita, Fyffes merge to form world's largest banana company", 2,
              summary="The banana giants agreed an all-share merger."),
    ]
    out, err = io.StringIO(), io.StringIO()
    assert run_cluster(lines, out, DedupSettings(), err) == 0
    got = [json.loads(x) for x in out.getvalue().splitlines()]
    assert got == [{"id": "1", "story": "1"}, {"id": "2", "story": "2"},
                   {"id": "3", "story": "1"}]
    assert err.getvalue() == ""


def test_bad_lines_are_reported_by_number_skipped_and_fail_the_run() -> None:
    lines = [
        _line("1", "Chiquita and Fyffes merge"),
        "{not json",
        json.dumps({"id": "x", "title": "no link"}),
        _line("4", "Bad time", published="yesterday"),
        "",
        _line("6", "Gas prices rise again", 3),
    ]
    out, err = io.StringIO(), io.StringIO()
    assert run_cluster(lines, out, DedupSettings(), err) == 1
    assert [json.loads(x)["id"] for x in out.getvalue().splitlines()] == ["1", "6"]
    errors = err.getvalue().splitlines()
    assert len(errors) == 3
    assert errors[0].startswith("line 2:")
    assert errors[1].startswith("line 3:") and "link" in errors[1]
    assert errors[2].startswith("line 4:") and "yesterday" in errors[2]


def test_naive_times_are_taken_as_utc() -> None:
    out = io.StringIO()
    line = json.dumps({"id": "1", "title": "t", "link": "l", "source": "s",
                       "published": "2026-01-28T09:00:00"})
    assert run_cluster([line], out, DedupSettings(), io.StringIO()) == 0


def test_final_mode_follows_merges() -> None:
    lines = [
        _line("1", "Chiquita to buy Fyffes in all-share deal"),
        _line("2", "World's largest banana company is born", 1),
        _line("3", "Chiquita and Fyffes create world's largest banana company", 2),
    ]
    arrival, final = io.StringIO(), io.StringIO()
    assert run_cluster(lines, arrival, DedupSettings(), io.StringIO()) == 0
    assert run_cluster(lines, final, DedupSettings(), io.StringIO(), final=True) == 0
    on_arrival = [json.loads(x)["story"] for x in arrival.getvalue().splitlines()]
    at_end = [json.loads(x)["story"] for x in final.getvalue().splitlines()]
    assert on_arrival[:2] == ["1", "2"]
    assert len(set(at_end)) == 1 and at_end[0] in {"1", "2"}
