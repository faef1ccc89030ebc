"""`backtest --html`: a self-contained report, escaped, opened in real headless Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import FIXTURES, write_config
from tests.support import chromium

ARCHIVE = FIXTURES / "archive" / "small.jsonl"
# Entities, as a feed would carry them: the archive's clean-up makes them the characters.
HOSTILE_TITLE = ('China approves Nvidia H200 imports &lt;script&gt;window.pwned=1&lt;/script&gt;'
                 '&lt;img src=x onerror="window.pwned=2"&gt;')


def _hostile_archive(tmp_path: Path) -> Path:
    """The small archive plus a report whose title carries script and whose link is
    `javascript:`; it joins the H200 story."""
    lines = ARCHIVE.read_text().splitlines()
    lines.insert(3, json.dumps({
        "id": "evil", "title": HOSTILE_TITLE, "summary": "<script>alert(1)</script>",
        "link": "javascript:window.pwned=3", "published": "2026-01-28T09:30:00+00:00",
        "feed": "https://evil.example.com/rss"}))
    archive = tmp_path / "hostile.jsonl"
    archive.write_text("\n".join(lines) + "\n")
    return archive


def _labels(tmp_path: Path) -> Path:
    labels = tmp_path / "labels.tsv"
    labels.write_text("a1\tdev\tH200\t\na3\tdev\tH200\t\na2\tneg\t\t\na4\tneg\t\t\n"
                      "a6\tdev\tRUMOUR\t\n")
    return labels


def _report(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    config = write_config(tmp_path, [])
    html = tmp_path / "report.html"
    assert main(["backtest", "--config", str(config), str(_hostile_archive(tmp_path)),
                 "--html", str(html), *extra]) == 0
    assert f"html report: {html}" in capsys.readouterr().out
    return html.read_text()


def test_report_is_self_contained_and_inert(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    page = _report(tmp_path, capsys)
    assert "<script" not in page and "javascript:" not in page.replace(
        "javascript:window.pwned", "")  # the hostile link's text is never an href
    assert 'href="javascript' not in page
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page
    assert not re.search(r"(src|href)=\"(https?:)?//(?!wire|evil)", page)  # nothing fetched
    assert page.count("<svg") >= 1 and "<details>" in page
    assert 'href="https://wire-a.example.com/h200"' in page


def test_labels_show_missed_and_false_parents_with_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = _report(tmp_path, capsys, "--labels", str(_labels(tmp_path)))
    assert "Missed developments (1)" in page and "RUMOUR" in page
    # The rumour is vetoed by the rule's `none` list: a near miss, with the reason.
    assert "near misses: china-nvidia-imports" in page and "rumor" in page
    assert "False parents (1)" in page and "US adds Chinese chip firms" in page


def test_candidate_side_by_side(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text("rules:\n  - {id: weather, tags: [nvidia], all: [[sunny]]}\n")
    config = write_config(tmp_path, [])
    html = tmp_path / "report.html"
    assert main(["backtest", "--config", str(config), str(ARCHIVE), "--rules", str(candidate),
                 "--html", str(html)]) == 0
    out = capsys.readouterr().out
    assert "against the current rules: parents" in out and "NEW parents to review (1):" in out
    page = html.read_text()
    assert "Stories that appear (new parents to review) (1)" in page
    assert "Weather: sunny spells" in page and "Stories that vanish (" in page


@pytest.mark.slow
@pytest.mark.skipif(chromium.find() is None,
                    reason="Debian's chromium is not installed (apt-get install chromium; "
                           ".ci/run installs it)")
def test_report_renders_in_headless_chromium(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "report.html"
    _report(tmp_path, capsys, "--labels", str(_labels(tmp_path)))
    binary = chromium.find()
    assert binary
    browser = chromium.Browser(binary)
    try:
        browser.open(page.as_uri())
        counts = browser.evaluate(
            "JSON.stringify({svg: document.querySelectorAll('svg.chart').length,"
            " bars: document.querySelectorAll('svg.chart rect.bar').length,"
            " stories: document.querySelectorAll('li.story').length,"
            " scripts: document.scripts.length,"
            " jsLinks: [...document.links].filter(a => a.protocol !== 'https:'"
            "  && a.protocol !== 'http:').length,"
            " pwned: typeof window.pwned,"
            " chartWidth: document.querySelector('svg.chart').getBoundingClientRect().width,"
            " chartHeight: document.querySelector('svg.chart').getBoundingClientRect().height,"
            " title: [...document.querySelectorAll('li.story b')].map(b => b.textContent)"
            "  .join('|')})")
        got = json.loads(counts)
        assert got["svg"] >= 2 and got["bars"] >= 2  # one chart per channel, bars drawn
        assert got["stories"] >= 2 and got["chartWidth"] > 40 and got["chartHeight"] > 100
        assert got["scripts"] == 0 and got["jsLinks"] == 0
        assert got["pwned"] == "undefined"  # the feed's script never ran
        assert "<script>" in got["title"] or "<script>" in browser.evaluate(
            "document.body.textContent")  # shown as text
        assert browser.errors() == []
    finally:
        browser.close()


def test_relevance_is_shown_where_the_item_has_one() -> None:
    from datetime import UTC, datetime

    from bot.commands.backtest_html import Report, render
    from bot.commands.backtest_run import Outcome
    from bot.runtime.backtest import Sent

    at = datetime(2026, 1, 28, 9, tzinfo=UTC)
    scored = Sent(at, "parent", "#c", "k1", "s1", "i1", "Scored <b>", ("r",), ("t",), "high",
                  0.8712, "https://n.example.com/1", "Wire")
    plain = Sent(at, "parent", "#c", "k2", "s2", "i2", "Unscored", ("r",), (), "low",
                 None, "ftp://n.example.com/2", "Wire")
    assert scored.as_json()["relevance"] == 0.8712 and "relevance" not in plain.as_json()
    page = render(Report(Outcome(sent=[scored, plain], seen=2, first=at, last=at), None,
                         None, None, None, "a.jsonl"))
    assert "relevance 0.87" in page and "Scored &lt;b&gt;" in page
    assert 'href="ftp:' not in page and "Unscored" in page  # a non-http(s) link is text
