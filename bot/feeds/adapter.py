"""feedparser's dicts in, frozen `Item`s out. Nothing after this stage imports feedparser."""

from __future__ import annotations

import calendar
import hashlib
import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from xml.sax import SAXParseException

import feedparser

from bot.dedup.normalize import normalize_url
from bot.models import Item
from bot.text import squash

MAX_TITLE = 1000
MAX_SUMMARY = 4000


@dataclass(frozen=True)
class ParsedFeed:
    """What one document yielded, plus why it may be partial."""

    entries: list[dict[str, Any]]
    title: str
    problem: str | None


class _TextOnly(HTMLParser):
    """Collects the text of an HTML fragment, dropping tags, scripts and styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("br", "p", "div", "li"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


# Markup the quick path below handles exactly as _TextOnly does: plain start and end tags.
# Anything else (comments, declarations, scripts, styles, a tag cut short) takes the parser.
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)\b[^<>]*?/?>")
_NOT_PLAIN_RE = re.compile(
    r"<(?!/?[a-zA-Z][a-zA-Z0-9]*\b[^<>]*>)|<!|<\?|<script|<style|<textarea|<title", re.I)
_BREAKS = frozenset(("br", "p", "div", "li"))


def _tag_text(match: re.Match[str]) -> str:
    return " " if not match.group(1) and match.group(2).lower() in _BREAKS else ""


def plain_text(fragment: str, limit: int) -> str:
    """HTML fragment → one line of plain text, entities decoded, at most `limit` chars."""
    if "<" in fragment or "&" in fragment:
        cut = fragment[: limit * 4]
        odd = _NOT_PLAIN_RE.search(cut)
        try:
            if odd is None:
                # The common case, several times faster than the parser and the same text
                # (checked on every title and summary of the 388,416-item dev archive).
                fragment = _quick(cut)
            elif _CUT_OFF_RE.fullmatch(cut, odd.start()):
                # Plain markup up to a tag that the end cut off (a truncated summary): the
                # parser reads that tag alone.
                fragment = _quick(cut[: odd.start()]) + _parsed(cut[odd.start():])
            else:
                fragment = _parsed(cut)
        except (AssertionError, ValueError):
            fragment = html.unescape(re.sub(r"<[^>]*>", " ", fragment))
    return squash(fragment)[:limit]


_CUT_OFF_RE = re.compile(r"</?[a-zA-Z][^<>]*")


def _quick(markup: str) -> str:
    text = _TAG_RE.sub(_tag_text, markup)
    return html.unescape(text) if "&" in text else text


def _parsed(markup: str) -> str:
    parser = _TextOnly()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


# A photo credit closing the text: "(Jane Doe/AFP via Getty Images)", "(STR / AFP)".
_CREDIT_RE = re.compile(r"\((?:[^()/]{1,60}/){1,3}[^()/]{1,60}\)$")


def summary_text(fragment: str, limit: int = MAX_SUMMARY) -> str:
    """A feed summary as plain text; empty when it is only a photo caption.

    Some feeds put the caption of the lead photo where the summary goes ("President Joe
    Biden holds a microchip as he speaks… (Saul Loeb/AFP via Getty Images)"): it describes
    a picture, often from another story, so its words must not decide what the item is about.
    """
    text = plain_text(fragment, limit)
    return "" if text.endswith(")") and _CREDIT_RE.search(text) else text


_ROOT_RE = re.compile(rb"<[A-Za-z_]")
_SUBSET_RE = re.compile(rb"<!DOCTYPE[^>\[]*\[", re.IGNORECASE)


def declares_entities(body: bytes) -> bool:
    """Whether the prolog declares entities (an internal DTD subset or `<!ENTITY`).

    Feeds never need them, and they are how billion-laughs and external-entity attacks
    work. feedparser strips only the declarations it recognises, line-anchored, and its
    loose parser expands the "safe" ones it keeps; expat caps amplification only at 100x
    a megabyte-sized threshold. Refusing the document outright bounds both.
    """
    # NULs dropped so UTF-16/32 documents are screened like UTF-8 (markup is ASCII).
    head = body.replace(b"\x00", b"")
    root = _ROOT_RE.search(head)
    prolog = head[: root.start()] if root else head
    return b"<!ENTITY" in prolog.upper() or _SUBSET_RE.search(prolog) is not None


def parse_document(body: bytes, content_type: str | None = None) -> ParsedFeed:
    """Parse feed bytes; a broken document yields what it can and says what was wrong."""
    if declares_entities(body):
        return ParsedFeed([], "", "refused: the DOCTYPE declares entities")
    headers = {"content-type": content_type} if content_type else None
    try:
        doc = feedparser.parse(body, response_headers=headers, sanitize_html=False,
                               resolve_relative_uris=False)
    except Exception as exc:  # feedparser promises not to raise; a bug there must not stop us
        return ParsedFeed([], "", f"parser failed: {type(exc).__name__}")
    problem = None
    why = doc.get("bozo_exception")
    if truncated(why):
        # Entries salvaged from a cut-off document may end mid-title: none are taken, and the
        # poll fails, so the next complete copy (validators did not move) brings them all.
        return ParsedFeed([], "", f"truncated feed (ends early: {why.getMessage()})")
    if doc.get("bozo"):
        # Other bozo reasons (a stray XML declaration, a wrong declared encoding, a bare `&`
        # the loose parser got past) are harmless when entries came out.
        kind = "malformed feed" if doc.entries else "not a feed"
        problem = f"{kind} ({type(why).__name__}: {str(why)[:120]})" if why else kind
    elif not doc.entries and not doc.get("version"):
        problem = "not a feed (no RSS/Atom root)"
    return ParsedFeed(list(doc.entries), str(doc.feed.get("title", "")), problem)


# expat's errors for a document that ends before its root element does: it was cut off.
_EOF_ERRORS = ("no element found", "unclosed token", "unclosed CDATA section",
               "partial character")


def truncated(exc: object) -> bool:
    """Whether feedparser's bozo exception says the document ends too early."""
    return isinstance(exc, SAXParseException) and exc.getMessage() in _EOF_ERRORS


def _when(entry: dict[str, Any], fallback: datetime) -> datetime:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        # dict.get: feedparser's own .get maps missing keys to others, with a warning.
        parsed = dict.get(entry, key)
        if parsed:
            try:
                return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
            except (OverflowError, ValueError, TypeError):
                continue
    return fallback


def _link(entry: dict[str, Any]) -> str:
    link = str(entry.get("link") or "").strip()
    return link if link.lower().startswith(("http://", "https://")) else ""


def stable_id(feed: str, guid: str, link: str, title: str, summary: str) -> str:
    """guid (scoped to the feed unless globally unique), else normalized link, else a hash."""
    guid = guid.strip()
    if guid:
        return guid if re.match(r"^[a-z][a-z0-9+.-]*:", guid, re.I) else f"{feed}#{guid}"
    if link:
        return normalize_url(link)
    digest = hashlib.sha256(f"{title}\n{summary}".encode()).hexdigest()[:24]
    return f"{feed}#sha:{digest}"


def to_items(
    feed: str, source: str, entries: list[dict[str, Any]], fetched: datetime
) -> list[Item]:
    """Adapt feedparser entries to Items, skipping entries with neither title nor link."""
    items = []
    for entry in entries:
        title = plain_text(str(entry.get("title") or ""), MAX_TITLE)
        summary = summary_text(str(entry.get("summary") or entry.get("description") or ""))
        link = _link(entry)
        if not title and not link:
            continue
        guid = str(entry.get("id") or entry.get("guid") or "")
        items.append(Item(
            id=stable_id(feed, guid, link, title, summary), feed=feed,
            title=title or link, link=link, summary=summary,
            published=_when(entry, fetched), fetched=fetched, source=source,
        ))
    return items
