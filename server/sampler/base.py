"""The sampler interface: what the Chat server needs from any text model.

A sampler turns the conversation path (root → the response being answered) into a stream of
tokens, each with its log-probability and top alternatives. Samplers know nothing of gRPC or
storage; the servicer batches their tokens onto the wire and stores the result.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PathMessage:
    """One message on the conversation path, oldest first."""

    sender: str  # "human" or "model"
    text: str


@dataclass(frozen=True, slots=True)
class SampledToken:
    """A sampled token: its text, natural-log probability and the k most likely candidates.

    `top` holds (text, logprob) pairs in descending probability; it may include the chosen
    token itself. Log-probabilities are of the distribution actually sampled from (after
    temperature and top-p), so they describe what the sampler really did.
    """

    text: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class RequestedParams:
    """Sampling parameters as the client sent them: None means "use the default"."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class ResolvedParams:
    """Sampling parameters with every default filled in, stored with the response."""

    temperature: float
    top_p: float
    max_tokens: int
    seed: int


class InvalidParamsError(ValueError):
    """Sampling parameters out of range; the message says which and why."""


class Sampler(Protocol):
    """A text model that samples replies to a conversation path."""

    @property
    def model_name(self) -> str:
        """Name recorded on every response this sampler produces."""
        ...

    def resolve_params(self, requested: RequestedParams) -> ResolvedParams:
        """Fills defaults (drawing a fresh seed when none is given) and validates ranges.

        Raises InvalidParamsError with a sentence naming the bad parameter.
        """
        ...

    def count_tokens(self, path: Sequence[PathMessage]) -> int:
        """Counts the prompt tokens of a path (for budget updates)."""
        ...

    def sample(
        self,
        path: Sequence[PathMessage],
        params: ResolvedParams,
        *,
        top_logprobs: int = 5,
        system_prompt_name: str = "",
        use_grok: bool = True,
    ) -> AsyncIterator[SampledToken]:
        """Streams the reply token by token; at most `params.max_tokens` tokens.

        The same path and params (seed included) give the same tokens. The iterator must
        yield control to the event loop regularly even at zero token delay.
        """
        ...
