"""One sample of a batch as the statistics see it: a text and what is known about it.

Everything but the text is optional: a manual reply has no tokens or latencies, an
endpoint without logprobs has none. Distributions count what is missing instead of
pretending a zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


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
    # The mean logprob when it is known without the tokens (the service caches it).
    known_mean_logprob: float | None = None
    # True when the text was cut (max_tokens, a stop, a failure): its last line is no answer.
    cut: bool = False

    @property
    def mean_logprob(self) -> float | None:
        """The mean of the known token logprobs (None when there are none)."""
        if not self.logprobs:
            return self.known_mean_logprob
        finite = [lp for lp in self.logprobs if math.isfinite(lp)]
        return sum(finite) / len(finite) if finite else None


class Reply(Protocol):
    """What a sample is read from: the SDK's `Response` and the service's `ResponseNode`."""

    @property
    def response_id(self) -> str:
        """The reply's response id."""
        ...

    @property
    def message(self) -> str:
        """The reply's message."""
        ...

    @property
    def model_name(self) -> str:
        """The reply's model name."""
        ...

    @property
    def manual(self) -> bool:
        """The reply's manual."""
        ...

    @property
    def partial(self) -> bool:
        """Whether the reply stopped early (stopped, cancelled, failed)."""
        ...

    @property
    def finish_reason(self) -> str:
        """Why the reply ended ("length": cut at max_tokens; "" when unknown)."""
        ...

    @property
    def token_count(self) -> int:
        """The reply's token count."""
        ...

    @property
    def time_to_first_token(self) -> float:
        """The reply's time to first token."""
        ...

    @property
    def total_time(self) -> float:
        """The reply's total time."""
        ...


LABEL_CHARS = 8
"""A sample's label is this many characters of its id, as thread headers show it."""


def sample_of(
    reply: Reply, logprobs: Sequence[float | None] | None = None, mean_logprob: float | None = None
) -> SpreadSample:
    """The statistics' view of one stored reply, with its token logprobs when fetched.

    A hand-written reply has no token count, latency or logprobs: they are unknown (None),
    not zero, so distributions count them as missing. Tokens whose logprob is unknown (a
    given prefix, an endpoint without logprobs) are left out of the mean.
    """
    sampled = not reply.manual
    known = [lp for lp in logprobs or () if lp is not None]
    return SpreadSample(
        text=reply.message,
        label=reply.response_id[:LABEL_CHARS],
        model_name=reply.model_name,
        token_count=reply.token_count if sampled and reply.token_count else None,
        logprobs=known or None,
        ttft_seconds=reply.time_to_first_token if sampled and reply.total_time else None,
        total_seconds=reply.total_time if sampled and reply.total_time else None,
        known_mean_logprob=mean_logprob,
        cut=reply.partial or reply.finish_reason == "length",
    )
