"""The SDK's `Response`: a handle on one response of a conversation's forest.

Name for name the seed's `Response` (fields, `replace`, `resample`, `select`, `share`,
`parent_response`, `children`) plus the research extensions (`annotate`, `tokens`, …).
It holds no copy of the response's fields: it names a node of the conversation's
`client.forest.Forest` and reads it, so what `annotate` or `share` change — or what the
service shows — is what every handle sees. (A response that is not in its conversation's
forest, such as one built by hand from a wire message, keeps its own node.)
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncGenerator, Iterator, Sequence
from typing import Any, Protocol

from grove_explorer.client.convert import node_from_proto, token_from_proto
from grove_explorer.client.forest import Forest
from grove_explorer.client.judgements import Judgement
from grove_explorer.client.models import ReportedUsage, ResponseNode, TokenInfo
from grove_explorer.client.research import Annotation
from grove_explorer.client.rpc import check_text, fail, rpc
from grove_explorer.client.sampler import SamplingParams
from grove_explorer.client.token_stream import TokenStream
from grove_explorer.protos import chat_pb2, chat_pb2_grpc, sampler_public_pb2

TOKENS_PER_CALL = 1_000
"""Responses whose tokens one GetResponsesTokens call asks for (keeps each reply a few MB)."""


class ConversationHandle(Protocol):
    """What a `Response` needs of its conversation (the SDK's `Conversation` provides it).

    A protocol rather than the class itself, so this module does not import the
    conversation's (which imports it): no import circle.
    """

    @property
    def conversation_id(self) -> str:
        """The conversation's id."""

    @property
    def forest(self) -> Forest:
        """The forest whose nodes handles read."""

    def add_response(
        self,
        user_message: str,
        *,
        sampling: SamplingParams | None = None,
        top_logprobs: int = 0,
        mode: str | None = None,
    ) -> tuple[TokenStream, asyncio.Future[Response]]:
        """Samples a reply under the leaf (see `Conversation.add_response`)."""

    def set_leaf_response_id(self, leaf_response_id: str | None) -> None:
        """Moves the leaf."""

    def get_response(self, response_id: str) -> Response:
        """The handle of a response (KeyError if unknown)."""

    def get_children(self, parent_response_id: str) -> Iterator[Response]:
        """Handles of the children, oldest first."""

    def register_response(self, response: Response) -> None:
        """Adds a response to the forest."""


class Response:
    """Represents a single response in a conversation.

    Note that the properties of the response are cached client-side; reload the
    conversation to refresh them.
    """

    __slots__ = ("_conversation", "_own", "_response_id", "_stub")

    def __init__(
        self,
        response: chat_pb2.Response | ResponseNode,
        conversation: ConversationHandle,
        stub: chat_pb2_grpc.ChatStub,
    ):
        """Initializes a new instance of the `Response` class.

        Args:
            response: Raw proto response object returned from the API (or its forest node).
            conversation: Conversation this response belongs to.
            stub: Stub used to communicate with the server.
        """
        node = response if isinstance(response, ResponseNode) else node_from_proto(response)
        self._own = node
        self._response_id = node.response_id
        self._conversation = conversation
        self._stub = stub

    # -- the node ---------------------------------------------------------------------------

    @property
    def node(self) -> ResponseNode:
        """Extension: the forest's node for this response (every field, as the UI sees it)."""
        node = self._conversation.forest.responses.get(self._response_id)
        return self._own if node is None or node.streaming else node

    def _replace_node(self, node: ResponseNode) -> None:
        """Stores a changed node in the forest (or keeps it, when the forest has none)."""
        forest = self._conversation.forest
        if self._response_id in forest.responses:
            forest.add(node)
        self._own = node

    @property
    def proto(self) -> chat_pb2.Response:
        """The raw wire message (read-only use)."""
        wire = self.node._proto
        return wire if wire is not None else chat_pb2.Response(response_id=self._response_id)

    # -- seed fields ------------------------------------------------------------------------

    @property
    def response_id(self) -> str:
        """Returns the ID of this response."""
        return self._response_id

    @property
    def message(self) -> str:
        """Returns the message content."""
        return self.node.message

    @property
    def sender(self) -> str:
        """Returns the sender: "human" for a person, "model" for the model."""
        return self.node.sender

    @property
    def create_time(self) -> datetime.datetime:
        """Returns the time when this response was created."""
        created = self.node.create_time
        return created if created is not None else datetime.datetime.fromtimestamp(0, datetime.UTC)

    @property
    def start_time(self) -> datetime.datetime:
        """Extension: when making this response began; siblings are numbered in this order.

        The start of its stream for a sampled reply (it is stored when it ends), else the
        creation time.
        """
        return self.node.start_time or self.create_time

    @property
    def parent_response_id(self) -> str | None:
        """Returns the ID of the parent response in the response graph."""
        return self.node.parent_id

    @property
    def manual(self) -> bool:
        """Returns True if the response was created manually via the API."""
        return self.node.manual

    @property
    def partial(self) -> bool:
        """Returns True if the response represents a partial model output."""
        return self.node.partial

    @property
    def finish_reason(self) -> str:
        """Extension: why sampling ended ("stop", "length" for max_tokens, "stopped", …).

        "" when unknown: human messages, manual replies, replies stored before the server
        recorded it. `client.finish.reply_marker` words it for people.
        """
        return self.node.finish_reason

    @property
    def shared(self) -> bool:
        """Returns True if the response was shared publicly."""
        return self.node.shared

    @property
    def query(self) -> str:
        """Returns the query string used by the model if the model performed a query."""
        return self.node.query

    @property
    def query_type(self) -> str:
        """Returns the type of query performed by the model if it performed a query."""
        return self.node.query_type

    # -- provenance and research (extensions) -----------------------------------------------

    @property
    def model_name(self) -> str:
        """Name of the model that produced this response ("" for human or manual)."""
        return self.node.model_name

    @property
    def sampling_params(self) -> SamplingParams | None:
        """The sampling parameters actually used (with the seed), if sampled."""
        info = self.node.sampling
        if info is None:
            return None
        return SamplingParams(info.temperature, info.top_p, info.max_tokens, info.seed)

    @property
    def token_count(self) -> int:
        """How many tokens were received and stored (`tokens()`, a given prefix excluded).

        Never the backend's own usage figure, which may be an estimate: see
        `reported_usage`.
        """
        return self.node.token_count

    @property
    def reported_usage(self) -> ReportedUsage | None:
        """The backend's own usage figures (None if it reported none).

        Its `completion_tokens` may be an estimate that differs from `token_count`.
        """
        return self.node.reported_usage

    @property
    def time_to_first_token(self) -> float:
        """Seconds from the request to the first sampled token."""
        return self.node.time_to_first_token

    @property
    def total_time(self) -> float:
        """Seconds the whole sampling took."""
        return self.node.total_time

    @property
    def prefix_length(self) -> int:
        """Characters at the start of the message that were given, not sampled."""
        return self.node.prefix_length

    @property
    def annotation(self) -> Annotation:
        """Extension: this user's bookmark, tags, rating and note (empty when none)."""
        return self.node.annotation

    @property
    def judgements(self) -> tuple[Judgement, ...]:
        """Extension: this user's judgements of the reply, oldest first."""
        return self.node.judgements

    @property
    def merged_from(self) -> tuple[str, ...]:
        """Extension: the replies a fused reply was made from (empty for any other)."""
        return self.node.merged_from

    @property
    def merge_mode(self) -> str:
        """Extension: "fuse", "checklist" or "custom" for a fused reply, else ""."""
        return self.node.merge_mode

    @property
    def merge_instruction(self) -> str:
        """Extension: a fused reply's instruction (custom) or checked points (checklist)."""
        return self.node.merge_instruction

    @property
    def replay_of(self) -> str:
        """Extension: the original response a replayed turn replays ("" for any other)."""
        return self.node.replay_of

    @property
    def author_user_id(self) -> str:
        """Extension: who made it when not the conversation's owner (a writer); "" else."""
        return self.node.author

    @property
    def system_prompt_name(self) -> str | None:
        """Extension: the system prompt a sampled reply used ("" the default, None: none).

        None also for replies stored before the server recorded it (unknown).
        """
        return self.node.system_prompt_name

    async def annotate(
        self,
        *,
        bookmarked: bool | None = None,
        tags: Sequence[str] | None = None,
        rating: int | None = None,
        note: str | None = None,
    ) -> Annotation:
        """Changes this user's annotation (None keeps a field); returns it."""
        current = self.annotation
        wanted = Annotation(
            bookmarked=current.bookmarked if bookmarked is None else bookmarked,
            tags=current.tags if tags is None else tuple(check_text(tag) for tag in tags),
            rating=current.rating if rating is None else rating,
            note=current.note if note is None else check_text(note),
        )
        updated: chat_pb2.Response = await rpc(
            self._stub.AnnotateResponse(
                chat_pb2.AnnotateResponseRequest(
                    conversation_id=self._conversation.conversation_id,
                    response_id=self.response_id,
                    annotation=wanted.to_proto(),
                )
            )
        )
        fresh = node_from_proto(updated)
        node = self.node.model_copy(update={"annotation": fresh.annotation})
        node._proto = updated
        self._replace_node(node)
        return node.annotation

    async def tokens(self) -> list[TokenInfo]:
        """The reply's tokens with logprobs and top alternatives ([] if none).

        A given prefix (a branch from a token) is one token whose logprob is None.
        """
        reply: chat_pb2.GetResponseTokensResponse = await rpc(
            self._stub.GetResponseTokens(
                chat_pb2.GetResponseTokensRequest(
                    conversation_id=self._conversation.conversation_id,
                    response_id=self.response_id,
                )
            )
        )
        return [token_from_proto(t) for t in reply.tokens]

    @staticmethod
    async def tokens_of(responses: Sequence[Response]) -> dict[str, list[TokenInfo]]:
        """The tokens of many responses of one conversation, keyed by id ([] if none).

        One call per `TOKENS_PER_CALL` responses instead of one per response: an export of a
        5,000-reply path spent seconds in round trips. Each reply is bounded, not cut: the
        server answers every id asked or fails the call.
        """
        found = await Response.wire_tokens_of(responses)
        return {rid: [token_from_proto(t) for t in tokens] for rid, tokens in found.items()}

    @staticmethod
    async def wire_tokens_of(
        responses: Sequence[Response],
    ) -> dict[str, Sequence[sampler_public_pb2.Token]]:
        """Extension: `tokens_of` as the wire messages received (no `TokenInfo` built).

        For a reader that writes each token once (the JSON export of a 65,000-token path).
        """
        if not responses:
            return {}
        first = responses[0]
        conversation_id = first._conversation.conversation_id
        if any(r._conversation.conversation_id != conversation_id for r in responses):
            raise ValueError("tokens_of takes responses of one conversation")
        ids = [r.response_id for r in responses]
        found: dict[str, Sequence[sampler_public_pb2.Token]] = {}
        for start in range(0, len(ids), TOKENS_PER_CALL):
            reply: chat_pb2.GetResponsesTokensResponse = await rpc(
                first._stub.GetResponsesTokens(
                    chat_pb2.GetResponsesTokensRequest(
                        conversation_id=conversation_id,
                        response_ids=ids[start : start + TOKENS_PER_CALL],
                    )
                )
            )
            for entry in reply.responses:
                found[entry.response_id] = entry.tokens
        return found

    # -- branching --------------------------------------------------------------------------

    def replace(self, new_message: str) -> tuple[TokenStream, asyncio.Future[Response]]:
        """Replaces the text of this message with a new text.

        If this is a user response, a new user response with `new_message` is added beside
        it and a new model response is sampled. If this is a model response, a manual model
        response with `new_message` is stored beside it (the token stream yields that text
        once). In both cases the future resolves to the new model response, which becomes
        the leaf.
        """
        if self.sender == "human":
            check_text(new_message)  # refused before the leaf (the user's place) moves
            self._conversation.set_leaf_response_id(self.parent_response_id)
            return self._conversation.add_response(new_message)

        conversation = self._conversation
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()

        async def _manual_replacement() -> AsyncGenerator[str, None]:
            try:
                stored = await rpc(
                    self._stub.AddModelResponse(
                        chat_pb2.AddModelResponseRequest(
                            conversation_id=conversation.conversation_id,
                            message=check_text(new_message),
                            partial=False,
                            parent_response_id=self.parent_response_id or "",
                        )
                    )
                )
            except Exception as error:
                fail(future, error)
                raise
            new_response = Response(stored, conversation, self._stub)
            conversation.register_response(new_response)
            conversation.set_leaf_response_id(new_response.response_id)
            future.set_result(new_response)
            yield new_response.message

        async def _nothing_to_stop() -> bool:
            return False

        return TokenStream(_manual_replacement(), _nothing_to_stop), future

    async def resample(
        self,
        *,
        sampling: SamplingParams | None = None,
        top_logprobs: int = 0,
        mode: str | None = None,
    ) -> tuple[TokenStream, asyncio.Future[Response]]:
        """Resamples this response: adds a new sibling sampled from the model.

        Extension: `mode` as in `Conversation.add_response` ("completion" continues the
        parent's text).

        Raises:
            ValueError: If this response was generated by a human.
        """
        if self.sender == "human":
            raise ValueError("Cannot resample human responses.")
        self._conversation.set_leaf_response_id(self.parent_response_id)
        return self._conversation.add_response(
            "", sampling=sampling, top_logprobs=top_logprobs, mode=mode
        )

    def select(self) -> None:
        """Selects this response to be the most recent one in the conversation.

        Use this to go back to an earlier response. It moves the leaf of the conversation's
        one forest at once, so a service showing the conversation follows, and sends the
        choice to the server in the background: it is the user's place there, where every
        client (and a later `load()`) puts them. `await conversation.leaf_saved()` waits
        until the server has it and raises if storing it failed.
        """
        self._conversation.set_leaf_response_id(self.response_id)

    async def share(self) -> str:
        """Shares the conversation up to this point publicly.

        Returns:
            The URL of the shared conversation, built by the server from its share base.
        """
        reply: chat_pb2.ShareConversationResponse = await rpc(
            self._stub.ShareConversation(
                chat_pb2.ShareConversationRequest(
                    conversation_id=self._conversation.conversation_id,
                    response_id=self.response_id,
                )
            )
        )
        forest = self._conversation.forest
        if self._response_id in forest.responses:
            for node in forest.path_to(self._response_id):
                forest.add(_shared(node))
        self._own = _shared(self._own)
        return reply.share_url

    @property
    def parent_response(self) -> Response | None:
        """Returns the parent response or None if this is a root response.

        Raises:
            KeyError: If the parent response cannot be found.
        """
        if self.parent_response_id is not None:
            try:
                return self._conversation.get_response(self.parent_response_id)
            except KeyError as e:
                raise KeyError(
                    f"Cannot find parent response with ID {self.parent_response_id}."
                ) from e
        return None

    @property
    def children(self) -> list[Response]:
        """Returns a list of all child responses, oldest first."""
        return list(self._conversation.get_children(self.response_id))

    def __repr__(self) -> str:
        message = self.message
        text = message if len(message) <= 40 else message[:39] + "…"
        return f"Response({self.response_id!r}, {self.sender}, {text!r})"


def _shared(node: ResponseNode) -> ResponseNode:
    """The node marked shared (its wire message too)."""
    if node.shared:
        return node
    copy: Any = node.model_copy(update={"shared": True})
    if node._proto is not None:
        wire = chat_pb2.Response()
        wire.CopyFrom(node._proto)
        wire.shared = True
        copy._proto = wire
    return copy
