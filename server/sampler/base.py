"""The sampler interface: what the Chat server needs from any text model.

A sampler turns the conversation path (root → the response being answered) into a stream of
tokens, each with its log-probability and top alternatives. Samplers know nothing of gRPC or
storage; the servicer batches their tokens onto the wire and stores the result.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple, Protocol, runtime_checkable

from grove_explorer.server.sampler import OFFLINE_MODEL_NAME as OFFLINE_MODEL_NAME


class PathMessage(NamedTuple):
    """One message on the conversation path, oldest first.

    A named (sender, text) pair: a tuple of them is itself a hashable key of the path's
    content, so a sampler can memoise by path without copying it (a deep path is
    thousands of messages, handed over on every turn).
    """

    sender: str  # "human" or "model"
    text: str


class SamplingMode(StrEnum):
    """How a reply is sampled (`protos/chat.proto` `SamplingMode`, lower case).

    CHAT answers the path as a conversation; COMPLETION continues the path's texts joined
    as one document (base-model continuation: no roles, no system prompt).
    """

    CHAT = "chat"
    COMPLETION = "completion"


def document_of(path: Sequence[PathMessage]) -> str:
    """The path as one document for completion mode: its texts joined as they are.

    In a continuation tree every node continues the text before it (as in loom), so the
    texts are joined with nothing between them; a writer who wants a paragraph break
    writes it.
    """
    return "".join(message.text for message in path)


@dataclass(frozen=True, slots=True)
class SampledToken:
    """A sampled token: its text, natural-log probability and the k most likely candidates.

    `top` holds (text, logprob) pairs in descending probability; it may include the chosen
    token itself. Log-probabilities are of the distribution actually sampled from (after
    temperature and top-p), so they describe what the sampler really did. `logprob` is None
    when the backend does not report probabilities (a remote endpoint without logprobs): an
    unknown probability must never masquerade as certainty (0.0).
    """

    text: str
    logprob: float | None
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts a backend reported for one reply (OpenAI's `usage`).

    Samplers may yield one among their tokens (usually last); the server then reports
    these counts in the budget instead of its own estimate, and keeps them as the reply's
    reported usage. The reply's `token_count` is always the tokens received (what the
    token view shows): an endpoint's usage can be an estimate (LiteLLM: 18 for 20).
    """

    prompt_tokens: int
    completion_tokens: int


class FinishReason(StrEnum):
    """Why a model reply ended, as stored (`protos/chat.proto` `FinishReason`, lower case).

    A sampler reports the first four (the backend's word); the server decides the rest,
    which mark partial replies.
    """

    STOP = "stop"  # the model ended its reply
    LENGTH = "length"  # cut at max_tokens
    CONTENT_FILTER = "content_filter"  # the backend's content filter cut it
    TOOL_CALLS = "tool_calls"  # the model turned to a tool call (Grove runs none)
    STOPPED = "stopped"  # StopResponse: the user stopped it
    CANCELLED = "cancelled"  # the client went away
    SHUTDOWN = "shutdown"  # the server shut down while sampling
    ERROR = "error"  # the backend failed part way
    INTERRUPTED = "interrupted"  # the server died; recovered from a checkpoint


@dataclass(frozen=True, slots=True)
class Finish:
    """Why the sampler's reply ended; yielded last (after any `Usage`).

    A sampler that yields none leaves the server to infer it: `LENGTH` when the reply
    reached max_tokens, else `STOP`.
    """

    reason: FinishReason


SampleEvent = SampledToken | Usage | Finish


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


def check_number(name: str, value: float | None, default: float, low: float, high: float) -> float:
    """Validates a float sampling parameter in [low, high] (NaN and infinities never are).

    Shared by every sampler so the same bad value gets the same sentence whatever the model.
    """
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParamsError(f"{name} must be a number, got {value!r}.")
    value = float(value)
    if not (math.isfinite(value) and low <= value <= high):
        if name == "top_p":
            raise InvalidParamsError(f"top_p must be greater than 0 and at most 1, got {value}.")
        raise InvalidParamsError(f"{name} must be between {low:g} and {high:g}, got {value}.")
    return value


def check_integer(name: str, value: int | None, default: int, low: int, high: int) -> int:
    """Validates an integer sampling parameter in [low, high]."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParamsError(f"{name} must be an integer, got {value!r}.")
    if not low <= value <= high:
        raise InvalidParamsError(f"{name} must be between {low} and {high}, got {value}.")
    return value


MAX_TEMPERATURE = 2.0
MAX_SEED = 2**63 - 1


def resolve_with_defaults(
    requested: RequestedParams,
    *,
    temperature: float,
    top_p: float,
    max_tokens: int,
    max_tokens_limit: int,
) -> ResolvedParams:
    """Fills a backend's defaults (a fresh random seed when none is given) and validates.

    Ranges are checked here rather than left to a backend, so a bad value gets the same
    sentence whichever model is behind the name.
    """
    resolved_temperature = check_number(
        "temperature", requested.temperature, temperature, 0.0, MAX_TEMPERATURE
    )
    resolved_top_p = check_number("top_p", requested.top_p, top_p, 0.0, 1.0)
    if resolved_top_p <= 0.0:
        raise InvalidParamsError(
            f"top_p must be greater than 0 and at most 1, got {resolved_top_p}."
        )
    resolved_max = check_integer(
        "max_tokens", requested.max_tokens, max_tokens, 1, max_tokens_limit
    )
    seed = requested.seed if requested.seed is not None else secrets.randbits(63)
    seed = check_integer("seed", seed, 0, 0, MAX_SEED)
    return ResolvedParams(
        temperature=resolved_temperature, top_p=resolved_top_p, max_tokens=resolved_max, seed=seed
    )


class SamplerErrorKind(StrEnum):
    """Why a backend failed, so the server can choose a gRPC status for it."""

    AUTH = "auth"  # the backend rejected the server's credentials (401/403)
    MODEL_NOT_FOUND = "model_not_found"  # the backend has no such model (404)
    RATE_LIMITED = "rate_limited"  # 429
    BAD_REQUEST = "bad_request"  # the backend refused the request's parameters (400/422)
    UNAVAILABLE = "unavailable"  # 5xx, connection refused, DNS failure
    TIMEOUT = "timeout"  # no answer (or no next chunk) in time
    STREAM_BROKEN = "stream_broken"  # the stream ended abnormally after it had started
    PREFIX_NOT_CONTINUED = "prefix_not_continued"  # a new turn instead of the given prefix


class SamplerError(Exception):
    """A backend failed; `message` is a sentence for the person at the terminal.

    The message names the backend and what to check (which environment variable, which
    URL), never the API key itself.
    """

    def __init__(
        self, kind: SamplerErrorKind, message: str, *, retry_after_seconds: float | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True, slots=True)
class ModelDescription:
    """What ListModels tells clients about one configured backend.

    `defaults` holds the parameters a request gets when it leaves them unset (seed is
    always drawn fresh, so it is not listed). `supports_logprobs` is None when unknown
    until the first reply.
    """

    name: str
    backend: str  # "offline" or "openai"
    upstream_model: str
    description: str
    default_temperature: float
    default_top_p: float
    default_max_tokens: int
    supports_logprobs: bool | None
    # The sampling modes offered, the default first.
    modes: tuple[SamplingMode, ...] = (SamplingMode.CHAT,)
    # The backend's embeddings model ("" when it offers none; see EmbedTexts).
    embeddings_model: str = ""


@dataclass(frozen=True, slots=True)
class Completion:
    """A whole (non-streamed) answer of `Sampler.complete` and why it ended.

    `finish` is None when the backend named no reason; `LENGTH` means the answer was cut
    at max_tokens, so a structured answer is likely truncated.
    """

    text: str
    finish: FinishReason | None


@runtime_checkable
class HeuristicJudge(Protocol):
    """A sampler that judges by a transparent heuristic instead of asking its model.

    The offline demo model is no language model: asked for a JSON verdict it would write
    n-gram prose. It offers this instead, so the judge loop works with no network; the
    judgements it makes are stored with `heuristic=true`.
    """

    def heuristic_judgement(self, rubric: str, prompt: str, reply: str) -> tuple[float, str]:
        """A deterministic score 0-10 of `reply` and a rationale stating its figures."""
        ...


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

    def describe(self) -> ModelDescription:
        """Name, backend and defaults of this sampler, for ListModels."""
        ...

    @property
    def supports_prefix(self) -> bool:
        """Whether `sample` can continue a given prefix (a branch from a token)."""
        ...

    @property
    def modes(self) -> tuple[SamplingMode, ...]:
        """The sampling modes this model offers; the first is its default."""
        ...

    def sample(
        self,
        path: Sequence[PathMessage],
        params: ResolvedParams,
        *,
        top_logprobs: int = 5,
        system_prompt_name: str = "",
        system_prompt: str | None = None,
        prefix: str = "",
        mode: SamplingMode = SamplingMode.CHAT,
    ) -> AsyncGenerator[SampleEvent, None]:
        """Streams the reply token by token; at most `params.max_tokens` tokens.

        In COMPLETION mode (one of `modes`) the reply continues `document_of(path)` (then
        `prefix`); no system prompt is sent.

        `system_prompt_name` is the name the client chose; `system_prompt` is its text from
        the server's configuration, or None when no system prompt is to be sent (a "raw
        model" request, `use_grok=false`). The same path and params (seed included) give the
        same tokens where the backend allows. The iterator must yield control to the event
        loop regularly even at zero token delay, and must release its resources (close its
        HTTP stream) when closed early with `aclose()` — hence an async generator, which
        the servicer closes with `contextlib.aclosing`. A non-empty `prefix` is the start of
        the reply, given rather than sampled: the sampler continues after it and yields only
        what follows (callers check `supports_prefix` first).

        The stream ends with a `Finish` event saying why the reply ended (the model's own
        stop, max_tokens, a content filter, …) when the sampler can tell.

        Raises SamplerError when the backend fails.
        """
        ...

    async def complete(
        self,
        system: str,
        prompt: str,
        params: ResolvedParams,
        *,
        json_schema: Mapping[str, Any] | None = None,
    ) -> Completion:
        """One non-streamed answer to `prompt` under the `system` instruction (judges).

        `json_schema` (a JSON Schema object with a "name" and a "schema") asks for
        structured output where the backend can constrain it; a backend that cannot
        relies on the instructions in the prompt, which must describe the format too.
        Raises SamplerError when the backend fails.
        """
        ...

    async def generate_title(self, path: Sequence[PathMessage]) -> str | None:
        """Asks the model for a short title of the path; None when this sampler cannot.

        Raises SamplerError when the backend fails (the server then falls back to its
        heuristic title).
        """
        ...

    def prepare(self) -> None:
        """Starts slow preparation (loading a local model) without waiting for it.

        Called once when the server starts, so the first reply does not pay for it.
        """
        ...

    async def aclose(self) -> None:
        """Releases connections (called once at server shutdown)."""
        ...
