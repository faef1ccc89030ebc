"""The labelled part of the HTML backtest report: the scores, then the missed and buried
developments and the false parents, each with the rules that fired or nearly fired (the
near misses of `explain`). Feed text is escaped here as everywhere in the report."""

from __future__ import annotations

from html import escape
from typing import Any

from bot.commands.backtest_run import Outcome
from bot.runtime.backtest import Sent
from bot.scoring import Labels, Score

SHOWN_REPORTS = 3


def _rules_of(config: Any, title: str, summary: str, when: Any) -> str:
    """The rules that fire on the text and the near misses (one condition short)."""
    from bot.commands.explain import report

    data = report(config, title, summary, now=when)
    fired = [r["id"] for r in data["rules"] if r["fired"]]
    near = [f"{r['id']} ({'; '.join(r['reasons'])})" for r in data["rules"]
            if not r["fired"] and r["failed_conditions"] == 1
            and (r["terms"] or r["none_hits"] or r["muted"])]
    parts = [f"fired: {escape(', '.join(fired))}" if fired else "no rule fired"]
    if near:
        parts.append(f"near misses: {escape(' · '.join(near[:4]))}")
    return "; ".join(parts)


def _missed(score: Score, labels: Labels, out: Outcome, config: Any) -> str:
    rows = []
    for dev in score.missed:
        reports = sorted((it for i, it in out.kept.items()
                          if labels.development.get(i) == dev
                          and labels.label.get(i) == "dev"), key=lambda it: it.published)
        lines = "".join(
            f"<li>{it.published:%Y-%m-%d} {escape(it.source)}: {escape(it.title)}<br>"
            f"<span class=muted>{_rules_of(config, it.title, it.summary, it.published)}"
            "</span></li>" for it in reports[:SHOWN_REPORTS])
        more = len(reports) - SHOWN_REPORTS
        rows.append(f"<li><b>{escape(dev)}</b> ({len(reports)} reports in the window)<ul>"
                    f"{lines}</ul>" + (f"<span class=muted>… {more} more</span>"
                                       if more > 0 else "") + "</li>")
    return f"<h3>Missed developments ({len(score.missed)})</h3><ul>{''.join(rows)}</ul>"


def _buried(score: Score, labels: Labels, out: Outcome) -> str:
    parent_of: dict[str, Sent] = {}
    for m in out.sent:
        if m.kind == "parent" and m.story and m.story not in parent_of:
            parent_of[m.story] = m
    rows = []
    for dev in score.buried:
        replies = [m for m in out.sent if m.kind == "reply" and m.item
                   and labels.development.get(m.item) == dev][:SHOWN_REPORTS]
        lines = "".join(
            f"<li>{escape(m.title)} <span class=muted>(rules: {escape(', '.join(m.rules))}"
            f") under: {escape(parent_of[m.story].title if m.story in parent_of else '?')}"
            "</span></li>" for m in replies)
        rows.append(f"<li><b>{escape(dev)}</b><ul>{lines}</ul></li>")
    return f"<h3>Buried developments ({len(score.buried)})</h3><ul>{''.join(rows)}</ul>"


def _false_parents(score: Score, out: Outcome) -> str:
    wanted = set(score.false_parent_ids)
    rows, shown = [], set()
    for m in out.sent:
        if m.kind == "parent" and m.item in wanted and m.item not in shown:
            shown.add(m.item)
            rel = "" if m.relevance is None else f", relevance {m.relevance:.2f}"
            rows.append(f"<li>{m.at:%Y-%m-%d} {escape(m.title)} <span class=muted>"
                        f"({escape(m.source)}; rules: {escape(', '.join(m.rules))}{rel})"
                        "</span></li>")
    return f"<h3>False parents ({len(score.false_parent_ids)})</h3><ul>{''.join(rows)}</ul>"


def labelled_sections(score: Score, labels: Labels, out: Outcome, config: Any) -> str:
    """The scores and the lists to look at, as HTML."""
    figures = (f"<p>{score.developments} developments; recall <b>{score.recall:.3f}</b> "
               f"({score.alerted} alerted); surfaced {score.surfaced_share:.3f}; buried "
               f"{len(score.buried)}; extra parents {score.extra_parents}; false alerts "
               f"{score.false_alerts} of {score.alerts}, false parents "
               f"<b>{score.false_parents}</b> of {score.parents}; "
               f"{len(score.unlabelled)} alerts on unlabelled items (counted as false)</p>"
               f"<p class=muted>{escape(score.key_values())}</p>")
    return ("<h2>Against the labels</h2>" + figures + _missed(score, labels, out, config)
            + _buried(score, labels, out) + _false_parents(score, out))
