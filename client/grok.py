"""The Grok SDK, name for name: `AsyncGrok`, `Conversation` and `Response`.

This follows the seed's public API and semantics, with its known defects fixed:
`get_children` selects children (not the response itself), `Response.replace` on a model
response returns `(token_stream, future)`, a future that is already resolved is never set
twice, properties of an unloaded conversation raise `ConversationNotLoadedError`, a second
concurrent sample on one `Conversation` raises `ConcurrentSamplingError`, and `share`
returns the URL the server builds from its configured share base. Errors from the server
are raised as the typed exceptions of `client.errors` — to the future and, unlike the
seed, also to whoever iterates the token stream, so a failure is never silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Sequence
from typing import Any

import grpc
from google.protobuf import empty_pb2

from grove_explorer.client import sampler
from grove_explorer.client.catalog import ModelCatalog
from grove_explorer.client.errors import (
    ConcurrentSamplingError,
    ConversationDeletedError,
    ConversationNotLoadedError,
    MissingModelResponseError,
    translate,
    unencodable_text,
)
from grove_explorer.client.research import Annotation, SearchHit
from grove_explorer.client.sampler import SamplingParams
from grove_explorer.client.streams import (
    BudgetEvent,
    ModelResponseEvent,
    QueryEvent,
    SampleStream,
    StreamEvent,
    TokenInfo,
    TokensEvent,
    TokenStream,
    UserResponseEvent,
)
from grove_explorer.protos import chat_pb2, chat_pb2_grpc, sampler_public_pb2

log = logging.getLogger(__name__)

# Parent marker meaning "the conversation's current leaf", resolved when the stream starts
# (as in the seed, where the request is built on the first iteration).
_LEAF = object()


def _convert_proto_timestamp(value: Any) -> datetime.datetime:
    """Converts a protobuf Timestamp to an aware UTC datetime."""
    return value.ToDatetime(tzinfo=datetime.UTC)


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    """Fails `future` with `error`, marked as retrieved.

    Every caller also raises the error to whoever iterates the stream, so asyncio need not
    warn that the future's exception was never retrieved.
    """
    future.set_exception(error)
    future.exception()


def _token_info(token: sampler_public_pb2.Token) -> TokenInfo:
    """A wire token as the SDK's TokenInfo (an unknown logprob becomes None, never 0)."""
    return TokenInfo(
        token.final_logit.string_token,
        None if token.logprob_unknown else token.final_logit.logprob,
        tuple((a.string_token, a.logprob) for a in token.top_logits),
    )


def _check_text(text: str) -> str:
    """Refuses text that cannot travel as UTF-8 before a request is built."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise unencodable_text(error) from None
    return text


async def _rpc(awaitable: Awaitable[Any]) -> Any:
    """Awaits a unary call, raising the SDK's typed exception on failure."""
    try:
        return await awaitable
    except grpc.RpcError as error:
        raise translate(error) from None
    except UnicodeEncodeError as error:
        raise unencodable_text(error) from None


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

    def create_conversation(self, model_name: str = "", fun_mode: bool = False) -> Conversation:
        """Creates a new empty conversation (on the server at its first API call).

        Args:
            model_name: Name of the model to use for this conversation. Leave empty to use the
                default model.
            fun_mode: Whether fun mode shall be enabled for this conversation.

        Returns:
            Newly created conversation.
        """
        return Conversation(self._stub, model_name, fun_mode, None)

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

        Raises:
            NotFoundError: If no such conversation exists.
        """
        c = Conversation(self._stub, model_name, fun_mode, conversation_id)
        await c.load()
        return c

    async def list_models(self) -> ModelCatalog:
        """Extension: the models this server samples from and its named system prompts."""
        reply: chat_pb2.ListModelsResponse = await _rpc(self._stub.ListModels(empty_pb2.Empty()))
        return ModelCatalog.from_proto(reply)

    async def search(self, query: str, limit: int = 0) -> list[SearchHit]:
        """Extension: full-text search over this user's conversations, best first.

        `query` takes words (with "phrases", prefix*, OR, NOT) and filters: sender:human,
        sender:model, model:NAME, tag:X, rated:+, rated:-, bookmarked, partial.
        """
        reply: chat_pb2.SearchResponse = await _rpc(
            self._stub.Search(chat_pb2.SearchRequest(query=_check_text(query), limit=limit))
        )
        return [SearchHit.from_proto(hit) for hit in reply.hits]

    async def import_conversation(
        self, request: chat_pb2.ImportConversationRequest
    ) -> Conversation:
        """Extension: stores an exported forest as a new conversation and loads it."""
        created: chat_pb2.Conversation = await _rpc(self._stub.ImportConversation(request))
        return await self.get_conversation(created.conversation_id)

    async def list_conversations(self) -> list[chat_pb2.Conversation]:
        """Returns a list of all conversations (without their responses), newest first."""
        response: chat_pb2.ListConversationsResponse = await _rpc(
            self._stub.ListConversations(empty_pb2.Empty())
        )
        return list(response.conversations)


class Conversation:
    """SDK for interacting with a Grok conversation.

    A Grok conversation is composed of a forest of responses. It's not a tree because there
    can be multiple root nodes. Each connected component in the response graph is, however, a
    tree. Responses can be created by a human user or sampled from Grok. Users can also store
    responses with Grok indicated as the sender, which is useful for debugging and research
    purposes.

    Note that the properties of the conversation are cached client-side.

    Important: only a single response may be sampled through `add_response` at any point in
    time; a second one raises `ConcurrentSamplingError`. Use `sample()` to run several
    streams at once with explicit parents.
    """

    def __init__(
        self,
        stub: chat_pb2_grpc.ChatStub,
        model_name: str,
        fun_mode: bool,
        conversation_id: str | None,
        dev_only_use_grok: bool = True,
    ):
        """Initializes a new instance of the `Conversation` class.

        Args:
            stub: gRPC stub used to communicate with the server.
            model_name: Name of the model to use for this conversation.
            fun_mode: True if fun mode shall be enabled for this conversation.
            conversation_id: ID of this conversation. If no ID was provided, a new
                conversation is created when the first API call is issued.
            dev_only_use_grok: By setting this to `False`, the conversation is with the raw
                model instead of with Grok. This means there is no support for searching or
                fun mode.
        """
        self._stub = stub
        self._model_name = model_name
        self._fun_mode = fun_mode
        self._conversation_id: str | None = conversation_id
        self._conversation: chat_pb2.Conversation | None = None
        self._use_grok = dev_only_use_grok
        self._system_prompt_name: str | None = None
        self._deleted = False
        self._responses: dict[str, Response] = {}
        self._leaf_response_id: str | None = None
        self._sampling = False

    # -- properties -----------------------------------------------------------------------

    @property
    def conversation_id(self) -> str:
        """Returns the ID of this conversation.

        Raises:
            ConversationNotLoadedError: if no conversation has been created or loaded yet.
        """
        self._check_not_deleted()
        return self._get_conversation_or_raise().conversation_id

    @property
    def title(self) -> str:
        """Returns the title of this conversation."""
        self._check_not_deleted()
        return self._get_conversation_or_raise().title

    @property
    def create_time(self) -> datetime.datetime:
        """Returns the time when this conversation was created."""
        self._check_not_deleted()
        return _convert_proto_timestamp(self._get_conversation_or_raise().create_time)

    @property
    def starred(self) -> bool:
        """Returns whether the conversation is starred."""
        self._check_not_deleted()
        return self._get_conversation_or_raise().starred

    @property
    def leaf_response_id(self) -> str | None:
        """The response the next `add_response` will answer (None: a new root)."""
        return self._leaf_response_id

    @property
    def model_name(self) -> str:
        """The model this conversation samples from ("" for the server's default)."""
        return self._model_name

    @property
    def system_prompt_name(self) -> str:
        """The named system prompt requests ask for ("fun" in fun mode, else "")."""
        if self._system_prompt_name is not None:
            return self._system_prompt_name
        return "fun" if self._fun_mode else ""

    @property
    def uses_system_prompt(self) -> bool:
        """False for a "raw model" conversation (`dev_only_use_grok=False`)."""
        return self._use_grok

    def configure(
        self,
        *,
        model_name: str | None = None,
        system_prompt_name: str | None = None,
        use_system_prompt: bool | None = None,
    ) -> None:
        """Extension: changes the model or system prompt later requests use.

        Responses already sampled keep the model that produced them (`Response.model_name`);
        only new ones follow the change. None leaves a setting as it is.
        """
        if model_name is not None:
            self._model_name = model_name
        if system_prompt_name is not None:
            self._system_prompt_name = system_prompt_name
        if use_system_prompt is not None:
            self._use_grok = use_system_prompt

    @property
    def is_sampling(self) -> bool:
        """True while an `add_response` stream is running."""
        return self._sampling

    # -- title and star -------------------------------------------------------------------

    async def set_title(self, title: str) -> None:
        """Updates the title of this conversation."""
        self._check_not_deleted()
        conversation = self._get_conversation_or_raise()
        await _rpc(
            self._stub.UpdateConversation(
                chat_pb2.UpdateConversationRequest(
                    conversation_id=conversation.conversation_id,
                    title=_check_text(title),
                    starred=conversation.starred,
                )
            )
        )
        conversation.title = title

    async def generate_title(self) -> str:
        """Automatically generates a title for this conversation from its current path.

        Returns:
            The newly generated title.
        """
        self._check_not_deleted()
        conversation = self._get_conversation_or_raise()
        response: chat_pb2.GenerateTitleResponse = await _rpc(
            self._stub.GenerateTitle(
                chat_pb2.GenerateTitleRequest(
                    conversation_id=conversation.conversation_id,
                    leaf_response_id=self._leaf_response_id or "",
                )
            )
        )
        conversation.title = response.new_title
        return response.new_title

    async def star(self) -> None:
        """Stars this conversation."""
        await self._set_starred(True)

    async def unstar(self) -> None:
        """Unstars this conversation."""
        await self._set_starred(False)

    async def _set_starred(self, starred: bool) -> None:
        self._check_not_deleted()
        conversation = self._get_conversation_or_raise()
        await _rpc(
            self._stub.UpdateConversation(
                chat_pb2.UpdateConversationRequest(
                    conversation_id=conversation.conversation_id,
                    title=conversation.title,
                    starred=starred,
                )
            )
        )
        conversation.starred = starred

    # -- loading and deleting -------------------------------------------------------------

    async def load(self) -> None:
        """Loads the conversation and all its responses from the API.

        The leaf becomes the most recently created response, as in the seed.

        Raises:
            ValueError: If no conversation ID was provided.
            NotFoundError: If the conversation does not exist.
        """
        self._check_not_deleted()
        if self._conversation_id is None:
            raise ConversationNotLoadedError(
                "Cannot load conversation without providing conversation ID."
            )
        self._conversation = await _rpc(
            self._stub.GetConversation(
                chat_pb2.GetConversationRequest(conversation_id=self._conversation_id)
            )
        )
        self._responses = {
            r.response_id: Response(r, self, self._stub) for r in self._conversation.responses
        }
        if self._conversation.responses:
            self._leaf_response_id = self._conversation.responses[-1].response_id
        else:
            self._leaf_response_id = None

    async def delete(self) -> None:
        """Deletes this conversation."""
        self._check_not_deleted()
        await _rpc(
            self._stub.DeleteConversation(
                chat_pb2.DeleteConversationRequest(
                    conversation_id=self._get_conversation_or_raise().conversation_id
                )
            )
        )
        self._deleted = True

    async def ensure_created(self) -> None:
        """Creates the conversation on the server (or loads it) if not done yet."""
        self._check_not_deleted()
        if self._conversation_id is None:
            await self._create_conversation()
        if self._conversation is None:
            await self.load()

    # -- sampling -------------------------------------------------------------------------

    def add_response(
        self,
        user_message: str,
        *,
        sampling: SamplingParams | None = None,
        top_logprobs: int = 0,
    ) -> tuple[TokenStream, asyncio.Future[Response]]:
        """Adds a new response to this conversation.

        The response is added to the graph with its parent being the current `leaf`
        response. You must iterate the token stream for the future to resolve.

        Args:
            user_message: Message written by the user. If empty, no user response is
                generated and only a model response is sampled.
            sampling: Extension: sampling parameters (None fields use server defaults).
            top_logprobs: Extension: how many alternatives the server reports per token.

        Returns:
            A tuple `(token_stream, new_model_response)`: an async generator of the text
            snippets the model emits, and a future that resolves to the new model response.

        Raises:
            ConcurrentSamplingError: If another `add_response` stream is still running.
        """
        self._check_not_deleted()
        if self._sampling:
            raise ConcurrentSamplingError(
                "This conversation is already sampling a response; wait for it to finish "
                "(or use Conversation.sample for parallel streams)."
            )
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        request_id = uuid.uuid4().hex
        wire = self._stream(
            user_message, _LEAF, sampling, top_logprobs, request_id, future, exclusive=True
        )
        return TokenStream(_texts(wire), self._stopper(request_id)), future

    def sample(
        self,
        user_message: str = "",
        *,
        parent_response_id: str | None,
        sampling: SamplingParams | None = None,
        top_logprobs: int = 0,
        select: bool = False,
        model_name: str | None = None,
        prefix: str = "",
    ) -> SampleStream:
        """Extension: samples under an explicit parent, as typed events.

        Unlike `add_response`, several `sample` streams may run at once (the server keeps
        the forest consistent), and the leaf moves to the new model response only when
        `select` is true. `model_name` overrides the conversation's model for this stream
        only; `prefix` starts the model reply with given text and samples on from it (a
        branch from a token). The conversation must have been created or loaded.
        """
        self._check_not_deleted()
        self._get_conversation_or_raise()
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        request_id = uuid.uuid4().hex
        wire = self._stream(
            user_message,
            parent_response_id,
            sampling,
            top_logprobs,
            request_id,
            future,
            exclusive=False,
            select=select,
            model_name=model_name,
            prefix=prefix,
        )
        return SampleStream(_events(wire, self), future, self._stopper(request_id), request_id)

    def _stopper(self, request_id: str) -> Callable[[], Awaitable[bool]]:
        async def stop() -> bool:
            reply: chat_pb2.StopResponseResponse = await _rpc(
                self._stub.StopResponse(chat_pb2.StopResponseRequest(request_id=request_id))
            )
            return reply.stopped

        return stop

    async def _stream(
        self,
        user_message: str,
        parent: object,
        sampling: SamplingParams | None,
        top_logprobs: int,
        request_id: str,
        future: asyncio.Future[Response],
        *,
        exclusive: bool,
        select: bool = True,
        model_name: str | None = None,
        prefix: str = "",
    ) -> AsyncGenerator[chat_pb2.AddResponseResponse, None]:
        """Runs one AddResponse call, keeping the response cache and leaf up to date.

        Yields every wire message; resolves `future` with the model response. On failure
        the typed error goes to the future (unless it already resolved: a backend that fails
        mid-reply sends the partial reply first) and is raised to the consumer either way.
        Closing the generator cancels the call and cancels the future.
        """
        if exclusive:
            if self._sampling:
                busy = ConcurrentSamplingError(
                    "This conversation is already sampling a response; wait for it to finish."
                )
                _fail(future, busy)
                raise busy
            self._sampling = True
        call: Any = None
        try:
            await self.ensure_created()
            parent_id = self._leaf_response_id if parent is _LEAF else parent
            request = chat_pb2.AddResponseRequest(
                conversation_id=self._conversation_id,
                message=user_message,
                model_name=self._model_name if model_name is None else model_name,
                parent_response_id=parent_id or "",
                use_grok=self._use_grok,
                system_prompt_name=self.system_prompt_name,
                request_id=request_id,
                top_logprobs=top_logprobs,
                prefix=_check_text(prefix),
            )
            if sampling is not None:
                request.sampling_params.CopyFrom(sampling.to_proto())
            call = self._stub.AddResponse(request)
            async for msg in call:
                kind = msg.WhichOneof("response")
                if kind == "user_response":
                    self.register_response(Response(msg.user_response, self, self._stub))
                elif kind == "model_response":
                    model_response = Response(msg.model_response, self, self._stub)
                    self.register_response(model_response)
                    if select:
                        self._leaf_response_id = model_response.response_id
                    if not future.done():
                        future.set_result(model_response)
                elif kind == "query_action":
                    log.debug(
                        "Model is performing a %s-query: %s",
                        msg.query_action.type,
                        msg.query_action.query,
                    )
                yield msg
        except grpc.RpcError as rpc_error:
            error = translate(rpc_error)
            if not future.done():
                _fail(future, error)
            raise error from None
        except UnicodeEncodeError as encode_error:
            error = unencodable_text(encode_error)
            if not future.done():
                _fail(future, error)
            raise error from None
        except (asyncio.CancelledError, GeneratorExit):
            if call is not None:
                call.cancel()
            if not future.done():
                future.cancel()
            raise
        except Exception as error:
            if not future.done():
                _fail(future, error)
            raise
        finally:
            if exclusive:
                self._sampling = False
        if not future.done():
            error = MissingModelResponseError(
                "The server finished sampling with an OK status but without sending the "
                "final model response."
            )
            _fail(future, error)
            raise error

    # -- the response graph ---------------------------------------------------------------

    @property
    def root_responses(self) -> Generator[Response, None, None]:
        """Returns all root responses in the response graph."""
        self._check_not_deleted()
        for response in list(self._responses.values()):
            if response.parent_response_id is None:
                yield response

    def get_response(self, response_id: str) -> Response:
        """Returns a response by its ID.

        Raises:
            KeyError: If the response cannot be found.
        """
        self._check_not_deleted()
        return self._responses[response_id]

    def get_children(self, parent_response_id: str) -> Generator[Response, None, None]:
        """Yields all responses whose parent is `parent_response_id`, oldest first."""
        self._check_not_deleted()
        for response in list(self._responses.values()):
            if response.parent_response_id == parent_response_id:
                yield response

    def path_model(self, response_id: str | None) -> str:
        """Extension: the model of the latest sampled reply on the path to `response_id`.

        "" when the path has none. Hand-written replies do not count: they name no model
        that could continue.
        """
        while response_id is not None:
            response = self.get_response(response_id)
            if response.sender == "model" and not response.manual and response.model_name:
                return response.model_name
            response_id = response.parent_response_id
        return ""

    @property
    def responses(self) -> list[Response]:
        """Extension: every known response in creation order."""
        self._check_not_deleted()
        return list(self._responses.values())

    def set_leaf_response_id(self, leaf_response_id: str | None) -> None:
        """Updates the leaf response ID. Don't use this API directly. Prefer `select()`."""
        self._check_not_deleted()
        self._leaf_response_id = leaf_response_id

    def register_response(self, response: Response) -> None:
        """Manually adds a response to the response graph.

        Don't use this API unless you know what you're doing.
        """
        self._check_not_deleted()
        self._responses[response.response_id] = response

    async def _create_conversation(self) -> None:
        conversation: chat_pb2.Conversation = await _rpc(
            self._stub.CreateConversation(chat_pb2.CreateConversationRequest())
        )
        self._conversation_id = conversation.conversation_id
        self._conversation = conversation

    def _get_conversation_or_raise(self) -> chat_pb2.Conversation:
        if self._conversation_id is None:
            raise ConversationNotLoadedError(
                "Cannot access conversation ID before conversation is created."
            )
        if self._conversation is None:
            raise ConversationNotLoadedError(
                "Must call load() before any conversation properties can be accessed."
            )
        return self._conversation

    def _check_not_deleted(self) -> None:
        if self._deleted:
            raise ConversationDeletedError("Cannot interact with a deleted conversation.")


async def _texts(
    wire: AsyncGenerator[chat_pb2.AddResponseResponse, None],
) -> AsyncGenerator[str, None]:
    """Text snippets of a stream, in order, one per sampled token."""
    async with contextlib.aclosing(wire):
        async for msg in wire:
            if msg.WhichOneof("response") != "token":
                continue
            sample = msg.token
            if sample.tokens:
                for token in sample.tokens:
                    yield token.final_logit.string_token
            elif sample.HasField("token"):
                yield sample.token.final_logit.string_token
            elif sample.HasField("budget"):
                sampler.log_budget_update(sample.budget)


async def _events(
    wire: AsyncGenerator[chat_pb2.AddResponseResponse, None], conversation: Conversation
) -> AsyncGenerator[StreamEvent, None]:
    """Typed events of a stream (see `client.streams`)."""
    async with contextlib.aclosing(wire):
        async for msg in wire:
            kind = msg.WhichOneof("response")
            if kind == "token":
                sample = msg.token
                if sample.HasField("budget"):
                    b = sample.budget
                    yield BudgetEvent(b.prompt_tokens, b.sampled_tokens, b.max_tokens)
                    continue
                raw = list(sample.tokens) or [sample.token]
                yield TokensEvent(tuple(_token_info(t) for t in raw))
            elif kind == "user_response":
                yield UserResponseEvent(conversation.get_response(msg.user_response.response_id))
            elif kind == "model_response":
                yield ModelResponseEvent(conversation.get_response(msg.model_response.response_id))
            elif kind == "query_action":
                yield QueryEvent(msg.query_action.type, msg.query_action.query)


class Response:
    """Represents a single response in a conversation.

    Note that the properties of the response are cached client-side; reload the
    conversation to refresh them.
    """

    def __init__(
        self, response: chat_pb2.Response, conversation: Conversation, stub: chat_pb2_grpc.ChatStub
    ):
        """Initializes a new instance of the `Response` class.

        Args:
            response: Raw proto response object returned from the API.
            conversation: Conversation this response belongs to.
            stub: Stub used to communicate with the server.
        """
        self._response = response
        self._conversation = conversation
        self._stub = stub

    @property
    def annotation(self) -> Annotation:
        """Extension: this user's bookmark, tags, rating and note (empty when none)."""
        if self._response.HasField("annotation"):
            return Annotation.from_proto(self._response.annotation)
        return Annotation()

    @property
    def prefix_length(self) -> int:
        """Extension: characters at the start of the message that were given, not sampled."""
        return self._response.prefix_length

    async def annotate(
        self,
        *,
        bookmarked: bool | None = None,
        tags: Sequence[str] | None = None,
        rating: int | None = None,
        note: str | None = None,
    ) -> Annotation:
        """Extension: changes this user's annotation (None keeps a field); returns it."""
        current = self.annotation
        wanted = Annotation(
            bookmarked=current.bookmarked if bookmarked is None else bookmarked,
            tags=current.tags if tags is None else tuple(_check_text(tag) for tag in tags),
            rating=current.rating if rating is None else rating,
            note=current.note if note is None else _check_text(note),
        )
        updated: chat_pb2.Response = await _rpc(
            self._stub.AnnotateResponse(
                chat_pb2.AnnotateResponseRequest(
                    conversation_id=self._conversation.conversation_id,
                    response_id=self.response_id,
                    annotation=wanted.to_proto(),
                )
            )
        )
        self._response = updated
        return self.annotation

    async def tokens(self) -> list[TokenInfo]:
        """Extension: the reply's tokens with logprobs and top alternatives ([] if none).

        A given prefix (a branch from a token) is one token whose logprob is None.
        """
        reply: chat_pb2.GetResponseTokensResponse = await _rpc(
            self._stub.GetResponseTokens(
                chat_pb2.GetResponseTokensRequest(
                    conversation_id=self._conversation.conversation_id,
                    response_id=self.response_id,
                )
            )
        )
        return [_token_info(t) for t in reply.tokens]

    def replace(self, new_message: str) -> tuple[TokenStream, asyncio.Future[Response]]:
        """Replaces the text of this message with a new text.

        If this is a user response, a new user response with `new_message` is added beside
        it and a new model response is sampled. If this is a model response, a manual model
        response with `new_message` is stored beside it (the token stream yields that text
        once). In both cases the future resolves to the new model response, which becomes
        the leaf.
        """
        if self.sender == "human":
            self._conversation.set_leaf_response_id(self.parent_response_id)
            return self._conversation.add_response(new_message)

        conversation = self._conversation
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()

        async def _manual_replacement() -> AsyncGenerator[str, None]:
            try:
                stored = await _rpc(
                    self._stub.AddModelResponse(
                        chat_pb2.AddModelResponseRequest(
                            conversation_id=conversation.conversation_id,
                            message=_check_text(new_message),
                            partial=False,
                            parent_response_id=self.parent_response_id or "",
                        )
                    )
                )
            except Exception as error:
                _fail(future, error)
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
        self, *, sampling: SamplingParams | None = None, top_logprobs: int = 0
    ) -> tuple[TokenStream, asyncio.Future[Response]]:
        """Resamples this response: adds a new sibling sampled from the model.

        Raises:
            ValueError: If this response was generated by a human.
        """
        if self.sender == "human":
            raise ValueError("Cannot resample human responses.")
        self._conversation.set_leaf_response_id(self.parent_response_id)
        return self._conversation.add_response("", sampling=sampling, top_logprobs=top_logprobs)

    def select(self) -> None:
        """Selects this response to be the most recent one in the conversation.

        Use this to go back to an earlier response.
        """
        self._conversation.set_leaf_response_id(self.response_id)

    async def share(self) -> str:
        """Shares the conversation up to this point publicly.

        Returns:
            The URL of the shared conversation, built by the server from its share base.
        """
        reply: chat_pb2.ShareConversationResponse = await _rpc(
            self._stub.ShareConversation(
                chat_pb2.ShareConversationRequest(
                    conversation_id=self._conversation.conversation_id,
                    response_id=self.response_id,
                )
            )
        )
        node: Response | None = self
        while node is not None:
            node._response.shared = True
            parent_id = node.parent_response_id
            node = self._conversation._responses.get(parent_id) if parent_id else None
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

    @property
    def response_id(self) -> str:
        """Returns the ID of this response."""
        return self._response.response_id

    @property
    def message(self) -> str:
        """Returns the message content."""
        return self._response.message

    @property
    def sender(self) -> str:
        """Returns the sender: "human" for a person, "model" for the model."""
        return self._response.sender

    @property
    def create_time(self) -> datetime.datetime:
        """Returns the time when this response was created."""
        return _convert_proto_timestamp(self._response.create_time)

    @property
    def parent_response_id(self) -> str | None:
        """Returns the ID of the parent response in the response graph."""
        return self._response.parent_response_id or None

    @property
    def manual(self) -> bool:
        """Returns True if the response was created manually via the API."""
        return self._response.manual

    @property
    def partial(self) -> bool:
        """Returns True if the response represents a partial model output."""
        return self._response.partial

    @property
    def shared(self) -> bool:
        """Returns True if the response was shared publicly."""
        return self._response.shared

    @property
    def query(self) -> str:
        """Returns the query string used by the model if the model performed a query."""
        return self._response.query

    @property
    def query_type(self) -> str:
        """Returns the type of query performed by the model if it performed a query."""
        return self._response.query_type

    # -- provenance (extensions) ----------------------------------------------------------

    @property
    def model_name(self) -> str:
        """Name of the model that produced this response ("" for human or manual)."""
        return self._response.model_name

    @property
    def sampling_params(self) -> SamplingParams | None:
        """The sampling parameters actually used (with the seed), if sampled."""
        if not self._response.HasField("sampling_params"):
            return None
        return SamplingParams.from_proto(self._response.sampling_params)

    @property
    def token_count(self) -> int:
        """How many tokens the model sampled for this response."""
        return self._response.token_count

    @property
    def time_to_first_token(self) -> float:
        """Seconds from the request to the first sampled token."""
        return self._response.time_to_first_token_seconds

    @property
    def total_time(self) -> float:
        """Seconds the whole sampling took."""
        return self._response.total_time_seconds

    @property
    def proto(self) -> chat_pb2.Response:
        """The raw wire message (read-only use)."""
        return self._response

    def __repr__(self) -> str:
        text = self.message if len(self.message) <= 40 else self.message[:39] + "…"
        return f"Response({self.response_id!r}, {self.sender}, {text!r})"
