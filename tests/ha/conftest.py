"""Figures the replica tests measure, printed in pytest's terminal summary."""

from __future__ import annotations

from typing import Any

# table title → rows of (label, values…), filled in by the tests
FIGURES: dict[str, dict[str, tuple[Any, ...]]] = {}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for title, rows in FIGURES.items():
        terminalreporter.write_sep("-", title)
        for label, values in rows.items():
            terminalreporter.write_line(f"  {label:<26}" + "  ".join(str(v) for v in values))
