"""Inline SVG charts for the HTML backtest report: weekly bars, stacked by severity, with
marked weeks; and diverging bars for a candidate's added and dropped alerts. Every text
that reaches the SVG is escaped here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from html import escape

SEVERITIES = ("critical", "high", "medium", "low", "info", "")
COLOURS = {"critical": "#b30000", "high": "#e34a33", "medium": "#fc8d59", "low": "#fdbb84",
           "info": "#9ecae1", "": "#bdbdbd"}
BAR, GAP, HEIGHT, PAD = 14, 3, 120, 24


def weekly_bars(weeks: Sequence[str], counts: Mapping[str, Counter[str]],
                marks: Mapping[str, str], label: str) -> str:
    """One bar per week, stacked by severity (`counts[week][severity]`); a week in `marks`
    gets a triangle whose tooltip is the mark's text (a big story's headline)."""
    top = max((sum(c.values()) for c in counts.values()), default=0) or 1
    width = PAD + len(weeks) * (BAR + GAP) + PAD
    parts = [_open("chart", width, label),
             f'<text x="2" y="12" class="axis">{top}</text>',
             f'<line x1="{PAD}" y1="{PAD + HEIGHT}" x2="{width - PAD}" y2="{PAD + HEIGHT}" '
             'stroke="#888"/>']
    for i, week in enumerate(weeks):
        x = PAD + i * (BAR + GAP)
        y = PAD + HEIGHT
        week_counts = counts.get(week, Counter())
        for severity in SEVERITIES:
            n = week_counts.get(severity, 0)
            if not n:
                continue
            h = max(1, round(n / top * HEIGHT))
            y -= h
            parts.append(_bar("bar", x, y, h, COLOURS[severity],
                              f"{week}: {n} {severity or 'digest'}"))
        if week in marks:
            parts.append(f'<path class="mark" d="M{x} {PAD - 14} h{BAR} l-{BAR / 2} 10 z" '
                         f'fill="#333"><title>{escape(week)}: {escape(marks[week])}</title>'
                         "</path>")
        if i % 4 == 0:
            parts.append(_week_label(x, week))
    parts.append("</svg>")
    return "".join(parts)


def diverging_bars(weeks: Sequence[str], added: Mapping[str, int],
                   dropped: Mapping[str, int], label: str) -> str:
    """Per week, alerts a candidate adds (up, green) and drops (down, red)."""
    top = max([*added.values(), *dropped.values(), 1])
    half = HEIGHT // 2
    width = PAD + len(weeks) * (BAR + GAP) + PAD
    mid = PAD + half
    parts = [_open("chart diff", width, label),
             f'<line x1="{PAD}" y1="{mid}" x2="{width - PAD}" y2="{mid}" stroke="#888"/>',
             f'<text x="2" y="12" class="axis">+{top}</text>']
    for i, week in enumerate(weeks):
        x = PAD + i * (BAR + GAP)
        up, down = added.get(week, 0), dropped.get(week, 0)
        if up:
            h = max(1, round(up / top * half))
            parts.append(_bar("bar added", x, mid - h, h, "#31a354", f"{week}: +{up}"))
        if down:
            h = max(1, round(down / top * half))
            parts.append(_bar("bar dropped", x, mid, h, "#de2d26", f"{week}: -{down}"))
        if i % 4 == 0:
            parts.append(_week_label(x, week))
    parts.append("</svg>")
    return "".join(parts)


def _open(cls: str, width: int, label: str) -> str:
    """An SVG chart's opening tag and its accessible title."""
    return (f'<svg class="{cls}" role="img" width="{width}" height="{HEIGHT + 2 * PAD}" '
            f'viewBox="0 0 {width} {HEIGHT + 2 * PAD}" xmlns="http://www.w3.org/2000/svg">'
            f"<title>{escape(label)}</title>")


def _bar(cls: str, x: int, y: int, h: int, fill: str, tip: str) -> str:
    """One bar with its tooltip (escaped)."""
    return (f'<rect class="{cls}" x="{x}" y="{y}" width="{BAR}" height="{h}" fill="{fill}">'
            f"<title>{escape(tip)}</title></rect>")


def _week_label(x: int, week: str) -> str:
    """An ISO week's label under the axis (`22-W35`)."""
    return f'<text x="{x}" y="{PAD + HEIGHT + 14}" class="axis">{escape(week[2:])}</text>'


def legend() -> str:
    """The severity colours, as inline HTML."""
    return " ".join(f'<span class="key" style="background:{COLOURS[s]}"></span>'
                    f"{escape(s or 'digest')}" for s in SEVERITIES)
