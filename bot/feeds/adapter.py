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

import feedparser

from bot.dedup.normalize import normalize_url
from bot.models import Item

MAX_TITLE = 1000
MAX_SUMMARY = 4000
_SPACE_RE = re.compile(r"\s+")


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


def plain_text(fragment: str, limit: int) -> str:
    """HTML fragment → one line of plain text, entities decoded, at most `limit` chars."""
    if "<" in fragment or "&" in fragment:
        parser = _TextOnly()
        try:
            parser.feed(fragment[: limit * 4])
            parser.close()
            fragment = "".join(parser.parts)
        except (AssertionError, ValueError):
            fragment = html.unescape(re.sub(r"<[^>]*>", " ", fragment))
    return _SPACE_RE.sub(" ", fragment).strip()[:limit]


def parse_document(body: bytes, content_type: str | None = None) -> ParsedFeed:
    """Parse feed bytes; a broken document yields what it can and says what was wrong."""
    headers = {"content-type": content_type} if content_type else None
    try:
        doc = feedparser.parse(body, response_headers=headers, sanitize_html=False,
                               resolve_relative_uris=False)
    except Exception as exc:  # feedparser promises not to raise; a bug there must not stop us
        return ParsedFeed([], "", f"parser failed: {type(exc).__name__}")
    problem = None
    if doc.get("bozo") and not doc.entries:
        why = doc.get("bozo_exception")
        problem = f"not a feed ({type(why).__name__}: {str(why)[:120]})" if why else "not a feed"
    elif not doc.entries and not doc.get("version"):
        problem = "not a feed (no RSS/Atom root)"
    return ParsedFeed(list(doc.entries), str(doc.feed.get("title", "")), problem)


def _when(entry: dict[str, Any], fallback: datetime) -> datetime:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
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
        summary = plain_text(str(entry.get("summary") or entry.get("description") or ""),
                             MAX_SUMMARY)
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
