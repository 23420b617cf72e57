"""Embedding vectors from an OpenAI-compatible endpoint (`POST {base_url}/embeddings`).

`base_url` ends in `/v1` as configured, so the request goes to `.../v1/embeddings` with
the backend's `embeddings_model`, all texts in one request. The library's failures become
`SamplerError`s with the same sentences as a reply's (errors.py), so a wrong key or model
reads the same whether it was a reply or an embedding. An answer whose vectors do not
match the texts (count, order, or lengths) is refused as the backend's failure rather
than handed on: statistics over misaligned vectors would be silently wrong.
"""

from __future__ import annotations

from collections.abc import Sequence

from openai import AsyncOpenAI

from grove_explorer.server.sampler.base import SamplerError, SamplerErrorKind
from grove_explorer.server.sampler.openai_compat.errors import backend_error
from grove_explorer.server.sampler.openai_compat.settings import OpenAIBackendSettings


async def embed_texts(
    client: AsyncOpenAI, settings: OpenAIBackendSettings, texts: Sequence[str]
) -> list[list[float]]:
    """The embedding of each text, in order; SamplerError when the backend fails."""
    try:
        reply = await client.embeddings.create(
            model=settings.embeddings_model, input=list(texts), encoding_format="float"
        )
    except Exception as exc:
        raise backend_error(settings, exc, started=False, yielded=0) from exc
    data = sorted(reply.data, key=lambda item: item.index)
    if [item.index for item in data] != list(range(len(texts))):
        raise SamplerError(
            SamplerErrorKind.UNAVAILABLE,
            f"Backend '{settings.name}' returned {len(data)} embeddings for {len(texts)} "
            "texts (or out of order); none were used.",
        )
    vectors = [list(item.embedding) for item in data]
    lengths = {len(v) for v in vectors}
    if len(lengths) > 1 or 0 in lengths:
        raise SamplerError(
            SamplerErrorKind.UNAVAILABLE,
            f"Backend '{settings.name}' returned embeddings of unequal or zero length "
            f"({sorted(lengths)}); none were used.",
        )
    return vectors
