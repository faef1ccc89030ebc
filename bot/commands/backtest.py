"""`chipwatch backtest ARCHIVE`: replay an archive of feed items through the real stages,
with the archive's times as the clock and an in-memory store; never posts, never writes."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.commands import backtest_state
from bot.commands.common import EXIT_FAIL, EXIT_OK, add_command, load

if TYPE_CHECKING:  # the command's machinery loads when it runs, not with every command
    from bot.commands.backtest_run import Outcome
    from bot.runtime.backtest import Sent
    from bot.scoring import Labels, Score

log = logging.getLogger("chipwatch")


def register(sub: Any) -> None:
    p = add_command(sub, "backtest", "replay an archive of feed items (JSON lines, .gz or "
                                     "not) through rules, stories and routes; never posts")
    p.add_argument("archive", type=Path, help="JSON lines: id, title, summary, link, "
                                              "published, feed (or source)")
    p.add_argument("--rules", type=Path, help="a candidate rules file (as for replay); the "
                                              "report compares it with the current rules")
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
                        "('-': stdout, not with --json)")
    p.add_argument("--html", type=Path, metavar="REPORT.html",
                   help="also write a self-contained HTML report (opens offline)")
    backtest_state.add_option(p)
    p.set_defaults(func=backtest)


def _when(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO date like 2023-01-31, got {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _refused(args: argparse.Namespace) -> str | None:
    """Why these options cannot run together, or None."""
    if not args.archive.exists():
        return f"no archive at {args.archive}"
    if args.first_only and not args.json:
        return "--first-only shapes --json's output: add --json (the text report and " \
               "--labels already count each item once)"
    if args.start and args.end and args.start.date() > args.end.date():
        return f"--from {args.start:%Y-%m-%d} is after --to {args.end:%Y-%m-%d}: no day left"
    if args.score_json and not args.labels:
        return "--score-json needs --labels"
    if args.json and args.score_json and str(args.score_json) == "-":
        return "--score-json - would mix the scores into --json's messages: name a file"
    return None


def backtest(args: argparse.Namespace) -> int:
    from bot.commands.backtest_run import replay
    from bot.commands.replay import load_candidate

    current = load(args, lint=False)
    config = load_candidate(current, args.rules) if args.rules else current
    refused = _refused(args)
    labels = None if refused else _labels(args)
    if refused or isinstance(labels, str):
        print(refused or labels, file=sys.stderr)
        return EXIT_FAIL
    try:
        state = backtest_state.open_state(args)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAIL
    printed: set[str] = set()

    def emit(message: Sent) -> None:
        if not args.first_only or _first(message, printed):
            print(json.dumps(message.as_json()))

    keep = labels.development.keys() if labels else ()
    out = replay(config, args.archive, args.start, args.end, state, keep,
                 emit if args.json else None)
    if out.seen == 0:
        print(_nothing_read(args, out.bad), file=sys.stderr)
        return EXIT_FAIL
    base = None
    if args.rules and (args.html or not args.json):
        # The comparison: the same archive through the current rules.
        base = replay(current, args.archive, args.start, args.end)
    score = _score(labels, out.sent) if labels else None
    _report(args, out, base, score, len(labels.label) if labels else 0)
    if args.html:
        _write_html(args, out, base, labels, score, config)
    if state is not None:
        print(backtest_state.sizes_line(out.sizes, out.keep or backtest_state.keep_for(config),
                                        args.state),
              file=sys.stderr if args.json else sys.stdout)
    else:
        log.info("backtest_done items=%d messages=%d seconds=%.1f", out.seen, len(out.sent),
                 out.seconds)
    return EXIT_OK


def _nothing_read(args: argparse.Namespace, bad: int) -> str:
    if args.start or args.end:
        span = f"{args.start:%Y-%m-%d}" if args.start else "the start"
        span += f" to {args.end:%Y-%m-%d}" if args.end else " on"
        return (f"no items in {args.archive} from {span}"
                + (f" ({bad} bad lines skipped)" if bad else "") + ": nothing to backtest")
    if bad:
        return f"every line of {args.archive} was bad ({bad} skipped): nothing to backtest"
    return f"{args.archive} holds no items: nothing to backtest"


def _report(args: argparse.Namespace, out: Outcome, base: Outcome | None,
            score: Score | None, labelled: int) -> None:
    """The text report (not with --json), then the scores where asked."""
    from bot.commands.backtest_compare import compare, render_comparison
    from bot.commands.backtest_report import render
    from bot.scoring import render as render_score

    if not args.json:
        print(render(out.sent, out.seen, out.bad, out.seconds,
                     [t for t in (out.first, out.last) if t is not None]))
        if base is not None:
            print("\n" + "\n".join(render_comparison(compare(base.sent, out.sent))))
    if score is not None and not args.json:
        print(f"\nscores against {args.labels} ({labelled:,} labelled items; each item "
              "once, at its first alert):")
        print("\n".join("  " + line for line in render_score(score)))
    if score is not None and args.score_json is not None:
        text = json.dumps(score.as_json(), ensure_ascii=False)
        if str(args.score_json) == "-":
            print(text)
        else:
            args.score_json.write_text(text + "\n", encoding="utf-8")


def _write_html(args: argparse.Namespace, out: Outcome, base: Outcome | None,
                labels: Labels | None, score: Score | None, config: Any) -> None:
    import time

    from bot.commands.backtest_html import Report, write

    started = time.monotonic()
    report = Report(out=out, base=base, labels=labels, score=score, config=config,
                    archive=str(args.archive), candidate=str(args.rules or ""))
    size = write(args.html, report)
    print(f"html report: {args.html} ({size / 1024:,.0f} KiB in "
          f"{time.monotonic() - started:.1f} s)",
          file=sys.stderr if args.json else sys.stdout)


def _first(message: Sent, printed: set[str]) -> bool:
    """Whether `message` is its item's first parent or reply (and remember the item)."""
    if message.kind not in ("parent", "reply") or message.item in printed:
        return False
    printed.add(message.item or "")
    return True


def first_alerts(sent: list[Sent]) -> list[Sent]:
    """Each alerted item once, at its first parent or reply (what `--first-only` prints)."""
    printed: set[str] = set()
    return [m for m in sent if _first(m, printed)]


def _labels(args: argparse.Namespace) -> Labels | str | None:
    """The --labels file read, None without the option, or why it cannot be used."""
    from bot.scoring import read_labels

    if args.labels is None:
        return None
    try:
        labels = read_labels(args.labels)
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot read labels {args.labels}: {exc}"
    if not labels.label:
        return f"no labels in {args.labels} (expected: id TAB label TAB development id)"
    return labels


def _score(labels: Labels, sent: list[Sent]) -> Score:
    from bot.scoring import Alert, score

    return score(labels, [Alert(m.item or "", m.story or "", m.title, m.relevance)
                          for m in first_alerts(sent)])
