"""Figure lines a test records (`authz cells=825 leaks=0`, `faults kill9=... lost=0`): printed
together at the end of the run by tests/conftest.py, so that CI's log ends with the proof."""

from __future__ import annotations

FIGURES: dict[str, str] = {}


def figure(name: str, line: str) -> None:
    """Record a figure line under `name` (a later one of the same name replaces it)."""
    FIGURES[name] = line
    print(line)
