"""normalize_url and normalize_title: the spellings exact dedup relies on."""

from __future__ import annotations

import pytest

from bot.dedup import normalize_title, normalize_url
from bot.dedup.tokens import content_stems, slug_words


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("HTTP://Example.COM/a/b/", "https://example.com/a/b"),
        ("https://example.com:443/x", "https://example.com/x"),
        ("http://example.com:80/x", "https://example.com/x"),
        ("https://example.com/x#comments", "https://example.com/x"),
        ("https://example.com/x?utm_source=rss&utm_medium=feed&id=7", "https://example.com/x?id=7"),
        ("https://example.com/x?fbclid=abc&gclid=1&mc_cid=2&mc_eid=3", "https://example.com/x"),
        ("https://example.com/x?b=2&a=1", "https://example.com/x?a=1&b=2"),
    ],
)
def test_url_variants_normalise_alike(a: str, b: str) -> None:
    assert normalize_url(a) == normalize_url(b)


def test_url_keeps_what_identifies_the_page() -> None:
    assert normalize_url("https://example.com:8443/x") == "https://example.com:8443/x"
    assert normalize_url("https://example.com/a") != normalize_url("https://example.com/b")
    assert normalize_url("https://example.com/x?id=1") != normalize_url("https://example.com/x?id=2")
    assert normalize_url("https://example.com/Case") == "https://example.com/Case"
    assert normalize_url("") == ""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("UPDATE 2-China approves Nvidia H200 imports - Reuters",
         "china approves nvidia h200 imports"),
        ("EXCLUSIVE-Beijing clears H200 purchases | CNBC", "beijing clears h200 purchases"),
        ("WRAPUP 1-Markets slide on chip curbs", "markets slide on chip curbs"),
        ("\u201cChina\u2019s\u201d chip ban: what it means \u2014 The Verge",
         "china chip ban what it means"),
        ("  Apple sues   Samsung!!  ", "apple sues samsung"),
    ],
)
def test_title_normalisation(raw: str, expected: str) -> None:
    assert normalize_title(raw) == expected


def test_title_keeps_a_tail_that_is_not_a_source() -> None:
    # Too little would be left before the dash for the tail to be a source name.
    assert normalize_title("Fed hikes - and markets shrug") == "fed hikes and markets shrug"


def test_content_stems_drop_stop_words_and_fold_plurals() -> None:
    assert content_stems("The volcanoes of Antarctica say 2 things") == [
        "volcano", "antarctica", "thing",
    ]
    assert "chiquita" in content_stems("ChiquitaFyffes merger")


def test_slug_words_take_the_wordiest_path_segment() -> None:
    link = "http://www.example.com/news/2014/03/10/chiquita-fyffes-to-merge-294436.html"
    assert slug_words(link) == ["chiquita", "fyffes", "to", "merge"]  # long ids dropped
    assert slug_words("https://example.com/article/12345") == []


@pytest.mark.parametrize("url", [
    "https://e.com/a?b=2&a=1", "http://E.com/x/?utm_source=rss&id=3", "https://e.com/?x=",
    "https://e.com/p?a=1&&b=2", "https://e.com/p?a", "https://e.com/p?fbclid=1",
    "https://e.com/p?UTM_x=1&z=%20", "https://e.com:443/p?q=a+b", "https://e.com/p#frag",
    "HTTPS://News.Example.COM/2026/01/28/h200/?utm_medium=rss&ref=home",
    "https://e.com/p?b=1\n&a=2", "https://e.com/p?utm=_x&ut=1",
])
def test_the_quick_path_gives_what_the_full_parse_gives(url: str) -> None:
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.port not in (None, 443, 80):
        host = f"{host}:{parts.port}"
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                   if not k.lower().startswith("utm_") and k.lower() != "fbclid")
    expected = urlunsplit(("https", host, parts.path.rstrip("/"), urlencode(query), ""))
    assert normalize_url(url) == expected


def test_the_ascii_table_blanks_what_the_regexes_blank() -> None:
    from bot.dedup.normalize import unpunctuated, unpunctuated_slowly
    from bot.text import squash

    every_ascii = "".join(map(chr, range(128)))
    texts = [every_ascii, every_ascii[::-1], "don't \"quote\" `me`", "a_b-c.d,e!f?g(h)",
             "u.s. chip-export ban: what's next? (analysis)", "h200 / h20 -- 50% up"]
    for text in texts:
        assert squash(unpunctuated(text)) == squash(unpunctuated_slowly(text)), text
    assert squash(unpunctuated("don't \"quote\" me_now")) == "dont quote me now"
