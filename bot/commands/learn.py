"""`chipwatch learn`: train the relevance model from labelled headlines and the team's marks.

Prints, for each labelled period, how a model trained without it scores it (the honest
figure), then writes the model fitted on everything asked for, with a card that says what it
was trained on and how it scored. The same inputs give the same file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bot.commands.common import EXIT_CONFIG, EXIT_FAIL, EXIT_OK, add_command, load
from bot.relevance.data import DataError, Labelled, examples, feedback, stream
from bot.relevance.features import EMBEDDER_NAME
from bot.relevance.judge import EMBEDDER, FOLLOW_TAG
from bot.relevance.model import to_json
from bot.relevance.train import (
    DEV_PENALTY,
    FOLLOW_BELOW,
    PENALTY,
    SUMMARY_THRESHOLD,
    THRESHOLD,
    Recipe,
    figures,
    train,
)


def register(sub: Any) -> None:
    p = add_command(sub, "learn", "train the relevance model from labelled headlines")
    p.add_argument("--stream", nargs=2, action="append", default=[],
                   metavar=("LABELS", "ARCHIVE"),
                   help="a labels TSV (id, label, development, note) and the archive its ids "
                        "come from; repeat for each period (named by the labels' folder)")
    p.add_argument("--feedback", action="append", default=[], metavar="TSV",
                   help="Not-relevant marks from `chipwatch feedback export` (repeatable)")
    p.add_argument("--no-examples", action="store_true",
                   help="leave out the rules' match examples")
    p.add_argument("--fit-on", metavar="NAMES",
                   help="comma-separated periods the written model is fitted on "
                        "(default: all); the others are only scored")
    p.add_argument("--penalty", type=float, default=PENALTY, help="L2 penalty")
    p.add_argument("--threshold", type=float, default=THRESHOLD,
                   help="relevance below which an alert a rule fires on from the headline "
                        "is dropped")
    p.add_argument("--summary-threshold", type=float, default=SUMMARY_THRESHOLD,
                   help="the same for an alert that rests on words of the summary")
    p.add_argument("--follow-below", type=float, default=FOLLOW_BELOW,
                   help="development probability below which a relevant item is a follow-up")
    p.add_argument("--dev-penalty", type=float, default=DEV_PENALTY,
                   help="L2 penalty of the development head")
    p.add_argument("--out", "-o", required=True, help="model file to write (JSON)")
    p.set_defaults(func=learn)


def _periods(pairs: list[list[str]]) -> dict[str, list[Labelled]]:
    out: dict[str, list[Labelled]] = {}
    for labels, archive in pairs:
        name = Path(labels).resolve().parent.name or labels
        out[name] = stream(Path(labels), Path(archive), name)
    return out


def _show(title: str, figs: dict[str, Any]) -> None:
    print(f"{title}: " + ", ".join(f"{k} {v}" for k, v in figs.items()))


def learn(args: argparse.Namespace) -> int:
    recipe = Recipe(args.penalty, args.threshold, args.summary_threshold, args.follow_below,
                    args.dev_penalty)
    try:
        periods = _periods(args.stream)
        extra = [row for path in args.feedback for row in feedback(Path(path))]
        if not args.no_examples:
            config = load(args, lint=False)
            extra += examples(config.raw.rules, sorted(set(config.raw.dedup.follow_tags)
                                                       | {FOLLOW_TAG}))
    except DataError as exc:
        print(f"learn: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    fit_on = args.fit_on.split(",") if args.fit_on else list(periods)
    unknown = [n for n in fit_on if n not in periods]
    if unknown or not (fit_on or extra):
        print(f"learn: --fit-on names {', '.join(unknown) or 'nothing'}; periods given: "
              f"{', '.join(periods) or 'none'}", file=sys.stderr)
        return EXIT_CONFIG
    held_out: dict[str, Any] = {}
    for name, rows in periods.items():
        others = [r for n in fit_on if n != name for r in periods[n]]
        if others:  # the examples and marks alone would make a poor judge of a period
            others += extra
            held_out[name] = figures(train(others, EMBEDDER, recipe), rows)
            _show(f"{name}, model trained without it", held_out[name])
    data = [r for n in fit_on for r in periods[n]] + extra
    model = train(data, EMBEDDER, recipe)
    in_sample = {n: figures(model, periods[n]) for n in fit_on}
    model.card = {
        "trained_on": {n: len(periods[n]) for n in fit_on} | {
            "feedback": sum(r.origin == "feedback" for r in extra),
            "examples": sum(r.origin == "examples" for r in extra)},
        "data_until": max((r.published for r in data if r.published), default=""),
        "embedder": EMBEDDER_NAME,
        "recipe": {"penalty": recipe.penalty, "threshold": recipe.threshold,
                   "summary_threshold": recipe.summary_threshold,
                   "follow_below": recipe.follow_below, "dev_penalty": recipe.dev_penalty},
        "held_out": held_out,
        "in_sample": in_sample,
    }
    for n, figs in in_sample.items():
        _show(f"{n}, in sample (proves nothing)", figs)
    try:
        Path(args.out).write_text(to_json(model), encoding="utf-8")
    except OSError as exc:
        print(f"learn: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
        return EXIT_FAIL
    print(f"wrote {args.out} ({len(data)} headlines)")
    return EXIT_OK
