"""Sampling helpers of the SDK: parameters for a reply and budget logging.

`SamplingParams` is the keyword-only extension the SDK's sampling methods accept; every
field left as None means "the server's default". The server records the values actually
used (with the seed it drew) on each model response.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grove_explorer.protos import sampler_public_pb2

log = logging.getLogger(__name__)

SAMPLING_MODES: dict[str, int] = {"": 0, "chat": 1, "completion": 2}
"""Sampling modes by name, as `chat.proto`'s `SamplingMode` numbers them ("": the model's
default). Written out so that naming a mode loads no protobuf; a test pins them."""


def sampling_mode_number(mode: str) -> int:
    """A sampling mode's wire number; ValueError naming the known ones."""
    try:
        return SAMPLING_MODES[mode]
    except KeyError:
        raise ValueError(
            f"Unknown sampling mode {mode!r}; use 'chat', 'completion' or '' (the model's)."
        ) from None


def sampling_mode_name(number: int) -> str:
    """The name of a wire mode number ("chat" for one this client does not know)."""
    return next((name for name, n in SAMPLING_MODES.items() if n == number and name), "chat")


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """How to sample a reply; None leaves a parameter to the server's default."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None

    def to_proto(self) -> sampler_public_pb2.SamplingParams:
        """Builds the wire form, leaving unset fields absent (not zero)."""
        from grove_explorer.protos import sampler_public_pb2

        message = sampler_public_pb2.SamplingParams()
        if self.temperature is not None:
            message.temperature = self.temperature
        if self.top_p is not None:
            message.top_p = self.top_p
        if self.max_tokens is not None:
            message.max_tokens = self.max_tokens
        if self.seed is not None:
            message.seed = self.seed
        return message

    @classmethod
    def from_proto(cls, message: sampler_public_pb2.SamplingParams) -> SamplingParams:
        """Reads the wire form; absent fields become None."""
        return cls(
            temperature=message.temperature if message.HasField("temperature") else None,
            top_p=message.top_p if message.HasField("top_p") else None,
            max_tokens=message.max_tokens if message.HasField("max_tokens") else None,
            seed=message.seed if message.HasField("seed") else None,
        )


def log_budget_update(budget: sampler_public_pb2.Budget) -> None:
    """Logs a budget update at debug level (the seed's `sampler.log_budget_update`)."""
    log.debug(
        "budget: prompt %d tokens, sampled %d of %d",
        budget.prompt_tokens,
        budget.sampled_tokens,
        budget.max_tokens,
    )
