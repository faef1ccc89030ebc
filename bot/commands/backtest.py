"""`chipwatch backtest ARCHIVE`: replay an archive of feed items through the real stages,
with the archive's times as the clock and an in-memory store; never posts, never writes."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.clock import FakeClock
from bot.commands import backtest_state
from bot.commands.common import EXIT_FAIL, EXIT_OK, add_command, load

if TYPE_CHECKING:  # the command's machinery loads when it runs, not with every command
    from bot.archive import Archived, Progress
    from bot.runtime.backtest import Sent
    from bot.scoring import Labels

log = logging.getLogger("chipwatch")


def register(sub: Any) -> None:
    p = add_command(sub, "backtest", "replay an archive of feed items (JSON lines, .gz or "
                                     "not) through rules, stories and routes; never posts")
    p.add_argument("archive", type=Path, help="JSON lines: id, title, summary, link, "
                                              "published, feed")
    p.add_argument("--rules", type=Path, help="a candidate rules file (as for replay)")
    p.add_argument("--from", dest="start", type=_when, help="first day (ISO date or time)")
    p.add_argument("--to", dest="end", type=_when, help="last day, inclusive")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per message that would be posted, in order")
    p.add_argument("--first-only", action="store_true",
                   help="with --json: each item once, at its first parent or reply (what "
                        "score_alerts.py counts)")
    p.add_argument("--labels", type=Path, metavar="LABELS.tsv",
                   help="score the alerts against labelled developments (id, label, "
                        "development id, note): recall, buried, extra and false parents")
    p.add_argument("--score-json", type=Path, metavar="FILE",
                   help="with --labels: write the scores as one JSON object to FILE "
                        "('-': stdout, after the report; with --json, to stderr)")
    backtest_state.add_option(p)
    p.set_defaults(func=backtest)


def _when(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO date like 2023-01-31, got {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _window(items: Iterator[Archived], start: datetime | None,
            end: datetime | None) -> Iterator[Archived]:
    for item in items:
        if start is not None and item.published < start:
            continue
        if end is not None and item.published.date() > end.date():
            return  # an archive is in publication order
        yield item


class Bar:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""

    def __init__(self, progress: Progress) -> None:
        self.progress, self.on = progress, sys.stderr.isatty()
        self.next = 0.0

    def tick(self) -> None:
        now = time.monotonic()
        if not self.on or now < self.next:
            return
        self.next = now + 0.25
        share = self.progress.done / (self.progress.total or 1)
        sys.stderr.write(f"\r[{'#' * int(share * 30):<30}] {share:4.0%}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.on:
            sys.stderr.write("\r" + " " * 40 + "\r")


def backtest(args: argparse.Namespace) -> int:
    from bot.app import App
    from bot.archive import Progress, read_archive
    from bot.commands.backtest_report import render
    from bot.commands.replay import load_candidate
    from bot.runtime.backtest import Backtest, Recorder

    config = load(args, lint=False)
    if args.rules:
        config = load_candidate(config, args.rules)
    if not args.archive.exists():
        print(f"no archive at {args.archive}", file=sys.stderr)
        return EXIT_FAIL
    labels = _labels(args)
    if isinstance(labels, str):
        print(labels, file=sys.stderr)
        return EXIT_FAIL
    quiet = {"chipwatch": logging.WARNING, "chipwatch.health": logging.ERROR}
    if logging.getLogger().level == logging.INFO:
        # One line per poll of every archived feed would drown the report, and an archive's
        # feeds go quiet overnight: their health notices are noise here.
        for name, level in quiet.items():
            logging.getLogger(name).setLevel(level)
    clock = FakeClock(datetime(2000, 1, 1, tzinfo=UTC))
    recorder = Recorder()
    try:
        state = backtest_state.open_state(args)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAIL
    app = App.for_backtest(config, clock, recorder, state)
    progress = Progress()
    bar = Bar(progress)
    seen = 0

    def counted(items: Iterator[Archived]) -> Iterator[Archived]:
        nonlocal seen
        for seen, item in enumerate(items, start=1):
            if seen == 1:
                clock.advance(item.published - clock.now())
            elif seen % 2000 == 0:
                bar.tick()
            yield item

    def bad(line: int, reason: str) -> None:
        log.warning("archive_bad_line file=%s line=%d error=%s", args.archive, line, reason)

    started = time.monotonic()
    sent: list[Sent] = []
    printed: set[str] = set()
    items = read_archive(args.archive, progress, bad)
    if args.start or args.end:
        items = _window(items, args.start, args.end)
    items = counted(items)
    run = Backtest(app, recorder, clock)
    run.keep = backtest_state.keep_for(config)
    try:
        for message in run.run(items):
            if args.json:
                _print_json(message, printed, args.first_only)
            sent.append(message)
    finally:
        bar.close()
        app.close()
        for name in quiet:
            logging.getLogger(name).setLevel(logging.NOTSET)
    seconds = time.monotonic() - started
    if not args.json:
        print(render(sent, seen, progress.bad, seconds))
    if labels is not None:
        _print_score(args, labels, sent)
    if state is not None:
        print(backtest_state.sizes_line(run.sizes, run.keep, args.state),
              file=sys.stderr if args.json else sys.stdout)
    else:
        log.info("backtest_done items=%d messages=%d seconds=%.1f", seen, len(sent), seconds)
    return EXIT_OK


def _print_json(message: Sent, printed: set[str], first_only: bool) -> None:
    if first_only and not _first(message, printed):
        return
    print(json.dumps(message.as_json()))


def _first(message: Sent, printed: set[str]) -> bool:
    """Whether `message` is its item's first parent or reply (and remember the item)."""
    if message.kind not in ("parent", "reply") or message.item in printed:
        return False
    printed.add(message.item or "")
    return True


def _labels(args: argparse.Namespace) -> Labels | str | None:
    """The --labels file read, None without the option, or why it cannot be used."""
    from bot.scoring import read_labels

    if args.score_json and not args.labels:
        return "--score-json needs --labels"
    if args.json and args.score_json and str(args.score_json) == "-":
        return "--score-json - would mix the scores into --json's messages: name a file"
    if args.labels is None:
        return None
    try:
        labels = read_labels(args.labels)
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot read labels {args.labels}: {exc}"
    if not labels.label:
        return f"no labels in {args.labels} (expected: id TAB label TAB development id)"
    return labels


def _print_score(args: argparse.Namespace, labels: Labels, sent: list[Sent]) -> None:
    """The scores of the alerts as `--first-only` lists them: text after the report (not
    with --json: its stdout is the messages), JSON where --score-json says."""
    from bot.scoring import Alert, render, score

    printed: set[str] = set()
    alerts = [Alert(m.item or "", m.story or "", m.title, m.relevance)
              for m in sent if _first(m, printed)]
    result = score(labels, alerts)
    if not args.json:
        print(f"\nscores against {args.labels} ({len(labels.label):,} labelled items; "
              "each item once, at its first alert):")
        print("\n".join("  " + line for line in render(result)))
    if args.score_json is None:
        return
    text = json.dumps(result.as_json(), ensure_ascii=False)
    if str(args.score_json) == "-":
        print(text)
    else:
        args.score_json.write_text(text + "\n", encoding="utf-8")
