"""Which models a server offers: named backends and system prompts from flags or TOML.

The same TOML file configures the app and a standalone server, so the embedded server and
`grove serve --config FILE` offer the same models:

    default_model = "grok"

    [models.grok]
    sampler = "openai"                 # an OpenAI-compatible chat-completions endpoint
    base_url = "https://api.x.ai/v1"
    api_key_env = "XAI_API_KEY"        # the key is read from this variable, never stored
    model = "grok-4"
    embeddings_model = "text-embedding-3-small"  # optional: EmbedTexts (`grove stats`)

    [system_prompts]
    default = "You are a careful research assistant."   # the "" prompt
    terse = "Answer in one sentence."

    [rubrics]                          # what a judge model scores against (0-10)
    brevity = "10: complete in three sentences or fewer; 0: padded or incomplete."

    [models.smol]
    sampler = "llamacpp"               # a GGUF file run in-process (the `local` extra)
    model_path = "~/models/SmolLM2-135M-Instruct.Q4_1.gguf"

The built-in offline model is always offered too, so a research session keeps a model
that needs no network.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from grove_explorer.server.judging.rubrics import RubricConfigError, default_rubrics, parse_rubrics
from grove_explorer.server.sampler import OFFLINE_MODEL_NAME

if TYPE_CHECKING:  # the samplers' code loads only when a server builds them (issue 13)
    from grove_explorer.server.sampler.base import Sampler

log = logging.getLogger(__name__)

DEFAULT_SYSTEM_PROMPT = (
    "You are Grove's assistant: a careful, truthful research companion. Answer directly, "
    "say when you are unsure, and prefer plain prose with Markdown where it helps."
)
# The seed's "fun mode", as a prompt a real model can follow.
FUN_SYSTEM_PROMPT = (
    "You are in fun mode: witty, playful and a little irreverent, with a sense of humour "
    "and the occasional exclamation, while still answering the question truthfully."
)
DEFAULT_SYSTEM_PROMPTS: Mapping[str, str] = {"": DEFAULT_SYSTEM_PROMPT, "fun": FUN_SYSTEM_PROMPT}


class BackendConfigError(ValueError):
    """The models configuration cannot be used; the message names the setting and why."""


@dataclass(frozen=True, slots=True)
class BackendSpec:
    """One named backend as configured (not yet connected)."""

    name: str
    sampler: Literal["offline", "openai", "llamacpp"] = "openai"
    base_url: str = ""
    model: str = ""
    api_key_env: str = ""
    description: str = ""
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    timeout_seconds: float = 60.0
    connect_timeout_seconds: float = 10.0
    max_retries: int = 2
    logprobs: Literal["auto", "on", "off"] = "auto"
    send_seed: bool = True
    headers: Mapping[str, str] = field(default_factory=dict)
    prefill: Literal["none", "continue_final_message", "trailing_assistant"] = "none"
    # llamacpp: the GGUF file, the context it gets, its threads, requests queued behind one.
    # openai: "chat" or "completion" (a base model behind /v1/completions), and whether a
    # chat endpoint also serves /v1/completions (then both modes are offered).
    mode: Literal["chat", "completion"] = "chat"
    completion_endpoint: bool = False
    model_path: str = ""
    context_tokens: int | None = None
    threads: int | None = None
    max_waiting: int = 16
    # openai: the endpoint's model for /v1/embeddings ("" = none; EmbedTexts refuses).
    embeddings_model: str = ""


@dataclass(frozen=True, slots=True)
class ModelsConfig:
    """Backends, the default model's name ("" = the first backend) and system prompts."""

    backends: tuple[BackendSpec, ...] = ()
    default_model: str = ""
    system_prompts: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SYSTEM_PROMPTS))
    # The judge's rubrics by name: the built-in "default" first, then `[rubrics]`.
    rubrics: Mapping[str, str] = field(default_factory=default_rubrics)


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "sampler": (str,),
    "base_url": (str,),
    "model": (str,),
    "api_key_env": (str,),
    "description": (str,),
    "temperature": (int, float),
    "top_p": (int, float),
    "max_tokens": (int,),
    "timeout_seconds": (int, float),
    "connect_timeout_seconds": (int, float),
    "max_retries": (int,),
    "logprobs": (str, bool),
    "send_seed": (bool,),
    "headers": (dict,),
    "prefill": (str,),
    "mode": (str,),
    "completion_endpoint": (bool,),
    "model_path": (str,),
    "context_tokens": (int,),
    "threads": (int,),
    "max_waiting": (int,),
    "embeddings_model": (str,),
}


def parse_models_config(data: Mapping[str, object], source: str = "config") -> ModelsConfig:
    """Reads `default_model`, `[models.NAME]`, `[system_prompts]` and `[rubrics]` from TOML.

    Raises BackendConfigError naming the file and key of the first problem, so a typo in a
    backend never silently falls back to another model.
    """
    tables = data.get("models", {})
    if not isinstance(tables, Mapping):
        raise BackendConfigError(f"{source}: [models] must be a table of named backends.")
    backends = tuple(_parse_backend(name, table, source) for name, table in tables.items())
    default_model = data.get("default_model", "")
    if not isinstance(default_model, str):
        raise BackendConfigError(f"{source}: default_model must be a string.")
    prompts = dict(DEFAULT_SYSTEM_PROMPTS)
    raw_prompts = data.get("system_prompts", {})
    if not isinstance(raw_prompts, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw_prompts.items()
    ):
        raise BackendConfigError(f"{source}: [system_prompts] must map names to texts.")
    for name, text in raw_prompts.items():
        prompts["" if name == "default" else name] = text
    try:
        rubrics = parse_rubrics(data.get("rubrics", {}), source)
    except RubricConfigError as error:
        raise BackendConfigError(str(error)) from None
    config = ModelsConfig(backends, default_model, prompts, rubrics)
    check_models_config(config, source)
    return config


def _parse_backend(name: object, table: object, source: str) -> BackendSpec:
    where = f"{source}: [models.{name}]"
    if not isinstance(name, str) or not name.strip():
        raise BackendConfigError(f"{source}: a backend needs a non-empty name.")
    if not isinstance(table, Mapping):
        raise BackendConfigError(f"{where} must be a table.")
    values: dict[str, object] = {}
    for key, value in table.items():
        types = _FIELD_TYPES.get(key)
        if types is None:
            known = ", ".join(sorted(_FIELD_TYPES))
            raise BackendConfigError(f"{where}: unknown setting {key!r}; known: {known}.")
        if isinstance(value, bool) and bool not in types:
            raise BackendConfigError(f"{where}: {key} cannot be true/false.")
        if not isinstance(value, types):
            raise BackendConfigError(f"{where}: {key} has the wrong type ({value!r}).")
        values[key] = value
    logprobs = values.pop("logprobs", "auto")
    if isinstance(logprobs, bool):
        logprobs = "on" if logprobs else "off"
    if logprobs not in ("auto", "on", "off"):
        raise BackendConfigError(f"{where}: logprobs must be auto, on or off.")
    headers = values.pop("headers", {})
    assert isinstance(headers, Mapping)
    if not all(isinstance(v, str) for v in headers.values()):
        raise BackendConfigError(f"{where}: headers must map names to strings.")
    spec = BackendSpec(name=name, logprobs=logprobs, headers=dict(headers), **values)  # type: ignore[arg-type]
    check_backend(spec, where)
    return spec


def check_backend(spec: BackendSpec, where: str) -> None:
    """Checks one backend's settings; raises BackendConfigError naming `where` and the key."""
    if spec.sampler not in ("offline", "openai", "llamacpp"):
        raise BackendConfigError(f"{where}: sampler must be offline, openai or llamacpp.")
    if spec.sampler == "llamacpp":
        _check_local_backend(spec, where)
    if spec.mode not in ("chat", "completion"):
        raise BackendConfigError(f"{where}: mode must be chat or completion.")
    if spec.sampler != "openai" and (spec.mode != "chat" or spec.completion_endpoint):
        raise BackendConfigError(
            f"{where}: mode and completion_endpoint describe an OpenAI-compatible endpoint; "
            f"a {spec.sampler} model offers both modes."
        )
    if spec.embeddings_model and spec.sampler != "openai":
        raise BackendConfigError(
            f"{where}: embeddings_model needs an OpenAI-compatible endpoint "
            f'(sampler = "openai"); a {spec.sampler} model has no embeddings.'
        )
    if spec.sampler == "openai":
        if not spec.base_url.startswith(("http://", "https://")):
            raise BackendConfigError(f"{where}: base_url must be an http(s) URL.")
        if not spec.model:
            raise BackendConfigError(f"{where}: model (the endpoint's model id) is required.")
    for key in ("timeout_seconds", "connect_timeout_seconds"):
        value = getattr(spec, key)
        if not (math.isfinite(value) and value > 0):
            raise BackendConfigError(f"{where}: {key} must be a positive number.")
    if spec.prefill not in ("none", "continue_final_message", "trailing_assistant"):
        raise BackendConfigError(
            f"{where}: prefill must be none, continue_final_message or trailing_assistant."
        )
    if spec.max_retries < 0:
        raise BackendConfigError(f"{where}: max_retries cannot be negative.")
    if spec.temperature is not None and not 0 <= spec.temperature <= 2:
        raise BackendConfigError(f"{where}: temperature must be between 0 and 2.")
    if spec.top_p is not None and not 0 < spec.top_p <= 1:
        raise BackendConfigError(f"{where}: top_p must be greater than 0 and at most 1.")
    if spec.max_tokens is not None and spec.max_tokens < 1:
        raise BackendConfigError(f"{where}: max_tokens must be at least 1.")


def _check_local_backend(spec: BackendSpec, where: str) -> None:
    """A local model's file must be loadable now: a typo fails at start, not at a reply."""
    from grove_explorer.server.sampler.llamacpp.settings import ModelFileError, check_model_file

    if not spec.model_path:
        raise BackendConfigError(f"{where}: model_path (the .gguf file) is required.")
    for key, low in (("context_tokens", 16), ("threads", 1), ("max_waiting", 0)):
        value = getattr(spec, key)
        if value is not None and value < low:
            raise BackendConfigError(f"{where}: {key} must be at least {low}.")
    try:
        check_model_file(Path(spec.model_path).expanduser(), spec.name)
    except ModelFileError as error:
        raise BackendConfigError(f"{where}: {error}") from None


def check_models_config(config: ModelsConfig, source: str = "config") -> None:
    """Checks names are unique and the default exists."""
    names = [spec.name for spec in config.backends]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise BackendConfigError(f"{source}: backend names repeat: {', '.join(duplicates)}.")
    available = {*names, OFFLINE_MODEL_NAME}
    if config.default_model and config.default_model not in available:
        raise BackendConfigError(
            f"{source}: default_model {config.default_model!r} is not a configured backend "
            f"(have: {', '.join(sorted(available))})."
        )


def build_samplers(
    config: ModelsConfig, *, token_delay_ms: float, offline_min_reply_tokens: int
) -> tuple[dict[str, Sampler], str]:
    """Connects every configured backend; returns the samplers by name and the default.

    A backend whose key variable is unset is still offered (with a warning here): its
    requests then fail with a sentence naming the variable, which is clearer than a
    server that refuses to start because one of several backends lacks a key.
    """
    # Imported here: the flags and config checks (run before the app's first frame) only
    # need the model's name, not its code.
    from grove_explorer.server.sampler.offline import OfflineSampler

    samplers: dict[str, Sampler] = {}
    for spec in config.backends:
        if spec.sampler == "offline":
            samplers[spec.name] = OfflineSampler(
                token_delay_ms=token_delay_ms,
                model_name=spec.name,
                min_reply_tokens=offline_min_reply_tokens,
            )
        elif spec.sampler == "llamacpp":
            samplers[spec.name] = _local_sampler(spec)
        else:
            samplers[spec.name] = _openai_sampler(spec)
    if not any(spec.sampler == "offline" for spec in config.backends):
        samplers.setdefault(
            OFFLINE_MODEL_NAME,
            OfflineSampler(
                token_delay_ms=token_delay_ms, min_reply_tokens=offline_min_reply_tokens
            ),
        )
    default = config.default_model or next(iter(samplers))
    return samplers, default


def _request_defaults(spec: BackendSpec) -> dict[str, object]:
    """The request defaults a backend's config sets (unset ones keep the sampler's)."""
    return {
        key: value
        for key in ("temperature", "top_p", "max_tokens")
        if (value := getattr(spec, key)) is not None
    }


def _local_sampler(spec: BackendSpec) -> Sampler:
    from grove_explorer.server.sampler.llamacpp.sampler import LlamaCppSampler
    from grove_explorer.server.sampler.llamacpp.settings import LlamaCppSettings

    defaults = _request_defaults(spec)
    settings = LlamaCppSettings(
        name=spec.name,
        model_path=Path(spec.model_path).expanduser(),
        description=spec.description,
        context_tokens=spec.context_tokens,
        threads=spec.threads,
        max_waiting=spec.max_waiting,
        **defaults,  # type: ignore[arg-type]
    )
    return LlamaCppSampler(settings)


def _openai_sampler(spec: BackendSpec) -> Sampler:
    from grove_explorer.server.sampler.openai_compat import (
        OpenAIBackendSettings,
        OpenAICompatibleSampler,
    )

    api_key = os.environ.get(spec.api_key_env) if spec.api_key_env else None
    if spec.api_key_env and not api_key:
        log.warning(
            "backend %r: environment variable %s is not set; its requests will be refused",
            spec.name,
            spec.api_key_env,
        )
    defaults = _request_defaults(spec)
    settings = OpenAIBackendSettings(
        name=spec.name,
        base_url=spec.base_url,
        model=spec.model,
        api_key=api_key,
        api_key_env=spec.api_key_env,
        description=spec.description,
        timeout_seconds=spec.timeout_seconds,
        connect_timeout_seconds=spec.connect_timeout_seconds,
        max_retries=spec.max_retries,
        logprobs=spec.logprobs,
        send_seed=spec.send_seed,
        extra_headers=dict(spec.headers),
        prefill=spec.prefill,
        mode=spec.mode,
        completion_endpoint=spec.completion_endpoint,
        embeddings_model=spec.embeddings_model,
        **defaults,  # type: ignore[arg-type]
    )
    return OpenAICompatibleSampler(settings)
