"""`LlamaCppSampler`: the `Sampler` protocol over a GGUF model run in-process by llama.cpp."""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

import numpy as np

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
from grove_explorer.server.sampler.llamacpp.distribution import Choice, choose
from grove_explorer.server.sampler.llamacpp.model import (
    LocalModel,
    ModelFacts,
    TemplateRefusedError,
    TextAssembler,
)
from grove_explorer.server.sampler.llamacpp.settings import LlamaCppSettings
from grove_explorer.server.sampler.openai_compat.titles import (
    TITLE_MAX_TOKENS,
    clean_title,
    title_messages,
)

log = logging.getLogger(__name__)

MAX_TOP_LOGPROBS = 20


class LlamaCppSampler:
    """Samples replies from a local GGUF model; one instance (one loaded copy) per backend."""

    def __init__(self, settings: LlamaCppSettings) -> None:
        self._settings = settings
        self._model = LocalModel(settings)
        self._loading: asyncio.Future[ModelFacts] | None = None
        self._turn: asyncio.Lock | None = None
        self._waiting = 0

    @property
    def model_name(self) -> str:
        """Grove's name for this backend, recorded on every response."""
        return self._settings.name

    @property
    def settings(self) -> LlamaCppSettings:
        """The backend's settings (read-only)."""
        return self._settings

    @property
    def supports_prefix(self) -> bool:
        """Always: Grove renders the template itself and continues the prefix exactly."""
        return True

    @property
    def modes(self) -> tuple[SamplingMode, ...]:
        """Chat and completion; completion only for a model without a chat template."""
        facts = self._model.facts
        if facts is not None and not facts.has_chat_template:
            return (SamplingMode.COMPLETION,)
        return (SamplingMode.CHAT, SamplingMode.COMPLETION)

    def prepare(self) -> None:
        """Starts loading the model on its thread (the server calls this at start)."""
        if self._loading is None:
            self._loading = asyncio.ensure_future(self._model.run(self._model.load))

    async def ready(self) -> ModelFacts:
        """The loaded model's facts; waits for the load. Raises SamplerError if it failed."""
        self.prepare()
        assert self._loading is not None
        try:
            return await asyncio.shield(self._loading)
        except Exception as error:
            raise SamplerError(
                SamplerErrorKind.UNAVAILABLE,
                f"Backend '{self._settings.name}' could not load {self._settings.model_path}: "
                f"{error}.",
            ) from error

    def describe(self) -> ModelDescription:
        """Name, file and defaults; logprobs always (they come with every token)."""
        s = self._settings
        facts = self._model.facts
        loaded = f"{facts.description}, context {facts.context_tokens}" if facts else "loading"
        return ModelDescription(
            name=s.name,
            backend="llamacpp",
            upstream_model=s.model_path.name,
            description=s.description or f"local GGUF model ({loaded})",
            default_temperature=s.temperature,
            default_top_p=s.top_p,
            default_max_tokens=s.max_tokens,
            supports_logprobs=True,
            modes=self.modes,
        )

    def resolve_params(self, requested: RequestedParams) -> ResolvedParams:
        """Fills the backend's defaults (a fresh seed when none is given) and validates.

        max_tokens is bounded by the model's context once it is known.
        """
        s = self._settings
        facts = self._model.facts
        return resolve_with_defaults(
            requested,
            temperature=s.temperature,
            top_p=s.top_p,
            max_tokens=s.max_tokens,
            max_tokens_limit=facts.context_tokens if facts else 1 << 20,
        )

    def count_tokens(self, path: Sequence[PathMessage]) -> int:
        """The path's tokens by the model's own tokenizer (an estimate while it loads).

        The exact prompt (template, system prompt) is counted when a reply starts and
        reported as its usage.
        """
        if self._model.facts is None:
            return sum(math.ceil(len(m.text) / 4) for m in path)
        return sum(len(self._model.tokenize(m.text)) for m in path)

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
        """Streams the reply token by token, then its usage and why it ended.

        Chat mode renders the model's chat template; completion mode continues the path's
        document (and `prefix`) as plain text, as a base model would.

        Requests queue for the model (one reply at a time); a request that finds
        `max_waiting` others waiting is refused (RESOURCE_EXHAUSTED) rather than left to wait
        without bound. Closing the iterator stops generation after the current step.
        """
        await self.ready()
        model = self._model
        try:
            if mode is SamplingMode.COMPLETION:
                prompt = await model.run(
                    functools.partial(model.document_prompt, document_of(path) + prefix)
                )
            else:
                prompt = await model.run(
                    functools.partial(model.chat_prompt, path, system_prompt, prefix)
                )
        except TemplateRefusedError as error:
            raise SamplerError(
                SamplerErrorKind.BAD_REQUEST,
                f"Backend '{self._settings.name}' cannot answer this conversation: {error}.",
            ) from error
        async with self._queue_turn():
            async for event in self._generate(prompt, params, top_logprobs):
                yield event

    async def generate_title(self, path: Sequence[PathMessage]) -> str | None:
        """Asks the model for a short title (greedy); None when it gives none."""
        messages = title_messages(path)
        if messages is None:
            return None
        await self.ready()
        model = self._model
        try:
            prompt = await model.run(lambda: model.messages_prompt(messages))
        except TemplateRefusedError:
            return None
        params = ResolvedParams(temperature=0.0, top_p=1.0, max_tokens=TITLE_MAX_TOKENS, seed=0)
        pieces: list[str] = []
        async with self._queue_turn():
            async for event in self._generate(prompt, params, 0):
                if isinstance(event, SampledToken):
                    pieces.append(event.text)
        return clean_title("".join(pieces))

    async def complete(
        self,
        system: str,
        prompt: str,
        params: ResolvedParams,
        *,
        json_schema: Mapping[str, Any] | None = None,
    ) -> Completion:
        """One answer through the chat template; the format rests on the prompt's words.

        `json_schema` is not enforced (no grammar): a small local model may well answer
        outside it, which the judge reports as unusable output.
        """
        messages = [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
        await self.ready()
        model = self._model
        try:
            tokens = await model.run(lambda: model.messages_prompt(messages))
        except TemplateRefusedError as error:
            raise SamplerError(
                SamplerErrorKind.BAD_REQUEST,
                f"Backend '{self._settings.name}' cannot take this request: {error}.",
            ) from error
        pieces: list[str] = []
        finish: FinishReason | None = None
        async with self._queue_turn():
            async for event in self._generate(tokens, params, 0):
                if isinstance(event, SampledToken):
                    pieces.append(event.text)
                elif isinstance(event, Finish):
                    finish = event.reason
        return Completion("".join(pieces), finish)

    async def aclose(self) -> None:
        """Frees the model (after any step in progress)."""
        await asyncio.get_running_loop().run_in_executor(None, self._model.close)

    # Generation.

    def _queue_turn(self) -> _Turn:
        if self._turn is None:
            self._turn = asyncio.Lock()
        if self._turn.locked() and self._waiting >= self._settings.max_waiting:
            raise SamplerError(
                SamplerErrorKind.RATE_LIMITED,
                f"Backend '{self._settings.name}' generates one reply at a time and "
                f"{self._waiting} requests are already waiting (max_waiting "
                f"{self._settings.max_waiting}); try again when one has finished.",
            )
        return _Turn(self)

    async def _generate(
        self, prompt: list[int], params: ResolvedParams, top_logprobs: int
    ) -> AsyncGenerator[SampleEvent, None]:
        model = self._model
        room = model.context_tokens - len(prompt)
        if room < 1:
            raise SamplerError(
                SamplerErrorKind.BAD_REQUEST,
                f"Backend '{self._settings.name}': the conversation is {len(prompt)} tokens "
                f"and the model's context holds {model.context_tokens}; branch from an "
                "earlier message or raise context_tokens in the backend's config.",
            )
        k = min(max(top_logprobs, 0), MAX_TOP_LOGPROBS)
        rng = np.random.default_rng(params.seed)
        text = TextAssembler()
        held: list[Choice] = []  # tokens of a character not yet whole
        produced = 0
        finish = FinishReason.LENGTH
        logits = await model.run(functools.partial(model.evaluate, prompt))
        while produced < min(params.max_tokens, room):
            choice = choose(logits, params.temperature, params.top_p, rng, k)
            if model.is_end(choice.token):
                finish = FinishReason.STOP
                break
            produced += 1
            held.append(choice)
            piece = text.push(model.piece(choice.token))
            if piece:
                yield self._token(piece, held)
                held = []
            logits = await model.run(functools.partial(model.advance, choice.token))
        rest = text.flush()
        if held and rest:
            yield self._token(rest, held)
        if finish is FinishReason.LENGTH and produced >= room and room < params.max_tokens:
            log.info("backend %r: reply cut at the end of the context", self._settings.name)
        yield Usage(prompt_tokens=len(prompt), completion_tokens=produced)
        yield Finish(finish)

    def _token(self, piece: str, choices: list[Choice]) -> SampledToken:
        """One streamed token: a model token, or several that together make one character."""
        logprob = sum(c.logprob for c in choices)
        first = choices[0]
        top = tuple((self._model.piece_text(token), lp) for token, lp in first.top)
        return SampledToken(piece, logprob, top)


class _Turn:
    """The model's turn for one request: counted as waiting until the lock is held."""

    def __init__(self, sampler: LlamaCppSampler) -> None:
        self._sampler = sampler

    async def __aenter__(self) -> None:
        sampler = self._sampler
        assert sampler._turn is not None
        sampler._waiting += 1
        try:
            await sampler._turn.acquire()
        finally:
            sampler._waiting -= 1

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._sampler._turn is not None
        self._sampler._turn.release()
