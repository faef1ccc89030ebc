"""`chipwatch cluster`: JSON-lines items in, `{"id", "story"}` lines out, in input order."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any, TextIO
from urllib.parse import urlsplit

from bot.clock import parse_utc
from bot.dedup.engine import StoryEngine
from bot.dedup.settings import DedupSettings, StoryInput

_REQUIRED = ("id", "title", "link", "source", "published")


class BadItem(ValueError):
    """A line that is not a usable item; the message says why."""


def parse_item(line: str) -> StoryInput:
    """One JSON line to a `StoryInput`; naive timestamps are taken as UTC."""
    try:
        raw: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadItem(f"not JSON ({exc.msg})") from exc
    if not isinstance(raw, dict):
        raise BadItem("not a JSON object")
    if "source" not in raw and isinstance(raw.get("feed"), str):
        # One archive format with `backtest`: an item may name its feed instead.
        raw = {**raw, "source": urlsplit(raw["feed"]).hostname or raw["feed"]}
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise BadItem(f"missing field(s): {', '.join(missing)}")
    summary = raw.get("summary") or ""
    fields = [raw[k] for k in _REQUIRED]
    if not all(isinstance(v, str | int) for v in fields) or not isinstance(summary, str):
        raise BadItem("fields must be strings")
    try:
        published = parse_utc(str(raw["published"]))
    except ValueError as exc:
        raise BadItem(f"bad published time {raw['published']!r}") from exc
    return StoryInput(
        id=str(raw["id"]), title=str(raw["title"]), link=str(raw["link"]),
        source=str(raw["source"]), published=published, summary=summary,
    )


def run_cluster(
    lines: Iterable[str], out: TextIO, settings: DedupSettings, err: TextIO | None = None,
    *, final: bool = False,
) -> int:
    """Assign each item line to a story and write `{"id", "story"}` for it, in input order.

    By default each line says the story the item joined on arrival (what the bot alerted).
    With `final`, lines are written at the end and follow later merges, so an item that
    started a fragment reports the story the fragment was folded into.
    A malformed line gets one error line on `err` (stderr by default) naming its line number
    and is skipped; the run goes on and returns 1 at the end, else 0.
    """
    errors = sys.stderr if err is None else err
    engine = StoryEngine(settings)
    status = 0
    arrived: list[tuple[str, str]] = []
    folded: dict[str, str] = {}  # merged story -> the story it went into
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = parse_item(line)
        except BadItem as exc:
            errors.write(f"line {number}: skipped: {exc}\n")
            status = 1
            continue
        assignment = engine.assign(item)
        if assignment is None:  # a follow-up with nothing to follow (never without tags)
            continue
        if final:
            arrived.append((item.id, assignment.story_id))
            folded.update(dict.fromkeys(assignment.merged, assignment.story_id))
        else:
            out.write(json.dumps({"id": item.id, "story": assignment.story_id}) + "\n")
    for item_id, story_id in arrived:
        out.write(json.dumps({"id": item_id, "story": _resolve(folded, story_id)}) + "\n")
    return status


def _resolve(folded: dict[str, str], story_id: str) -> str:
    """Follow merges to the surviving story."""
    seen = {story_id}
    while story_id in folded and folded[story_id] not in seen:
        story_id = folded[story_id]
        seen.add(story_id)
    return story_id


def main() -> None:
    """Run on stdin/stdout with default settings (`python -m bot.dedup [--final]`)."""
    sys.exit(run_cluster(sys.stdin, sys.stdout, DedupSettings(), final="--final" in sys.argv))


if __name__ == "__main__":
    main()
