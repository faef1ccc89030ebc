"""`backtest --html REPORT.html`: one self-contained page (inline CSS and SVG, no script, no
fetched font or image) showing where the alerts fall, the stories a team would have read,
the rules behind them, and, with labels or a candidate, what was missed, false or changed.

Everything that came from a feed is HTML-escaped, and a link is only ever `http(s)`: a
hostile feed must not run script in the operator's browser."""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.commands.backtest_compare import compare, week_of
from bot.commands.backtest_labelled import labelled_sections
from bot.commands.backtest_report import weeks_between
from bot.commands.backtest_run import Outcome
from bot.commands.backtest_svg import diverging_bars, legend, weekly_bars
from bot.runtime.backtest import Sent
from bot.scoring import Labels, Score

MARKED = 5  # the weeks of the biggest stories get a mark on the charts
STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em auto;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:1.6em}
table{border-collapse:collapse}td,th{padding:2px 8px;text-align:left;vertical-align:top}
tr:nth-child(even){background:#f4f4f4}.num{text-align:right}.axis{font:10px sans-serif}
.sev{padding:0 4px;border-radius:3px;color:#fff;font-size:.85em}.tags{color:#555}
.key{display:inline-block;width:10px;height:10px;margin:0 2px 0 8px}
.chart{display:block;margin:4px 0 12px}details{margin:2px 0}.muted{color:#777}
li.story{margin:6px 0;list-style:none}.scroll{overflow-x:auto}
"""


@dataclass
class Report:
    """Everything the page shows."""

    out: Outcome
    base: Outcome | None
    labels: Labels | None
    score: Score | None
    config: Any
    archive: str
    candidate: str = ""


def link(url: str, text: str) -> str:
    """`text` as a link when `url` is http(s), else as plain text; both escaped."""
    if urlsplit(url.strip()).scheme.lower() in ("http", "https"):
        return f'<a href="{escape(url.strip(), quote=True)}" rel="noopener noreferrer">' \
               f"{escape(text)}</a>"
    return escape(text)


def severity(label: str) -> str:
    from bot.commands.backtest_svg import COLOURS

    colour = COLOURS.get(label, "#bdbdbd")
    return f'<span class="sev" style="background:{colour}">{escape(label or "-")}</span>'


def _stories(sent: list[Sent]) -> list[list[Sent]]:
    """Each story's parent and replies (one message per item), newest story first."""
    stories: dict[str, list[Sent]] = defaultdict(list)
    seen: set[tuple[str, str]] = set()
    for m in sent:
        if m.kind in ("parent", "reply") and m.story and m.item \
                and (m.story, m.item) not in seen:
            seen.add((m.story, m.item))
            stories[m.story].append(m)
    return sorted((v for v in stories.values() if v[0].kind == "parent"),
                  key=lambda v: v[0].at, reverse=True)


def _header(r: Report) -> str:
    out = r.out
    kinds = Counter(m.kind for m in out.sent)
    channels: dict[str, Counter[str]] = defaultdict(Counter)
    for m in out.sent:
        channels[m.channel][m.kind] += 1
    period = f"{out.first:%Y-%m-%d} to {out.last:%Y-%m-%d}" if out.first and out.last else "-"
    rows = "".join(f"<tr><td>{escape(c)}</td>" + "".join(
        f'<td class="num">{n[k]}</td>' for k in ("parent", "reply", "update", "digest"))
        + "</tr>" for c, n in sorted(channels.items()))
    what = f"candidate rules {escape(r.candidate)}" if r.candidate else "the current rules"
    return (f"<h1>chipwatch backtest: {escape(r.archive)}</h1>"
            f"<p>{period}; {out.seen:,} items read"
            + (f", {out.bad:,} bad lines skipped" if out.bad else "")
            + f"; {what}. Messages: {kinds['parent']} parents, {kinds['reply']} thread "
            f"replies, {kinds['update']} parent updates, {kinds['digest']} digests, "
            f"{kinds['escalation']} escalations, {kinds['notice']} notices.</p>"
            "<table><tr><th>channel</th><th>parents</th><th>replies</th><th>updates</th>"
            f"<th>digests</th></tr>{rows}</table>")


def _charts(r: Report, weeks: list[str], stories: list[list[Sent]]) -> str:
    biggest = sorted(stories, key=lambda v: -len(v))[:MARKED]
    marks = {week_of(v[0]): f"{len(v)} reports: {v[0].title}" for v in reversed(biggest)}
    per: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for m in r.out.sent:
        if m.kind in ("parent", "reply", "digest"):
            per[m.channel][week_of(m)][m.severity] += 1
    parts = [f"<h2>Alerts per week per channel</h2><p>parents, replies and digests, by "
             f"severity: {legend()}; ▼ marks the weeks of the {MARKED} biggest stories</p>"]
    for channel in sorted(per):
        total = sum(sum(c.values()) for c in per[channel].values())
        parts.append(f"<h3>{escape(channel)} ({total})</h3><div class=scroll>"
                     + weekly_bars(weeks, per[channel], marks, f"alerts per week in {channel}")
                     + "</div>")
    return "".join(parts)


def _story_list(stories: list[list[Sent]], heading: str) -> str:
    items = []
    for v in stories:
        p = v[0]
        score = "" if p.relevance is None else f" relevance {p.relevance:.2f}"
        thread = "".join(f"<li>{m.at:%Y-%m-%d %H:%M} {escape(m.source)}: "
                         f"{link(m.link, m.title)}</li>" for m in v[1:])
        items.append(
            f'<li class="story">{p.at:%Y-%m-%d} {severity(p.severity)} <b>'
            f"{link(p.link, p.title)}</b> <span class=muted>{escape(p.source)} · "
            f"{escape(p.channel)}{score}</span> <span class=tags>"
            f"{escape(' '.join('#' + t for t in p.tags))}</span>"
            + (f"<details><summary>{len(v) - 1} more reports folded in</summary><ul>"
               f"{thread}</ul></details>" if len(v) > 1 else "") + "</li>")
    return f"<h2>{heading} ({len(stories)})</h2><ul>{''.join(items)}</ul>"


def _rules(r: Report) -> str:
    fired: Counter[str] = Counter()
    false: Counter[str] = Counter()
    label = r.labels.label if r.labels else {}
    firsts: dict[str, Sent] = {}
    for m in r.out.sent:
        if m.kind in ("parent", "reply") and m.item and m.item not in firsts:
            firsts[m.item] = m
    for item, m in firsts.items():
        fired.update(m.rules)
        if r.labels is not None and label.get(item, "neg") == "neg":
            false.update(m.rules)
    head = "<th>false alerts</th>" if r.labels else ""
    rows = "".join(f"<tr><td>{escape(rule)}</td><td class=num>{n}</td>"
                   + (f"<td class=num>{false[rule]}</td>" if r.labels else "") + "</tr>"
                   for rule, n in fired.most_common())
    return ("<h2>Rules (alerted items per rule)</h2>"
            f"<table><tr><th>rule</th><th>alerts</th>{head}</tr>{rows}</table>")


def _comparison(r: Report, weeks: list[str]) -> str:
    if r.base is None:
        return ""
    c = compare(r.base.sent, r.out.sent)
    ids_new = {m.item for m in c.new_parents}
    ids_gone = {m.item for m in c.gone_parents}
    new = [v for v in _stories(r.out.sent) if v[0].item in ids_new]
    gone = [v for v in _stories(r.base.sent) if v[0].item in ids_gone]
    return (f"<h2>Candidate against the current rules</h2><p>parents {c.base_parents} → "
            f"{c.parents}; alerted items +{sum(c.added.values())} new, "
            f"-{sum(c.dropped.values())} dropped, {c.changed} changed.</p><div class=scroll>"
            + diverging_bars(weeks, c.added, c.dropped, "alerts added and dropped per week")
            + "</div>" + _story_list(new, "Stories that appear (new parents to review)")
            + _story_list(gone, "Stories that vanish"))


def render(r: Report) -> str:
    """The whole page."""
    out = r.out
    times = [t for t in (out.first, out.last) if t is not None] + [m.at for m in out.sent]
    weeks = weeks_between(min(times), max(times)) if times else []
    stories = _stories(out.sent)
    body = [_header(r)]
    if r.score is not None and r.labels is not None:
        body.append(labelled_sections(r.score, r.labels, out, r.config))
    body += [_charts(r, weeks, stories), _comparison(r, weeks),
             _story_list(stories, "Stories a team would have read, newest first"),
             _rules(r)]
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'; img-src data:\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>chipwatch backtest</title><style>{STYLE}</style></head><body>"
            + "".join(body) + "</body></html>\n")


def write(path: Path, report: Report) -> int:
    """Write the page (to a temporary file, then rename); returns its size in bytes."""
    data = render(report).encode("utf-8")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return len(data)
