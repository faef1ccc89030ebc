"""A body that is not a whole feed is a feed error: a truncated document (even when
feedparser salvages entries from it) and garbage; a feed with entries and a harmless bozo
(a stray XML declaration, a wrong declared encoding) stays ok. `status` never shows such a
feed as `ok`/`200` and says why it fails."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.feeds.parsepool import parse_body
from tests.conftest import FEEDS, run_cli, write_config
from tests.service.helpers import H200
from tests.support.feed_server import FeedServer
from tests.support.util import rss

NOW = datetime(2026, 1, 28, 12, 0, tzinfo=UTC)
WHOLE = rss([(H200, "https://news.example.com/1", NOW),
             ("US adds Chinese chip firms to the entity list", "https://news.example.com/2",
              NOW)])


def _parse(body: bytes) -> tuple[int, str | None]:
    parsed = parse_body("f", "F", body, "application/rss+xml", NOW)
    return len(parsed.items), parsed.problem


@pytest.mark.parametrize("cut", [len(WHOLE) - 3, WHOLE.index(b"entity"),
                                 WHOLE.index(b"</item>") + 7, 60])
def test_a_truncated_document_is_an_error_with_no_items(cut: int) -> None:
    items, problem = _parse(WHOLE[:cut])
    assert items == 0
    assert problem is not None and problem.startswith("truncated feed"), problem


def test_a_whole_document_and_harmless_bozos_stay_ok() -> None:
    assert _parse(WHOLE) == (2, None)
    # A blank line before the XML declaration; a feed declared utf-8 but in windows-1252.
    for name in ("itunes-keywords-astext.rss", "uolNoticias.rss"):
        items, problem = _parse((FEEDS / name).read_bytes())
        assert items > 0 and problem is None, (name, problem)


@pytest.mark.parametrize("body", [b"\x00\x01garbage \xff\xfe nothing here", b"{\"a\": 1}",
                                  b"<html><body>Service unavailable</body></html>"])
def test_garbage_is_an_error(body: bytes) -> None:
    items, problem = _parse(body)
    assert items == 0 and problem is not None and problem.startswith("not a feed")


def test_status_shows_bad_bodies_as_errors(tmp_path: Path, feed_server: FeedServer) -> None:
    feeds = {"whole": WHOLE, "cut": WHOLE[:WHOLE.index(b"entity")],
             "garbage": b"\x00\x01garbage \xff\xfe nothing here"}
    config = write_config(tmp_path, [{"name": n, "url": feed_server.serve(f"/{n}.rss", b)}
                                     for n, b in feeds.items()])
    ran = run_cli("run", "--once", "--config", str(config))
    assert ran.returncode == 1, ran.stderr  # two feeds failed
    assert "feed_error feed=cut" in ran.stderr and "truncated feed" in ran.stderr
    assert "feed_polled feed=cut" not in ran.stderr

    table = run_cli("status", "--config", str(config))
    rows = {line.split()[0]: line.split() for line in table.stdout.splitlines()[3:6]}
    assert rows["whole"][2:6] == ["ago", "200", "2", "0"], table.stdout  # success, items, errors
    # never a success; STATUS error (not 200); no items; one error
    assert rows["cut"][1:5] == ["-", "error", "0", "1"], table.stdout
    assert rows["garbage"][1:5] == ["-", "error", "0", "1"]
    assert "  cut: truncated feed (ends early: " in table.stdout
    assert "  garbage: not a feed (" in table.stdout
    assert "feeds: 3 total, 2 failing" in table.stdout

    data = json.loads(run_cli("status", "--json", "--config", str(config)).stdout)
    ok = {f["feed"]: f["ok"] for f in data["feeds"]}
    assert ok == {"whole": True, "cut": False, "garbage": False}
