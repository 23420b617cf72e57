"""Summaries of one measurement over a batch: its spread and a histogram of it.

A sample without the measurement (a manual reply has no latency, an endpoint without
logprobs no mean logprob) is counted in `missing`, never drawn as zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_BINS = 10


@dataclass(frozen=True, slots=True)
class Distribution:
    """One measurement over a batch: name, unit, the values known, and their histogram.

    `values[i]` follows the batch order (None: unknown for sample i). `bins` are the
    counts of `edges` intervals [edges[k], edges[k+1]) (the last one closed).
    """

    name: str
    unit: str
    values: tuple[float | None, ...]
    edges: tuple[float, ...]
    bins: tuple[int, ...]

    @property
    def known(self) -> list[float]:
        """The values that are known, in batch order."""
        return [v for v in self.values if v is not None]

    @property
    def missing(self) -> int:
        """How many samples lack this measurement."""
        return sum(1 for v in self.values if v is None)

    @property
    def minimum(self) -> float | None:
        """The lowest known value."""
        known = self.known
        return min(known) if known else None

    @property
    def maximum(self) -> float | None:
        """The highest known value."""
        known = self.known
        return max(known) if known else None

    @property
    def mean(self) -> float | None:
        """The mean of the known values."""
        known = self.known
        return sum(known) / len(known) if known else None

    @property
    def median(self) -> float | None:
        """The median of the known values."""
        return quantile(self.known, 0.5)


def quantile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile by linear interpolation between order statistics (None if empty)."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def distribution(
    name: str,
    unit: str,
    values: Sequence[float | None],
    bins: int = DEFAULT_BINS,
    *,
    integer: bool = False,
) -> Distribution:
    """Summarises `values` with a histogram of `bins` equal-width bins over their range.

    Fewer distinct values than bins get one bin each at most (a batch of identical
    lengths is one bar, not nine empty ones and a full one). `integer` values (counts of
    words or tokens) get whole-number bin widths, so no two bins start at the same count.
    """
    known = [v for v in values if v is not None and math.isfinite(v)]
    kept = tuple(v if v is not None and math.isfinite(v) else None for v in values)
    if not known:
        return Distribution(name, unit, kept, (), ())
    low, high = min(known), max(known)
    count = max(1, min(bins, len(set(known))))
    if high == low:
        return Distribution(name, unit, kept, (low, high), (len(known),))
    if integer:
        width = float(math.ceil((high - low + 1) / count))
        count = math.ceil((high - low + 1) / width)
    else:
        width = (high - low) / count
    edges = (*(low + k * width for k in range(count)), high)
    counts = [0] * count
    for v in known:
        counts[min(count - 1, int((v - low) / width))] += 1
    return Distribution(name, unit, kept, edges, tuple(counts))
