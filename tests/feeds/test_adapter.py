"""The feedparser adapter on real captured feeds: items, stable ids, clean text, dates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.feeds import parse_document, to_items
from bot.feeds.adapter import plain_text, stable_id, summary_text
from tests.conftest import FEEDS

NOW = datetime(2026, 1, 28, 12, 0, tzinfo=UTC)
# Real captures → how many items each must yield (entries with a title or link).
EXPECTED = {
    "atom-customfields.atom": 15, "content-encoded.rss": 7, "craigslist.rss": 25,
    "encoding.rss": 40, "feedburner.atom": 25, "giantbomb-podcast.rss": 730,
    "guardian.rss": 55, "heise.atom": 15, "heraldsun.rss": 2, "incomplete-fields.atom": 0,
    "missing-fields.atom": 0, "reddit.rss": 24, "rss-1.rss": 69, "uolNoticias.rss": 15,
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_feeds_parse(name: str) -> None:
    doc = parse_document((FEEDS / name).read_bytes())
    items = to_items("f", "Source", doc.entries, NOW)
    assert len(items) == EXPECTED[name]
    assert len({i.id for i in items}) == len(items)  # ids are unique within a feed
    for item in items:
        assert item.title and "<" not in item.summary[:0] + item.title.replace("<-", "")
        assert item.published.tzinfo is not None
        assert not item.link or item.link.startswith(("http://", "https://"))


def test_item_fields_from_the_guardian() -> None:
    doc = parse_document((FEEDS / "guardian.rss").read_bytes())
    first = to_items("guardian", "The Guardian", doc.entries, NOW)[0]
    assert first.title.startswith("Trump State of the Union address promised unity")
    assert first.id.startswith("https://www.theguardian.com/")
    assert first.published.year == 2018 and first.source == "The Guardian"
    assert "<p>" not in first.summary and "&amp;" not in first.summary


def test_encodings_survive() -> None:
    doc = parse_document((FEEDS / "encoding.rss").read_bytes())
    titles = [i.title for i in to_items("jn", "JN", doc.entries, NOW)]
    assert "Mãe de utente é a nova presidente da Raríssimas" in titles


@pytest.mark.parametrize("body", [b"", b"\x00\xff garbage \x89PNG", b"<html><body>hi</body></html>",
                                  b"<rss><channel><item><title>cut off"])
def test_broken_documents_never_raise(body: bytes) -> None:
    doc = parse_document(body)
    items = to_items("f", "F", doc.entries, NOW)
    assert doc.problem is not None or items


def test_missing_dates_fall_back_to_fetch_time() -> None:
    body = b'<rss version="2.0"><channel><item><title>x</title></item></channel></rss>'
    [item] = to_items("f", "F", parse_document(body).entries, NOW)
    assert item.published == NOW and item.id.startswith("f#sha:")


def test_stable_id_fallbacks() -> None:
    assert stable_id("f", "urn:uuid:1", "", "t", "") == "urn:uuid:1"
    assert stable_id("f", "42", "", "t", "") == "f#42"  # bare guids are scoped to the feed
    assert stable_id("f", "", "https://X.com/a/?utm_source=rss", "t", "") == "https://x.com/a"
    assert stable_id("f", "", "", "t", "s") == stable_id("f", "", "", "t", "s")


def test_plain_text_strips_html_and_scripts() -> None:
    assert plain_text("<p>A &amp; B</p><script>evil()</script> <b>C</b>", 100) == "A & B C"
    assert len(plain_text("x " * 5000, 300)) == 300


def test_photo_caption_summary_is_dropped() -> None:
    caption = ("A trader holds a chip wafer at a fair in Shanghai on March 1, 2021. "
               "(Jane Roe/AFP via Getty Images)")
    assert summary_text(caption) == ""
    assert summary_text("<p>Workers at a plant. (STR / AFP)</p>") == ""
    kept = "The US added 36 Chinese firms to its trade blacklist (the Entity List) on Friday."
    assert summary_text(kept) == kept
    assert summary_text("Prices rose 3% (year on year) in March") != ""


def test_archive_items_drop_caption_summaries() -> None:
    from bot.archive import to_record
    record = to_record({"id": "1", "title": "Arms sale approved", "link": "https://x.test/a",
                        "published": "2023-01-01T00:00:00Z", "feed": "https://x.test/rss",
                        "summary": "Biden holds a microchip. (Saul Loeb/AFP via Getty Images)"})
    assert record.summary == ""
    assert record.polled(record.published).text == "Arms sale approved"


@pytest.mark.parametrize("fragment", [
    "US <b>bans</b> chip exports<br>to China &amp; Russia",
    '<p>Nvidia&#8217;s <a href="https://e.com/?a=1&amp;b=2">H20</a></p><div>more</div>',
    "<li>one</li><li>two</li> &lt;b&gt; stays text",
    "<!-- a comment --> text <script>var x = '<b>';</script> after",
    "<style>p {color: red}</style>kept <P>upper</P>",
    "cut short <a href=\"https://e.com",
    "<p>Chips &amp; more</p> <p>Comments URL: <a href=\"https://e.com/?a=1&amp;b",
    "<b>bold</b> then a cut <script src=\"x.js",
    "cut end </p",
    "a < b and c > d &nbsp; e",
])
def test_the_quick_path_reads_markup_as_the_parser_does(fragment: str) -> None:
    from bot.feeds.adapter import _TextOnly

    parser = _TextOnly()
    parser.feed(fragment)
    parser.close()
    expected = " ".join("".join(parser.parts).split())
    assert plain_text(fragment, 1000) == expected
