"""`OpenAICompatibleSampler`: the `Sampler` protocol over one chat-completions endpoint.

Log-probabilities are optional in the wild. In "auto" mode the first request asks for
them; a server that refuses the parameter (HTTP 400/422 mentioning logprobs) is asked again
once without, and the sampler remembers not to ask again. A token whose probability is
unknown gets `logprob=None`, never a fake certainty. A reply the user abandons must stop
costing upstream tokens, so the HTTP stream is closed whenever the consumer stops early.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

from grove_explorer.server.sampler.base import (
    Completion,
    Finish,
    FinishReason,
    ModelDescription,
    PathMessage,
    RequestedParams,
    ResolvedParams,
    SampledToken,
    SampleEvent,
    SamplerError,
    SamplerErrorKind,
    SamplingMode,
    Usage,
    document_of,
    resolve_with_defaults,
)
from grove_explorer.server.sampler.openai_compat.chunks import (
    finish_reason,
    read_chunk,
    request_messages,
)
from grove_explorer.server.sampler.openai_compat.embeddings import embed_texts
from grove_explorer.server.sampler.openai_compat.errors import backend_error, mentions_logprobs
from grove_explorer.server.sampler.openai_compat.logprobs_cost import (
    PROBE_MESSAGES,
    PROBE_TOKENS,
    LogprobsCost,
    Stopwatch,
    worth_probing,
)
from grove_explorer.server.sampler.openai_compat.prefill import PrefixCheck
from grove_explorer.server.sampler.openai_compat.settings import (
    MAX_TOP_LOGPROBS,
    PLACEHOLDER_API_KEY,
    OpenAIBackendSettings,
)
from grove_explorer.server.sampler.openai_compat.structured import StructuredCompletions
from grove_explorer.server.sampler.openai_compat.titles import (
    TITLE_MAX_TOKENS,
    TITLE_TEMPERATURE,
    clean_title,
    title_messages,
)

log = logging.getLogger(__name__)

# Even when the network hands over many chunks at once, the stream yields to the event
# loop this often, so concurrent streams make progress.
_YIELD_EVERY = 16


class OpenAICompatibleSampler:
    """Samples replies from an OpenAI-compatible chat-completions endpoint.

    One instance per configured backend; it holds one `AsyncOpenAI` client (and so one
    connection pool) for the life of the server.
    """

    def __init__(self, settings: OpenAIBackendSettings) -> None:
        self._settings = settings
        # What "auto" mode has learned about logprobs: None until a reply tells.
        self._supports_logprobs: bool | None = None
        # Their cost, measured once after the first reply that carried them (auto mode).
        self._cost_probe: asyncio.Future[LogprobsCost | None] | None = None
        self._too_costly = False
        self._client = AsyncOpenAI(
            api_key=settings.api_key or PLACEHOLDER_API_KEY,
            base_url=settings.base_url,
            timeout=openai.Timeout(
                settings.timeout_seconds, connect=settings.connect_timeout_seconds
            ),
            max_retries=settings.max_retries,
            default_headers=dict(settings.extra_headers),
        )
        self._structured = StructuredCompletions(self._client, settings)

    @property
    def model_name(self) -> str:
        """Grove's name for this backend, recorded on every response."""
        return self._settings.name

    @property
    def settings(self) -> OpenAIBackendSettings:
        """The backend's settings (read-only)."""
        return self._settings

    @property
    def supports_prefix(self) -> bool:
        """Whether a prefix can be continued: an assistant prefill, or a text endpoint."""
        return self._settings.prefill != "none" or SamplingMode.COMPLETION in self.modes

    @property
    def modes(self) -> tuple[SamplingMode, ...]:
        """What the endpoint speaks: chat, completion (a base model), or both."""
        if self._settings.mode == "completion":
            return (SamplingMode.COMPLETION,)
        if self._settings.completion_endpoint:
            return (SamplingMode.CHAT, SamplingMode.COMPLETION)
        return (SamplingMode.CHAT,)

    def describe(self) -> ModelDescription:
        """Name, defaults and (when known) whether replies carry log-probabilities."""
        s = self._settings
        return ModelDescription(
            name=s.name,
            backend="openai",
            upstream_model=s.model,
            description=s.description,
            default_temperature=s.temperature,
            default_top_p=s.top_p,
            default_max_tokens=s.max_tokens,
            supports_logprobs=False if self._too_costly else self._logprobs_known(),
            modes=self.modes,
            embeddings_model=s.embeddings_model,
        )

    @property
    def embeddings_model(self) -> str:
        """The endpoint's embeddings model ("" when none is configured)."""
        return self._settings.embeddings_model

    async def embed_texts(self, texts: Sequence[str]) -> list[list[float]]:
        """One embedding vector per text, from the endpoint's /v1/embeddings (see embeddings.py)."""
        return await embed_texts(self._client, self._settings, texts)

    def resolve_params(self, requested: RequestedParams) -> ResolvedParams:
        """Fills the backend's defaults (a fresh random seed when none is given) and validates."""
        s = self._settings
        return resolve_with_defaults(
            requested,
            temperature=s.temperature,
            top_p=s.top_p,
            max_tokens=s.max_tokens,
            max_tokens_limit=s.max_tokens_limit,
        )

    def count_tokens(self, path: Sequence[PathMessage]) -> int:
        """A cheap estimate (about four characters a token); the backend's usage is exact."""
        return sum(math.ceil(len(message.text) / 4) for message in path)

    async def sample(
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
        """Streams the reply; at most `params.max_tokens` tokens, the backend's usage, `Finish`.

        In completion mode the path's document (and `prefix`) goes to /v1/completions as
        the prompt, and the reply continues it.

        `system_prompt_name` is not sent: the backend only sees the prompt's text. A
        `prefix` travels as a trailing assistant message (see `prefill`). The finish is the
        backend's `finish_reason`; `LENGTH` when it ignored max_tokens and was cut here;
        none (the server infers it) when the backend named no reason Grove knows.
        Raises SamplerError when the backend fails; closing the iterator early closes the
        HTTP stream, so the backend stops generating.
        """
        document: str | None = None
        messages: list[dict[str, str]] = []
        if mode is SamplingMode.COMPLETION:
            if mode not in self.modes:
                raise SamplerError(
                    SamplerErrorKind.BAD_REQUEST,
                    f"Backend '{self._settings.name}' speaks chat only; set "
                    "completion_endpoint = true in its config if it serves /v1/completions.",
                )
            document = document_of(path) + prefix
        else:
            messages = request_messages(path, system_prompt)
        if prefix and document is None:
            if not self.supports_prefix:
                raise SamplerError(
                    SamplerErrorKind.BAD_REQUEST,
                    f"Backend '{self._settings.name}' cannot continue from a given prefix; "
                    "set prefill in its config if the endpoint supports assistant prefill.",
                )
            messages.append({"role": "assistant", "content": prefix})
        watch = Stopwatch()
        stream = await self._open_stream(
            messages,
            params,
            top_logprobs,
            self._wants_logprobs(),
            prefilled=bool(prefix),
            document=document,
        )
        chunks, asked_logprobs = stream.chunks, stream.asked_logprobs
        check = PrefixCheck(path) if prefix and document is None else None
        yielded = 0
        usage: Usage | None = None
        finish: FinishReason | None = None
        cut = False  # text the backend sent beyond max_tokens was dropped here
        saw_logprobs = False
        try:
            read = 0
            while True:
                try:
                    chunk = await chunks.__anext__()
                    tokens, chunk_usage, has_logprobs = read_chunk(chunk)
                    finish = finish_reason(chunk) or finish
                except StopAsyncIteration:
                    break
                except Exception as exc:
                    raise backend_error(self._settings, exc, started=True, yielded=yielded) from exc
                read += 1
                if read % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
                usage = chunk_usage or usage
                saw_logprobs = saw_logprobs or has_logprobs
                if tokens and yielded >= params.max_tokens:
                    # The backend ignored max_tokens; stop reading (closing the stream below).
                    cut = True
                    break
                room = params.max_tokens - yielded
                cut = cut or len(tokens) > room
                tokens = tokens[:room]
                if check is not None:
                    tokens = self._checked(check, tokens, prefix)
                watch.count(len(tokens))
                for token in tokens:
                    yielded += 1
                    yield token
            if check is not None:
                for token in self._checked(check, None, prefix):
                    yielded += 1
                    yield token
            if asked_logprobs and self._settings.logprobs == "auto":
                self._learn_logprobs(saw_logprobs, yielded)
                if saw_logprobs and self._cost_probe is None and worth_probing(watch):
                    self._cost_probe = asyncio.ensure_future(self._measure_logprobs_cost())
            if usage is not None:
                yield usage
            if cut:
                finish = FinishReason.LENGTH
            if finish is not None:
                yield Finish(finish)
        finally:
            try:
                await chunks.close()
            except Exception:  # closing must never hide the reason we stopped
                log.debug("closing the stream of backend %r failed", self._settings.name)

    def _checked(
        self, check: PrefixCheck, tokens: list[SampledToken] | None, prefix: str
    ) -> list[SampledToken]:
        """Tokens of a prefixed reply that may go out (None: the reply ended, release all).

        Raises SamplerError when the endpoint started a new turn instead of continuing.
        """
        try:
            return check.release() if tokens is None else check.feed(tokens)
        except ValueError as error:
            raise SamplerError(
                SamplerErrorKind.PREFIX_NOT_CONTINUED,
                f"Backend '{self._settings.name}' did not continue the prefix {prefix[:40]!r}: "
                f"{error}. Its endpoint closes the assistant turn (prefill = "
                f"{self._settings.prefill!r}); nothing was stored. vLLM continues a prefix "
                'with prefill = "continue_final_message"; otherwise set prefill = "none", '
                'or branch on a local model (sampler = "llamacpp").',
            ) from None

    async def generate_title(self, path: Sequence[PathMessage]) -> str | None:
        """Asks the backend for a title of at most six words; None when it gives none.

        The conversation is quoted in one user message, rather than replayed turn by turn,
        so the model titles it instead of answering its last question.
        """
        messages = title_messages(path)
        if messages is None or SamplingMode.CHAT not in self.modes:
            return None  # a base model has no chat endpoint to ask (the heuristic titles)
        try:
            completion = await self._client.chat.completions.create(
                model=self._settings.model,
                messages=cast("list[ChatCompletionMessageParam]", messages),
                temperature=TITLE_TEMPERATURE,
                max_tokens=TITLE_MAX_TOKENS,
                stream=False,
            )
            content = completion.choices[0].message.content if completion.choices else None
        except Exception as exc:
            raise backend_error(self._settings, exc, started=False, yielded=0) from exc
        return clean_title(content)

    async def complete(
        self,
        system: str,
        prompt: str,
        params: ResolvedParams,
        *,
        json_schema: Mapping[str, Any] | None = None,
    ) -> Completion:
        """One non-streamed answer, structured by `json_schema` where the endpoint can.

        See structured.py: an endpoint refusing `response_format` is asked again without
        it, and not asked with it again.
        """
        return await self._structured.complete(system, prompt, params, json_schema)

    def prepare(self) -> None:
        """Nothing to prepare: the endpoint is reached on the first request."""

    async def aclose(self) -> None:
        """Closes the client's connection pool (after a cost probe under way)."""
        if self._cost_probe is not None and not self._cost_probe.done():
            self._cost_probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._cost_probe
        await self._client.close()

    # Logprobs policy.

    def _logprobs_known(self) -> bool | None:
        """True/False when configured or learned, None while "auto" has not found out."""
        mode = self._settings.logprobs
        if mode == "on":
            return True
        if mode == "off":
            return False
        return self._supports_logprobs

    def _wants_logprobs(self) -> bool:
        """Whether the next request asks for logprobs."""
        return self._logprobs_known() is not False and not self._too_costly

    async def logprobs_cost(self) -> LogprobsCost | None:
        """The measured cost of logprobs (waits for the probe); None if never measured."""
        return await asyncio.shield(self._cost_probe) if self._cost_probe else None

    async def _measure_logprobs_cost(self) -> LogprobsCost | None:
        """Times two short replies, with and without logprobs, and logs what they cost.

        In auto mode, logprobs that make tokens much slower are not asked for again.
        """
        name = self._settings.name
        try:
            with_logprobs = await self._probe(logprobs=True)
            without = await self._probe(logprobs=False)
        except Exception as error:  # a probe must never disturb the replies themselves
            log.info("backend %r: could not measure what logprobs cost: %s", name, error)
            return None
        cost = LogprobsCost(with_logprobs, without)
        if cost.too_slow:
            self._too_costly = True
            log.warning(
                '%s; asking without them from now on (set logprobs = "on" in the '
                "backend's config to keep them)",
                cost.sentence(name),
            )
        else:
            log.info("%s; logprobs stay on", cost.sentence(name))
        return cost

    async def _probe(self, *, logprobs: bool) -> float:
        """Seconds per token of one short probe reply."""
        params = ResolvedParams(temperature=0.0, top_p=1.0, max_tokens=PROBE_TOKENS, seed=0)
        chunks = await self._create(list(PROBE_MESSAGES), params, 5, logprobs)
        watch = Stopwatch()
        try:
            async for chunk in chunks:
                watch.count(len(read_chunk(chunk)[0]))
        finally:
            await chunks.close()
        per_token = watch.per_token()
        if per_token is None:
            raise ValueError("the probe reply had fewer than two tokens")
        return per_token

    def _learn_logprobs(self, saw_logprobs: bool, yielded: int) -> None:
        """Remembers what a complete reply showed about logprobs ("auto" mode only).

        A reply that carried logprobs proves support. A complete reply with tokens but no
        logprobs means the server silently ignores the parameter (older Ollama does), which
        is as good as unsupported; a "yes" once learned is never taken back.
        """
        if saw_logprobs:
            self._supports_logprobs = True
        elif yielded and self._supports_logprobs is None:
            self._supports_logprobs = False

    # Requests.

    async def _open_stream(
        self,
        messages: list[dict[str, str]],
        params: ResolvedParams,
        top_logprobs: int,
        logprobs: bool,
        *,
        prefilled: bool = False,
        document: str | None = None,
    ) -> _OpenStream:
        """Starts the streaming request, retrying once without logprobs if they are refused.

        Raises SamplerError: nothing from the library leaves this method.
        """
        try:
            return _OpenStream(
                await self._create(
                    messages, params, top_logprobs, logprobs, prefilled=prefilled, document=document
                ),
                logprobs,
            )
        except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
            if not (logprobs and self._settings.logprobs == "auto" and mentions_logprobs(exc)):
                raise backend_error(self._settings, exc, started=False, yielded=0) from exc
            log.info(
                "backend %r refused logprobs (%s); asking without them from now on",
                self._settings.name,
                exc.status_code,
            )
            self._supports_logprobs = False
        except Exception as exc:
            raise backend_error(self._settings, exc, started=False, yielded=0) from exc
        try:
            return _OpenStream(
                await self._create(
                    messages, params, top_logprobs, False, prefilled=prefilled, document=document
                ),
                False,
            )
        except Exception as exc:
            raise backend_error(self._settings, exc, started=False, yielded=0) from exc

    async def _create(
        self,
        messages: list[dict[str, str]],
        params: ResolvedParams,
        top_logprobs: int,
        logprobs: bool,
        *,
        prefilled: bool = False,
        document: str | None = None,
    ) -> openai.AsyncStream[Any]:
        """Sends one streaming chat-completions request; returns once the headers arrive.

        `prefilled`: the last message is a given prefix to continue. Only then, not whenever
        the path ends with a model reply (a reply sampled under a reply), does vLLM get
        continue_final_message, which would extend that earlier reply instead of answering.
        """
        if document is not None:
            return await self._create_completion(document, params, top_logprobs, logprobs)
        extra: dict[str, Any] = {}
        if prefilled and self._settings.prefill == "continue_final_message":
            extra["extra_body"] = {
                "continue_final_message": True,
                "add_generation_prompt": False,
            }
        if self._settings.send_seed:
            extra["seed"] = params.seed
        if logprobs:
            extra["logprobs"] = True
            if top_logprobs > 0:
                extra["top_logprobs"] = min(top_logprobs, MAX_TOP_LOGPROBS)
        stream: openai.AsyncStream[
            ChatCompletionChunk
        ] = await self._client.chat.completions.create(
            model=self._settings.model,
            messages=cast("list[ChatCompletionMessageParam]", messages),
            stream=True,
            stream_options={"include_usage": True},
            temperature=params.temperature,
            top_p=params.top_p,
            max_tokens=params.max_tokens,
            **extra,
        )
        return stream

    async def _create_completion(
        self, document: str, params: ResolvedParams, top_logprobs: int, logprobs: bool
    ) -> openai.AsyncStream[Any]:
        """Sends one streaming /v1/completions request continuing `document`."""
        extra: dict[str, Any] = {}
        if self._settings.send_seed:
            extra["seed"] = params.seed
        if logprobs:
            extra["logprobs"] = min(max(top_logprobs, 0), MAX_TOP_LOGPROBS)
        stream: openai.AsyncStream[Any] = await self._client.completions.create(
            model=self._settings.model,
            prompt=document,
            stream=True,
            stream_options={"include_usage": True},
            temperature=params.temperature,
            top_p=params.top_p,
            max_tokens=params.max_tokens,
            **extra,
        )
        return stream


@dataclass(frozen=True, slots=True)
class _OpenStream:
    """An opened stream and whether its request asked for logprobs (after any fallback)."""

    chunks: openai.AsyncStream[Any]
    asked_logprobs: bool
