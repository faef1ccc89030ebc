"""Block Kit messages for alerts, thread replies and parent updates; feed text made inert.

Everything that came from a feed is escaped (`&`, `<`, `>`), stripped of invisible and
direction-changing characters, and cut to Block Kit's limits, so a headline cannot ping
`@channel`, disguise a link or break the message. Links are posted only when http(s).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.models import Item, Match
from bot.text import visible

HEADER_MAX = 150
SNIPPET_MAX = 300
URL_MAX = 3000
# A link in mrkdwn, `<url|label>`; only we write them (feed text has `<` escaped).
_MRKDWN_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]*)>")
SEVERITY_EMOJI = {
    "info": "\N{INFORMATION SOURCE}", "low": "🔹", "medium": "🔸", "high": "🔶", "critical": "🚨",
}


@dataclass(frozen=True)
class Message:
    """What goes to Slack: the notification `text` fallback and the blocks."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


def escape(text: str) -> str:
    """Feed text → safe for Slack: visible characters only, `& < >` escaped, one line."""
    text = " ".join(visible(text).split())
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    """At most `limit` characters, ending in an ellipsis when cut, never mid-entity."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    amp = head.rfind("&")
    if amp != -1 and ";" not in head[amp:]:
        head = head[:amp]
    return head.rstrip() + "…"


def safe_link(url: str) -> str | None:
    """The URL if it is a plain http(s) link within limits, else None."""
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")) or len(url) > URL_MAX:
        return None
    if any(c in url for c in " <>|\"'") or url != visible(url):
        return None
    return url


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC")


def alert_message(item: Item, match: Match) -> Message:
    """The parent alert for a story: header, snippet, context line, link button."""
    severity = match.severity.label
    title = cut(escape(item.title) or "(untitled)", HEADER_MAX)
    tags = " ".join(f"#{t}" for t in sorted(match.tags))
    context = f"*{escape(item.source)}* · {_stamp(item.published)} · {severity.upper()} · {tags}"
    if match.relevance is not None:
        context += f" · relevance {match.relevance:.2f}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": False}},
    ]
    if item.summary:
        blocks.append({"type": "section", "text": {
            "type": "plain_text", "text": cut(escape(item.summary), SNIPPET_MAX),
            "emoji": False}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    link = safe_link(item.link)
    if link:
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "text": {"type": "plain_text", "text": "Read the article"},
            "url": link, "action_id": "open_article"}]})
    emoji = SEVERITY_EMOJI.get(severity, "")
    text = cut(f"{emoji} [{severity}] {escape(item.title)} ({escape(item.source)})", 3000)
    return Message(text, blocks)


def reply_message(item: Item) -> Message:
    """A short thread reply for a later report of the same story: source, headline, link.

    The headline goes in plain text, never mrkdwn, so `*bold*`, `~strike~` or a backtick
    in a feed's title shows as typed; only the link we built ourselves is mrkdwn."""
    line = cut(f"{escape(item.source)}: {escape(item.title)}", 500)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "plain_text", "text": line, "emoji": False}}]
    link = safe_link(item.link)
    if link:
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"<{link.replace('&', '&amp;')}|Read the article>",
             "verbatim": True}]})
    return Message(cut(f"{escape(item.source)}: {escape(item.title)}", 3000), blocks)


def with_sources(message: Message, sources: int, latest: datetime) -> Message:
    """The parent's own blocks with the "N sources · latest HH:MM" line set (for chat.update)."""
    line = {"type": "context", "elements": [{
        "type": "mrkdwn", "text": f"{sources} sources · latest {latest:%H:%M} UTC"}]}
    blocks = [b for b in message.blocks if not _is_sources_line(b)]
    at = next((i for i, b in enumerate(blocks) if b.get("type") == "actions"), len(blocks))
    return Message(message.text, [*blocks[:at], line, *blocks[at:]])


def _is_sources_line(block: dict[str, Any]) -> bool:
    elements = block.get("elements") or [{}]
    return block.get("type") == "context" and " sources · latest " in str(
        elements[0].get("text", ""))


def console_text(message: Message) -> str:
    """A readable rendering of a message for the terminal: Slack's escapes undone, our own
    bold markers dropped, our `<url|label>` links shown as the bare URL (the text was made
    control-free by `escape` on the way in)."""
    lines = []
    for b in message.blocks:
        if b["type"] in ("header", "section"):
            lines.append(b["text"]["text"])
        elif b["type"] == "context":
            lines.extend(_MRKDWN_LINK.sub(r"\1", e.get("text", "")).replace("*", "")
                         for e in b["elements"])
        elif b["type"] == "actions":
            lines.extend(e.get("url", "") for e in b["elements"])
    return html.unescape("\n".join(lines) if lines else message.text)
