"""What asking for logprobs costs on one endpoint, measured once, when it first answers.

Some servers compute logprobs cheaply (vLLM, OpenAI: a few percent); llama-cpp-python's
server evaluates every position's logits when asked and becomes ~30 times slower (20 tokens:
0.4 s without, 13 s with `top_logprobs: 5`). In "auto" mode Grove asks for logprobs, so on
such a server every reply would crawl. After the first reply that carried logprobs — when
its tokens came slower than `SLOW_EXTRA_SECONDS` each, or logprobs cannot cost that much —
two short probe requests (the same prompt, with and without logprobs) measure the cost per
token; it is logged, and when logprobs make tokens at least `SLOW_RATIO` times slower and
add at least `SLOW_EXTRA_SECONDS` a token, "auto" stops asking (`logprobs = "on"` in the
backend's config keeps them whatever they cost).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

SLOW_RATIO = 3.0
SLOW_EXTRA_SECONDS = 0.005
PROBE_MESSAGES = [{"role": "user", "content": "Count from one to twenty in words."}]
PROBE_TOKENS = 12


@dataclass(frozen=True, slots=True)
class LogprobsCost:
    """Seconds per token with and without logprobs, as the probe measured them."""

    with_logprobs: float
    without: float

    @property
    def ratio(self) -> float:
        """How many times slower a token is with logprobs."""
        return self.with_logprobs / max(self.without, 1e-6)

    @property
    def too_slow(self) -> bool:
        """Whether "auto" should stop asking: much slower, and by a noticeable time."""
        extra = self.with_logprobs - self.without
        return self.ratio >= SLOW_RATIO and extra >= SLOW_EXTRA_SECONDS

    def sentence(self, backend: str) -> str:
        """The log line: what logprobs cost on this backend."""
        return (
            f"backend {backend!r}: logprobs make tokens {self.ratio:.1f} times slower "
            f"({self.with_logprobs * 1000:.0f} ms a token with them, "
            f"{self.without * 1000:.0f} ms without)"
        )


class Stopwatch:
    """Seconds per token of one reply, between its first token and its last.

    The wait for the first token (connection, prompt) is left out: it says nothing about
    the cost of a token, and a short reply over a slow link would look slow.
    """

    def __init__(self) -> None:
        self.tokens = 0
        self._first = 0.0
        self._last = 0.0

    def count(self, tokens: int) -> None:
        """Notes `tokens` more arriving now."""
        if tokens <= 0:
            return
        now = time.perf_counter()
        if not self.tokens:
            self._first = now
        self._last = now
        self.tokens += tokens

    def per_token(self) -> float | None:
        """Seconds per token after the first; None with fewer than two tokens."""
        if self.tokens < 2:
            return None
        return (self._last - self._first) / (self.tokens - 1)


def worth_probing(first_reply: Stopwatch) -> bool:
    """Whether a reply with logprobs was slow enough that logprobs may be the cause.

    A token that took less than `SLOW_EXTRA_SECONDS` with logprobs cannot have been slowed
    by them that much, so fast endpoints are never probed (and cost nothing extra).
    """
    per_token = first_reply.per_token()
    return per_token is not None and per_token >= SLOW_EXTRA_SECONDS
