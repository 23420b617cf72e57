"""The SDK's side of EmbedTexts: embedding vectors of texts, as a plain pydantic result.

Only a model whose backend has an embeddings model offers them (`ModelInfo.
supports_embeddings`); another model raises `FailedPreconditionError` with the server's
sentence, a backend failure `BackendError`. Texts are sent in chunks of at most
`MAX_TEXTS_PER_CALL` (the server's limit), so a caller with a big batch need not know it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from grove_explorer.client.rpc import check_text, rpc

if TYPE_CHECKING:
    from grove_explorer.protos import chat_pb2_grpc

MAX_TEXTS_PER_CALL = 256
"""The server's limit of texts per EmbedTexts call (server/servicer/embedding.py)."""


class Embeddings(BaseModel):
    """One vector per text, in the texts' order, and the backend model that made them."""

    model_config = ConfigDict(frozen=True)

    vectors: tuple[tuple[float, ...], ...]
    embeddings_model: str
    model_name: str = ""


async def embed_texts(
    stub: chat_pb2_grpc.ChatStub, texts: Sequence[str], model_name: str = ""
) -> Embeddings:
    """Asks the server for the embeddings of `texts` (see the module docstring)."""
    from grove_explorer.protos import chat_pb2

    vectors: list[tuple[float, ...]] = []
    used = ""
    for start in range(0, len(texts), MAX_TEXTS_PER_CALL) or (0,):
        chunk = [check_text(t) for t in texts[start : start + MAX_TEXTS_PER_CALL]]
        reply: chat_pb2.EmbedTextsResponse = await rpc(
            stub.EmbedTexts(chat_pb2.EmbedTextsRequest(model_name=model_name, texts=chunk))
        )
        vectors.extend(tuple(e.values) for e in reply.embeddings)
        used = reply.embeddings_model
    return Embeddings(vectors=tuple(vectors), embeddings_model=used, model_name=model_name)
