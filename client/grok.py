"""The Grok SDK's entry point, name for name: `AsyncGrok` (and `Conversation`, `Response`).

This follows the seed's public API and semantics, with its known defects fixed (see
`client.conversation` and `client.response`); `share` returns the URL the server builds
from its configured share base. Errors from the server are raised as the typed exceptions
of `client.errors` — to the future and, unlike the seed, also to whoever iterates the
token stream, so a failure is never silent.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from google.protobuf import empty_pb2

from grove_explorer.client.errors import NotFoundError
from grove_explorer.client.ids import FULL_ID_LENGTH, MIN_PREFIX, resolve_id
from grove_explorer.client.import_call import import_in_chunks, request_chunks
from grove_explorer.client.rpc import check_text, rpc
from grove_explorer.protos import chat_pb2, chat_pb2_grpc

# The conversation, arena, catalog, search and sharing parts (and pydantic, which their
# models use) are imported where they are used: a client that only imports a file or
# lists conversations (`grove import`, `grove ls`) does not pay for them at start-up
# (issue 13; tests/app/test_start_lazy.py).
if TYPE_CHECKING:
    from grove_explorer.client.arena import Outcome, Setup, Vote
    from grove_explorer.client.catalog import ModelCatalog
    from grove_explorer.client.conversation import Conversation
    from grove_explorer.client.embeddings import Embeddings
    from grove_explorer.client.research import SearchResults
    from grove_explorer.client.response import Response

__all__ = ["AsyncGrok", "Conversation", "Response"]


def __getattr__(name: str) -> Any:
    """`Conversation` and `Response`, re-exported here as the seed's module did, on use."""
    if name == "Conversation":
        from grove_explorer.client.conversation import Conversation

        return Conversation
    if name == "Response":
        from grove_explorer.client.response import Response

        return Response
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class AsyncGrok:
    """Allows talking to Grok via the API.

    Note that all conversations performed via this API are stored on the server it talks
    to, and visible to every client of the same user.
    """

    def __init__(self, stub: chat_pb2_grpc.ChatStub):
        """Initializes a new instance of the `AsyncGrok` class.

        Args:
            stub: gRPC Stub used to communicate with the server.
        """
        self._stub = stub
        # Conversations handed out, so closing the client can send their pending places.
        self._conversations: weakref.WeakSet[Conversation] = weakref.WeakSet()

    async def flush_leaves(self) -> None:
        """Extension: waits until every conversation's leaf choice reached the server.

        Failures stay with each conversation (`leaf_saved()` raises them); they were logged.
        """
        for conversation in list(self._conversations):
            await conversation.flush_leaf()

    def create_conversation(self, model_name: str = "", fun_mode: bool = False) -> Conversation:
        """Creates a new empty conversation (on the server at its first API call).

        Args:
            model_name: Name of the model to use for this conversation. Leave empty to use the
                default model.
            fun_mode: Whether fun mode shall be enabled for this conversation.

        Returns:
            Newly created conversation.
        """
        from grove_explorer.client.conversation import Conversation

        conversation = Conversation(self._stub, model_name, fun_mode, None)
        self._conversations.add(conversation)
        return conversation

    async def get_conversation(
        self, conversation_id: str, model_name: str = "", fun_mode: bool = False
    ) -> Conversation:
        """Loads an existing conversation based on its ID.

        Args:
            conversation_id: ID of the conversation to load.
            model_name: Name of the model to use for this conversation. Leave empty to use the
                default model.
            fun_mode: Whether fun mode shall be enabled for this conversation.

        Returns:
            Loaded conversation.

        Extension: a unique prefix of the id (at least 4 characters, as headers and `grove
        ls` show them) names it too, resolved against `list_conversations`; so does a share
        link (a URL: ShareConversation's, for a conversation shared with the caller).

        Raises:
            NotFoundError: If no such conversation exists.
            AmbiguousIdError: If the prefix starts several of the user's conversation ids.
        """
        from grove_explorer.client.conversation import Conversation
        from grove_explorer.client.sharing import looks_like_link, resolve_share_link

        wanted = conversation_id.strip()
        if looks_like_link(wanted):  # a share link (ShareConversation's URL) names it
            conversation_id, _ = await resolve_share_link(self._stub, wanted)
            wanted = conversation_id
        if MIN_PREFIX <= len(wanted) < FULL_ID_LENGTH:
            listed = [c.conversation_id for c in await self.list_conversations()]
            found = resolve_id(wanted, listed, "conversation")
            if found is None:
                raise NotFoundError(
                    f"No conversation id starts with {wanted!r} "
                    f"(among {len(listed)} conversations)."
                )
            conversation_id = found
        c = Conversation(self._stub, model_name, fun_mode, conversation_id)
        self._conversations.add(c)
        await c.load()
        return c

    async def resolve_share_link(self, link: str) -> tuple[str, str]:
        """Extension: the conversation id and the response id ("" : none) a share link names.

        What `get_conversation(link)` opens, plus where the link points, so a reader can
        be shown the linked response rather than their own place. Raises NotFoundError
        when the caller may not read it, InvalidArgumentError when it is no share link.
        """
        from grove_explorer.client.sharing import resolve_share_link

        return await resolve_share_link(self._stub, link)

    async def list_models(self) -> ModelCatalog:
        """Extension: the models this server samples from and its named system prompts."""
        from grove_explorer.client.catalog import ModelCatalog

        reply: chat_pb2.ListModelsResponse = await rpc(self._stub.ListModels(empty_pb2.Empty()))
        return ModelCatalog.from_proto(reply)

    async def embed(self, texts: Sequence[str], model_name: str = "") -> Embeddings:
        """Extension: an embedding vector per text from `model_name`'s backend ("" = default).

        Raises FailedPreconditionError when that model offers no embeddings
        (`ModelInfo.supports_embeddings`), BackendError when its backend fails.
        """
        from grove_explorer.client.embeddings import embed_texts

        return await embed_texts(self._stub, texts, model_name)

    async def record_vote(
        self,
        conversation_id: str,
        parent_response_id: str,
        response_a: str,
        response_b: str,
        setup_a: Setup,
        setup_b: Setup,
        outcome: Outcome,
    ) -> Vote:
        """Extension: stores a blind arena vote on two model replies to one parent."""
        from grove_explorer.client.arena import record_vote

        return await record_vote(
            self._stub,
            conversation_id,
            parent_response_id,
            response_a,
            response_b,
            setup_a,
            setup_b,
            outcome,
        )

    async def list_votes(self, conversation_id: str = "") -> list[Vote]:
        """Extension: the caller's arena votes, oldest first (of one conversation, or all)."""
        from grove_explorer.client.arena import list_votes

        return await list_votes(self._stub, conversation_id)

    async def search(self, query: str, limit: int = 0, offset: int = 0) -> SearchResults:
        """Extension: full-text search over this user's conversations, best first.

        `query` takes words (with "phrases", prefix*, OR, NOT) and filters: sender:human,
        sender:model, model:NAME, tag:X, rated:+, rated:-, bookmarked, partial. One call
        returns at most `limit` hits (0: the server's default, 50; at most 10,000) from
        `offset` on; the result is a list of them whose `total` counts every hit, so a
        caller sees when there are more and pages on with `offset=results.next_offset`.
        """
        from grove_explorer.client.research import SearchHit, SearchResults

        reply: chat_pb2.SearchResponse = await rpc(
            self._stub.Search(
                chat_pb2.SearchRequest(query=check_text(query), limit=limit, offset=offset)
            )
        )
        return SearchResults(
            (SearchHit.from_proto(hit) for hit in reply.hits), total=reply.total, offset=offset
        )

    async def import_conversation(
        self, request: chat_pb2.ImportConversationRequest
    ) -> Conversation:
        """Extension: stores an exported forest as a new conversation and loads it."""
        from grove_explorer.client.conversation import Conversation

        created = await self.import_conversation_wire(request)
        # The reply holds every stored response already: loading it again would read,
        # send and convert the whole forest a second time.
        conversation = Conversation(self._stub, "", False, created.conversation_id)
        self._conversations.add(conversation)
        conversation.adopt(created)
        return conversation

    async def import_conversation_wire(
        self, request: chat_pb2.ImportConversationRequest, *, summary_only: bool = False
    ) -> chat_pb2.Conversation:
        """Extension: stores an exported forest as a new conversation; the server's reply.

        The reply holds the new conversation as stored (id, title, times, every response),
        not loaded into a `Conversation`: for a caller that wants its id or metadata only
        (`grove import`), since building the forest of a long import costs more than the
        import itself. `summary_only` sets the request's flag: the reply then carries the
        metadata and response_count without the responses.
        """
        if summary_only:  # set on `request` itself: a copy of a long import costs a copy
            request.summary_only = True
        return await import_in_chunks(self._stub, request_chunks(request))

    async def import_conversation_chunks(
        self, chunks: Iterable[chat_pb2.ImportChunk]
    ) -> chat_pb2.Conversation:
        """Extension: an import sent in chunks made as they go (`import_chunks` of a file).

        The server stores each chunk while the next is made; an error the chunks raise
        cancels the call (nothing stored) and is raised here. See `client.import_call`.
        """
        return await import_in_chunks(self._stub, chunks)

    async def list_conversations(self) -> list[chat_pb2.Conversation]:
        """Returns a list of all conversations (without their responses), newest first."""
        response: chat_pb2.ListConversationsResponse = await rpc(
            self._stub.ListConversations(empty_pb2.Empty())
        )
        return list(response.conversations)
