"""`OfflineSampler`: the n-gram demo model behind the `Sampler` protocol, at a set pace."""

from __future__ import annotations

import asyncio
import math
import re
import secrets
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

from grove_explorer.server.sampler.base import (
    OFFLINE_MODEL_NAME,
    Completion,
    Finish,
    FinishReason,
    InvalidParamsError,
    ModelDescription,
    PathMessage,
    RequestedParams,
    ResolvedParams,
    SampledToken,
    SampleEvent,
    SamplingMode,
    check_integer,
    check_number,
    document_of,
)
from grove_explorer.server.sampler.offline.decoding import (
    DEFAULT_MIN_REPLY_TOKENS,
    MAX_TEMPERATURE,
    Run,
)
from grove_explorer.server.sampler.offline.judge import heuristic_judgement
from grove_explorer.server.sampler.offline.memo import PathKey, PathMemo, path_key
from grove_explorer.server.sampler.offline.ngram import shared_model
from grove_explorer.server.sampler.offline.steps import UNPACED_YIELD_EVERY, decode_steps

DEFAULT_TEMPERATURE = 0.8
DEFAULT_TOP_P = 0.95
DEFAULT_MAX_TOKENS = 200
MAX_TOKENS_LIMIT = 4096
MAX_SEED = 2**63 - 1
# How much of a completion-mode document the n-gram history is fed.
_DOCUMENT_TAIL_CHARS = 2000
# Prompt counting: any word or any single non-space symbol.
_COUNT_TOKEN_RE = re.compile(r"\w+(?:['-]\w+)*|[^\w\s]")


_COUNTED_KEPT = 32
_COUNT_LOOKBACK = 8
"""How many messages back a counted prefix is looked for."""
_counted: PathMemo[int] = PathMemo(_COUNTED_KEPT)


def _path_count(texts: PathKey) -> int:
    """Words and punctuation marks of all `texts` (the path's messages), memoised by path.

    A deep path is counted on every turn, each time a message or two longer: a path that
    extends one counted recently (by up to `_COUNT_LOOKBACK` messages) costs only the
    messages since (`PathMemo` finds it without hashing the path).
    """
    length = len(texts)
    total = _counted.get(texts, length)
    if total is not None:
        return total
    start, total = 0, 0
    for back in range(1, min(_COUNT_LOOKBACK, length) + 1):
        prior = _counted.get(texts, length - back)
        if prior is not None:
            start, total = length - back, prior
            break
    total += sum(len(_COUNT_TOKEN_RE.findall(text)) for _, text in texts[start:])
    _counted.put(texts, length, total)
    return total


class OfflineSampler:
    """The default Sampler: an offline n-gram demo model with a configurable pace.

    `token_delay_ms` makes streams look like a remote model (and lets tests and demos watch
    tokens arrive); at zero delay it is as fast as the model allows. Paced streams step
    together, a token each per decode step, as a batched inference server's do (steps.py).

    `min_reply_tokens` is the length before which the model's end-of-paragraph event
    becomes a paragraph-break token instead of ending the reply; a request's
    `max_tokens` still caps the reply. Raising it makes long replies (benchmarks ask for
    500 tokens); the default keeps seeded replies byte-identical to earlier versions.
    """

    def __init__(
        self,
        token_delay_ms: float = 0.0,
        model_name: str = OFFLINE_MODEL_NAME,
        min_reply_tokens: int = DEFAULT_MIN_REPLY_TOKENS,
    ) -> None:
        if not math.isfinite(token_delay_ms) or token_delay_ms < 0:
            raise ValueError(f"token_delay_ms must be a finite number >= 0, got {token_delay_ms}.")
        if isinstance(min_reply_tokens, bool) or not isinstance(min_reply_tokens, int):
            raise ValueError(f"min_reply_tokens must be an integer, got {min_reply_tokens!r}.")
        if min_reply_tokens < 0:
            raise ValueError(f"min_reply_tokens must be >= 0, got {min_reply_tokens}.")
        self._delay_s = token_delay_ms / 1000.0
        self._min_reply_tokens = min_reply_tokens
        self._model_name = model_name
        self._model = shared_model()

    @property
    def model_name(self) -> str:
        """Name recorded on every response this sampler produces."""
        return self._model_name

    def resolve_params(self, requested: RequestedParams) -> ResolvedParams:
        """Fills defaults (a fresh random seed when none is given) and validates ranges.

        The resolved values are stored with each response, so a reply can be reproduced
        exactly by sending them back.
        """
        temperature = check_number(
            "temperature", requested.temperature, DEFAULT_TEMPERATURE, 0.0, MAX_TEMPERATURE
        )
        top_p = check_number("top_p", requested.top_p, DEFAULT_TOP_P, 0.0, 1.0)
        if top_p <= 0.0:
            raise InvalidParamsError(f"top_p must be greater than 0 and at most 1, got {top_p}.")
        max_tokens = check_integer(
            "max_tokens", requested.max_tokens, DEFAULT_MAX_TOKENS, 1, MAX_TOKENS_LIMIT
        )
        seed = requested.seed if requested.seed is not None else secrets.randbits(63)
        seed = check_integer("seed", seed, 0, 0, MAX_SEED)
        return ResolvedParams(
            temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed
        )

    def describe(self) -> ModelDescription:
        """The offline model's entry in ListModels."""
        return ModelDescription(
            name=self._model_name,
            backend="offline",
            upstream_model="n-gram demo model (built in)",
            description="Built-in offline demo model: no network, no weights, reproducible.",
            default_temperature=DEFAULT_TEMPERATURE,
            default_top_p=DEFAULT_TOP_P,
            default_max_tokens=DEFAULT_MAX_TOKENS,
            supports_logprobs=True,
            modes=self.modes,
        )

    @property
    def supports_prefix(self) -> bool:
        """True: the n-gram history simply continues after a given prefix."""
        return True

    @property
    def modes(self) -> tuple[SamplingMode, ...]:
        """Chat (the default) and completion: an n-gram model continues any text."""
        return (SamplingMode.CHAT, SamplingMode.COMPLETION)

    async def generate_title(self, path: Sequence[PathMessage]) -> str | None:
        """None: an n-gram model writes no useful titles; the server's heuristic does."""
        return None

    async def complete(
        self,
        system: str,
        prompt: str,
        params: ResolvedParams,
        *,
        json_schema: Mapping[str, Any] | None = None,
    ) -> Completion:
        """n-gram prose answering `prompt` (no structure: judges use `heuristic_judgement`)."""
        pieces: list[str] = []
        finish: FinishReason | None = None
        async for event in self.sample([PathMessage("human", prompt)], params, top_logprobs=0):
            if isinstance(event, SampledToken):
                pieces.append(event.text)
            elif isinstance(event, Finish):
                finish = event.reason
        return Completion("".join(pieces), finish)

    def heuristic_judgement(self, rubric: str, prompt: str, reply: str) -> tuple[float, str]:
        """The demo judge (offline/judge.py): rubric and prompt word coverage, fluency."""
        return heuristic_judgement(self._model, rubric, prompt, reply)

    def prepare(self) -> None:
        """Nothing to prepare: the model is built on first use (the corpus is small)."""

    async def aclose(self) -> None:
        """Nothing to release: the model lives in memory."""

    def count_tokens(self, path: Sequence[PathMessage]) -> int:
        """Counts words and punctuation marks of the path, a stand-in for prompt tokens."""
        return _path_count(path_key(path))  # a tuple or SharedPath is not copied

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
        """Streams the reply word by word; at most `params.max_tokens` tokens, then `Finish`.

        In completion mode the n-gram history continues the path's document (its last
        `_DOCUMENT_TAIL_CHARS`: an n-gram model sees only the last few words anyway).

        The prompt's text means nothing to an n-gram model; the name "fun" raises the
        temperature a little and favours exclamation marks (the seed's fun mode). With a
        `prefix` the reply continues after it (the prefix itself is not yielded). The
        finish is `LENGTH` only when the model would have gone on after max_tokens (one
        more draw tells; it is never sent), so a reply that ends exactly there is `STOP`.
        """
        run = Run(
            self._model,
            path,
            params,
            top_logprobs,
            fun=system_prompt_name == "fun",
            min_reply_tokens=self._min_reply_tokens,
        )
        if mode is SamplingMode.COMPLETION:
            run.continue_document(document_of(path)[-_DOCUMENT_TAIL_CHARS:])
        if prefix:
            run.feed(prefix)
        steps = decode_steps(self._delay_s) if self._delay_s > 0 else None
        for i in range(params.max_tokens):
            if i:
                if steps is not None:
                    await steps.next_step()  # with every stream of this pace (steps.py)
                elif i % UNPACED_YIELD_EVERY == 0:
                    await asyncio.sleep(0)
            token = run.next_token()
            if token is None:
                yield Finish(FinishReason.STOP)
                return
            yield token
        ended = run.next_token() is None
        yield Finish(FinishReason.STOP if ended else FinishReason.LENGTH)
