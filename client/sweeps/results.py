"""A sweep's samples folded into one row per cell (a setting over its seeds).

Means are over the samples that have the figure (a failed sample has none; a reply
without logprobs or score leaves that mean None), so a row never mixes in zeros for
"unknown". `n` counts the replies, `failed` the samples that errored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from grove_explorer.client.sweeps.runner import SampleOutcome


@dataclass(frozen=True, slots=True)
class CellKey:
    """A cell: everything of a sample but its seed."""

    model: str
    temperature: float | None
    top_p: float | None
    system_prompt: str | None


@dataclass(frozen=True, slots=True)
class CellRow:
    """One cell's figures."""

    key: CellKey
    n: int
    failed: int
    skipped: int
    mean_tokens: float | None
    mean_logprob: float | None
    mean_words: float | None
    mean_ttft: float | None
    mean_latency: float | None
    mean_score: float | None
    response_ids: tuple[str, ...]
    errors: tuple[str, ...]


def _mean(values: Sequence[float | int | None]) -> float | None:
    known = [float(v) for v in values if v is not None]
    return sum(known) / len(known) if known else None


def cell_rows(outcomes: Sequence[SampleOutcome]) -> list[CellRow]:
    """Rows in the order cells first appear (the plan's order)."""
    groups: dict[CellKey, list[SampleOutcome]] = {}
    for outcome in outcomes:
        s = outcome.sample
        groups.setdefault(CellKey(s.model, s.temperature, s.top_p, s.system_prompt), []).append(
            outcome
        )
    rows: list[CellRow] = []
    for key, group in groups.items():
        ok = [o for o in group if o.response_id]
        rows.append(
            CellRow(
                key=key,
                n=len(ok),
                failed=sum(1 for o in group if o.error),
                skipped=sum(1 for o in group if o.skipped),
                mean_tokens=_mean([o.tokens for o in ok]),
                mean_logprob=_mean([o.mean_logprob for o in ok]),
                mean_words=_mean([o.words for o in ok]),
                mean_ttft=_mean([o.time_to_first_token for o in ok]),
                mean_latency=_mean([o.total_time for o in ok]),
                mean_score=_mean([o.score for o in ok]),
                response_ids=tuple(o.response_id or "" for o in ok),
                errors=tuple(o.error for o in group if o.error),
            )
        )
    return rows
