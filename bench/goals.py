"""One way for every benchmark to print a figure beside its goal, with PASS/FAIL.

Issue 13 asks each benchmark to print "now vs goal" in one run. A `Goal` row is a
measured figure, the goal as text, and whether it passed (None: not measured in this run,
e.g. a part skipped by `--quick`). `print_goals` prints them as one aligned table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Goal:
    """One figure of a benchmark: what was measured, what it came to, and the goal."""

    name: str
    figure: str
    goal: str
    passed: bool | None

    @property
    def verdict(self) -> str:
        """PASS, FAIL, or — when the figure was not measured."""
        if self.passed is None:
            return "—"
        return "PASS" if self.passed else "FAIL"


def print_goals(title: str, goals: Iterable[Goal]) -> None:
    """Prints `goals` under `title` as an aligned table: name, figure, goal, verdict."""
    rows = list(goals)
    print(f"\n{title}")
    if not rows:
        print("  (nothing measured)")
        return
    name_width = max(len(g.name) for g in rows)
    figure_width = max(len(g.figure) for g in rows)
    goal_width = max(len(g.goal) for g in rows)
    for g in rows:
        print(
            f"  {g.name:<{name_width}}  {g.figure:>{figure_width}}  "
            f"goal {g.goal:<{goal_width}}  {g.verdict}"
        )
