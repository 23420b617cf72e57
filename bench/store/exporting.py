"""Part `exporting` of bench.store (to be written for issue 13)."""

from __future__ import annotations

from bench.goals import Goal


async def run(quick: bool) -> list[Goal]:
    """Measures this part's figures; `quick` uses small sizes."""
    return []
