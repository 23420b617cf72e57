"""One sample of a batch as the statistics see it: a text and what is known about it.

Everything but the text is optional: a manual reply has no tokens or latencies, an
endpoint without logprobs has none. Distributions count what is missing instead of
pretending a zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SpreadSample:
    """A sample: its text, label (e.g. a short response id), model and measurements."""

    text: str
    label: str = ""
    model_name: str = ""
    token_count: int | None = None
    # Per-token natural-log probabilities (None: not known for this sample).
    logprobs: Sequence[float] | None = None
    ttft_seconds: float | None = None
    total_seconds: float | None = None

    @property
    def mean_logprob(self) -> float | None:
        """The mean of the known token logprobs (None when there are none)."""
        if not self.logprobs:
            return None
        finite = [lp for lp in self.logprobs if math.isfinite(lp)]
        return sum(finite) / len(finite) if finite else None
