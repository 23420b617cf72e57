"""EmbedTexts: embedding vectors of texts from a model whose backend offers them.

Only an OpenAI-compatible backend with `embeddings_model` in its `[models.NAME]` table
offers embeddings (ListModels says so: `supports_embeddings`); any other model (the
offline one, a local GGUF model, an endpoint without the key) is FAILED_PRECONDITION with
a sentence naming the setting. Limits are checked before anything is sent: at least one
text, at most `MAX_EMBED_TEXTS` texts and `MAX_EMBED_CHARS` characters per text, each
text non-empty (endpoints refuse empty input); a call over a limit is refused whole with
the count, never cut short. The backend's failures map onto statuses as a reply's do
(`UPSTREAM_STATUS`, with the backend-error metadata the SDK turns into `BackendError`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn, Protocol, runtime_checkable

import grpc

from grove_explorer.protos import chat_pb2
from grove_explorer.server.sampler.base import Sampler, SamplerError
from grove_explorer.server.servicer.reply_streaming import (
    BACKEND_ERROR_KEY,
    RETRY_AFTER_KEY,
    UPSTREAM_STATUS,
)
from grove_explorer.server.servicer.status import abort, quote

MAX_EMBED_TEXTS = 256
"""Most texts one EmbedTexts call takes (a batch of siblings is far fewer)."""
MAX_EMBED_CHARS = 100_000
"""Most characters of one text (an embeddings model reads a few thousand tokens at most)."""


@runtime_checkable
class Embedder(Protocol):
    """A sampler that can also embed texts (today: an OpenAI-compatible backend)."""

    @property
    def embeddings_model(self) -> str:
        """The backend's embeddings model ("" when none is configured)."""
        ...

    async def embed_texts(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order; raises SamplerError when the backend fails."""
        ...


async def embed_texts_reply(
    sampler: Sampler, request: chat_pb2.EmbedTextsRequest, context: grpc.aio.ServicerContext
) -> chat_pb2.EmbedTextsResponse:
    """Checks the request, asks the sampler's backend, and answers with the vectors."""
    if not isinstance(sampler, Embedder) or not sampler.embeddings_model:
        await abort(
            context,
            grpc.StatusCode.FAILED_PRECONDITION,
            f"Model {quote(sampler.model_name)} offers no embeddings: set embeddings_model "
            'in its [models.NAME] table of an OpenAI-compatible backend (sampler = "openai").',
        )
    texts = list(request.texts)
    await _check_texts(texts, context)
    try:
        vectors = await sampler.embed_texts(texts)
    except SamplerError as failure:
        await _abort_backend(failure, context)
    return chat_pb2.EmbedTextsResponse(
        embeddings=[chat_pb2.Embedding(values=vector) for vector in vectors],
        embeddings_model=sampler.embeddings_model,
    )


async def _check_texts(texts: Sequence[str], context: grpc.aio.ServicerContext) -> None:
    if not texts:
        await abort(
            context, grpc.StatusCode.INVALID_ARGUMENT, "EmbedTexts needs at least one text."
        )
    if len(texts) > MAX_EMBED_TEXTS:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{len(texts)} texts are more than one EmbedTexts call takes ({MAX_EMBED_TEXTS}); "
            "send them in several calls.",
        )
    for number, text in enumerate(texts, 1):
        if not text.strip():
            await abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Text {number} of {len(texts)} is empty: an embedding needs some text.",
            )
        if len(text) > MAX_EMBED_CHARS:
            await abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Text {number} of {len(texts)} has {len(text):,} characters; at most "
                f"{MAX_EMBED_CHARS:,} can be embedded.",
            )


async def _abort_backend(failure: SamplerError, context: grpc.aio.ServicerContext) -> NoReturn:
    """Ends the call with the backend failure's status, as a failed reply would."""
    trailing = [(BACKEND_ERROR_KEY, failure.kind.value)]
    if failure.retry_after_seconds is not None:
        trailing.append((RETRY_AFTER_KEY, f"{failure.retry_after_seconds:g}"))
    await context.abort(
        UPSTREAM_STATUS[failure.kind], failure.message, trailing_metadata=tuple(trailing)
    )
    raise AssertionError("unreachable: context.abort raises")  # pragma: no cover
