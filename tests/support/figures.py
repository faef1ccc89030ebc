"""Figures the loopback tests measure (hang times, failover seconds…), printed in pytest's
terminal summary by the hook in tests/conftest.py."""

from __future__ import annotations

from typing import Any

# table title → rows of (label, values…), filled in by the tests
FIGURES: dict[str, dict[str, tuple[Any, ...]]] = {}


def write(terminalreporter: Any) -> None:
    """Print every table the tests filled in."""
    for title, rows in FIGURES.items():
        terminalreporter.write_sep("-", title)
        for label, values in rows.items():
            terminalreporter.write_line(f"  {label:<26}" + "  ".join(str(v) for v in values))
