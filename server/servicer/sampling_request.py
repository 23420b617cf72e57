"""The sampling half of an AddResponse request, checked before anything is stored.

A prefix the model can continue, the mode, the system prompt's name, the parameters the
sampler accepts and the number of top alternatives: every refusal is INVALID_ARGUMENT or
FAILED_PRECONDITION with a sentence, and nothing of the request is stored yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import grpc

from grove_explorer.protos import chat_pb2
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.convert import requested_params
from grove_explorer.server.sampler.base import (
    InvalidParamsError,
    ResolvedParams,
    Sampler,
    SamplingMode,
)
from grove_explorer.server.servicer.status import abort, quote
from grove_explorer.server.servicer.validation import check_text, sampling_mode_or_abort


@dataclass(frozen=True, slots=True)
class CheckedSampling:
    """How the reply of a checked request is to be sampled."""

    mode: SamplingMode
    params: ResolvedParams
    top_k: int


async def checked_sampling_or_abort(
    request: chat_pb2.AddResponseRequest,
    sampler: Sampler,
    system_prompts: Mapping[str, str],
    config: ServerConfig,
    context: grpc.aio.ServicerContext,
) -> CheckedSampling:
    """The request's mode, resolved parameters and top-k, or the call ends saying why."""
    if request.prefix:
        await check_text("prefix", request.prefix, config.max_message_bytes, context)
        if not sampler.supports_prefix:
            await abort(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                f"Model {sampler.model_name!r} cannot continue from a given prefix "
                "(a branch from a token): its endpoint has no assistant prefill "
                "configured (prefill in its [models] table).",
            )
    mode = await sampling_mode_or_abort(sampler, request.mode, context)
    if request.system_prompt_name not in system_prompts:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Unknown system prompt {quote(request.system_prompt_name)}; "
            f"known: {', '.join(repr(n) for n in system_prompts)}.",
        )
    try:
        params = sampler.resolve_params(requested_params(request.sampling_params))
    except InvalidParamsError as exc:
        await abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
    if request.top_logprobs < 0:
        await abort(context, grpc.StatusCode.INVALID_ARGUMENT, "top_logprobs cannot be negative.")
    top_k = min(request.top_logprobs or config.default_top_logprobs, config.max_top_logprobs)
    return CheckedSampling(mode, params, top_k)
