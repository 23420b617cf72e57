"""An OpenAI-compatible backend as the server's configuration describes it, and its limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from grove_explorer.server.sampler.base import MAX_SEED, MAX_TEMPERATURE

__all__ = [
    "MAX_SEED",
    "MAX_TEMPERATURE",
    "MAX_TOP_LOGPROBS",
    "PLACEHOLDER_API_KEY",
    "OpenAIBackendSettings",
]
# OpenAI's documented maximum for top_logprobs; compatible servers accept at most as many.
MAX_TOP_LOGPROBS = 20
# Sent as the bearer key when none is configured: local servers need none, but the library
# insists on some value (and would otherwise read OPENAI_API_KEY, which is not ours to use).
PLACEHOLDER_API_KEY = "not-needed"


@dataclass(frozen=True, slots=True)
class OpenAIBackendSettings:
    """One OpenAI-compatible backend, as the server's configuration describes it.

    `api_key` has already been read from the environment by the caller; `api_key_env` only
    names that variable in error messages, so a rejected key can be traced to its source.
    """

    name: str  # Grove's name for the backend, recorded on responses (model_name)
    base_url: str  # e.g. "https://api.x.ai/v1", "http://localhost:11434/v1"
    model: str  # upstream model id, e.g. "grok-4", "llama3.2"
    api_key: str | None = None
    api_key_env: str = ""
    description: str = ""
    temperature: float = 0.7  # defaults for unset request parameters
    top_p: float = 1.0
    max_tokens: int = 1024
    max_tokens_limit: int = 32768  # upper bound for a requested max_tokens
    timeout_seconds: float = 60.0  # read timeout, per chunk
    connect_timeout_seconds: float = 10.0
    max_retries: int = 2  # library retries, only before streaming starts
    logprobs: Literal["auto", "on", "off"] = "auto"
    send_seed: bool = True
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    # How to continue a given prefix (a branch from a token): "none" (cannot),
    # "continue_final_message" (vLLM: a trailing assistant message plus that flag) or
    # "trailing_assistant" (endpoints that continue a trailing assistant message as is).
    prefill: Literal["none", "continue_final_message", "trailing_assistant"] = "none"
    # Which API the endpoint speaks: "chat" (/v1/chat/completions) or "completion"
    # (/v1/completions only: a base model). `completion_endpoint`: a chat endpoint that also
    # serves /v1/completions (vLLM, llama.cpp's server), so both modes are offered.
    mode: Literal["chat", "completion"] = "chat"
    completion_endpoint: bool = False
    # The endpoint's model for /v1/embeddings ("" = none: EmbedTexts is refused).
    embeddings_model: str = ""
