"""The SDK's `Conversation`: the RPC handle of one conversation and its one forest.

Name for name the seed's `Conversation`, with its defects fixed: `get_children` selects
children (not the response itself), properties of an unloaded conversation raise
`ConversationNotLoadedError`, and a second concurrent `add_response` raises
`ConcurrentSamplingError`. The responses live in one `client.forest.Forest` (which the
service publishes and the widgets draw); `Response` objects are handles on its nodes, and
the leaf is the forest's, so `Response.select()` and the service's `select` move the same
leaf. Sampling calls live in `client.sampling_call`.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

from google.protobuf import timestamp_pb2

from grove_explorer.client import convert
from grove_explorer.client.convert import node_from_proto, summary_from_proto, utc_datetime
from grove_explorer.client.errors import (
    ConcurrentSamplingError,
    ConversationDeletedError,
    ConversationNotLoadedError,
)
from grove_explorer.client.forest import Forest
from grove_explorer.client.ids import resolve_id
from grove_explorer.client.leaf_place import LeafPlace
from grove_explorer.client.leaf_sync import UNKNOWN, LeafSaver
from grove_explorer.client.models import ConversationSummary, ResponseNode
from grove_explorer.client.own_requests import own_requests
from grove_explorer.client.replaying import ReplayCalls
from grove_explorer.client.research_calls import ResearchCalls
from grove_explorer.client.response import Response
from grove_explorer.client.resuming import replicas_of
from grove_explorer.client.rpc import rpc
from grove_explorer.client.sampler import SamplingParams, sampling_mode_number
from grove_explorer.client.sampling_call import SamplingCall, texts
from grove_explorer.client.sharing import SharingCalls
from grove_explorer.client.streams import SampleStream
from grove_explorer.client.title_calls import TitleCalls, take_marks
from grove_explorer.client.token_stream import TokenStream
from grove_explorer.client.watching import WatchEvent, watch_events
from grove_explorer.protos import chat_pb2, chat_pb2_grpc


class Conversation(LeafPlace, ResearchCalls, ReplayCalls, TitleCalls, SharingCalls):
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
        self._sampling_mode = ""
        self._deleted = False
        self._forest = Forest(
            conversation=ConversationSummary(
                conversation_id=conversation_id or "", title="", starred=False
            )
        )
        # Handles already given out, by response id (so a response is one object).
        self._handles: dict[str, Response] = {}
        self._sampling = False
        # The leaf is also the server's (the user's place, shown on every client).
        self._leaf_saver = LeafSaver(lambda: self._forest.committed_leaf, self._send_leaf)

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
        return utc_datetime(self._get_conversation_or_raise().create_time)

    @property
    def update_time(self) -> datetime.datetime | None:
        """Extension: when the conversation last changed (None if the server did not say)."""
        wire = self._get_conversation_or_raise()
        return utc_datetime(wire.update_time) if wire.HasField("update_time") else None

    @property
    def starred(self) -> bool:
        """Returns whether the conversation is starred."""
        self._check_not_deleted()
        return self._get_conversation_or_raise().starred

    @property
    def forest(self) -> Forest:
        """Extension: the conversation's one forest (responses, leaf, last-visited children).

        The service publishes this very object; moving its leaf moves this conversation's.
        It may hold streaming placeholders the service added, which the SDK's own views
        (`responses`, `get_children`, `leaf_response_id`) skip.
        """
        return self._forest

    @property
    def leaf_response_id(self) -> str | None:
        """The response the next `add_response` will answer (None: a new root)."""
        return self._forest.committed_leaf

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

    @property
    def sampling_mode(self) -> str:
        """Extension: "chat", "completion" (continue the path's text), "" (the model's)."""
        return self._sampling_mode

    def configure(
        self,
        *,
        model_name: str | None = None,
        system_prompt_name: str | None = None,
        use_system_prompt: bool | None = None,
        mode: str | None = None,
    ) -> None:
        """Extension: changes the model, system prompt or sampling mode later requests use.

        Responses already sampled keep the model that produced them (`Response.model_name`);
        only new ones follow the change. None leaves a setting as it is.
        """
        if mode is not None:
            sampling_mode_number(mode)  # a typo fails here, not at the next request
            self._sampling_mode = mode
        if model_name is not None:
            self._model_name = model_name
        if system_prompt_name is not None:
            self._system_prompt_name = system_prompt_name
        if use_system_prompt is not None:
            self._use_grok = use_system_prompt

    @property
    def import_times(self) -> chat_pb2.ImportTimes | None:
        """Extension: what the import that made it did with the file's times (keep_times).

        None unless it was just made by such an import (`AsyncGrok.import_conversation`).
        """
        wire = self._conversation
        return wire.import_times if wire is not None and wire.HasField("import_times") else None

    def imported(self, index: int) -> Response:
        """Extension: the response made from the import request's response at `index`.

        `responses` are in creation order, which an import's kept times may make differ
        from the request's; the reply names each new id in the request's order. (A server
        from before that stores in the request's order, so the index is the position.)
        """
        wire = self._conversation
        if wire is not None and wire.imported_ids:
            return self.get_response(wire.imported_ids[index])
        return self.responses[index]

    @property
    def is_sampling(self) -> bool:
        """True while an `add_response` stream is running."""
        return self._sampling

    # -- title and star (the calls are in title_calls.py) ----------------------------------

    def _sync_summary(self) -> None:
        """Brings the forest's summary up to the wire conversation (title, star, times)."""
        wire = self._conversation
        if wire is None:
            return
        stored = sum(1 for node in self._forest.responses.values() if not node.streaming)
        self._forest.conversation = summary_from_proto(wire).model_copy(
            update={"response_count": stored}
        )

    def changed_elsewhere(
        self, title: str, starred: bool, update_time: datetime.datetime | None = None
    ) -> bool:
        """Extension: takes a title and star another session set (seen by a watch).

        `update_time` is when they were read (`TitleChanged.update_time`): a state read
        before the one held (this client's own change, answered meanwhile) is not taken.
        Returns whether they were taken.
        """
        wire = self._get_conversation_or_raise()
        stamp = None
        if update_time is not None:
            stamp = timestamp_pb2.Timestamp()
            stamp.FromDatetime(update_time)
        if not take_marks(wire, title, starred, stamp):
            return False
        self._sync_summary()
        return True

    # -- loading and deleting -------------------------------------------------------------

    async def load(self) -> None:
        """Loads the conversation and all its responses from the API.

        The leaf becomes the user's place as the server keeps it (the response they last
        selected, on any client); when they never chose one, the most recently created
        response, as in the seed (creation order is the order responses were started in:
        see `Response.start_time`). The forest is rebuilt in place (the same object), so
        whoever shows it sees the reload. A choice still being sent is sent first.

        Raises:
            ConversationNotLoadedError: If no conversation ID was provided.
            NotFoundError: If the conversation does not exist.
        """
        self._check_not_deleted()
        if self._conversation_id is None:
            raise ConversationNotLoadedError(
                "Cannot load conversation without providing conversation ID."
            )
        if self._conversation is not None:
            await self._leaf_saver.wait(raise_error=False)
        request = chat_pb2.GetConversationRequest(conversation_id=self._conversation_id)
        self.adopt(await rpc(self._stub.GetConversation(request)))

    def adopt(self, wire: chat_pb2.Conversation) -> None:
        """Extension: `load()` from a reply that holds every response (ImportConversation's)."""
        self._adopt_wire(wire, convert.nodes_from_proto(wire.responses))

    def _adopt_wire(self, wire: chat_pb2.Conversation, nodes: list[ResponseNode]) -> None:
        """Takes a conversation from the server: metadata, responses, the user's place.

        A reload keeps the later of the held and the read title and star (`take_marks`):
        its read may be older than a change of this object answered meanwhile.
        """
        held = self._conversation
        if held is not None and held.conversation_id == wire.conversation_id:
            stamp = held.update_time if held.HasField("update_time") else None
            if stamp is not None and wire.HasField("update_time"):
                take_marks(wire, held.title, held.starred, stamp)
        self._conversation = wire
        self._conversation_id = wire.conversation_id
        self._handles = {}
        leaf: str | None = nodes[-1].response_id if nodes else None
        stored = wire.leaf_response_id if wire.HasField("leaf_response_id") else None
        if stored is not None and (stored == "" or any(n.response_id == stored for n in nodes)):
            leaf = stored or None
            self._leaf_saver.known = leaf
        else:
            self._leaf_saver.known = UNKNOWN
        built = Forest.build(summary_from_proto(wire), nodes, leaf)
        forest = self._forest
        forest.conversation = built.conversation
        forest.responses = built.responses
        forest.children = built.children
        forest.last_visited = built.last_visited
        forest.leaf_id = built.leaf_id

    async def delete(self) -> None:
        """Deletes this conversation."""
        self._check_not_deleted()
        self._leaf_saver.cancel()
        await rpc(
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
            created: chat_pb2.Conversation = await rpc(
                self._stub.CreateConversation(chat_pb2.CreateConversationRequest())
            )
            self._conversation_id = created.conversation_id
            self._conversation = created
            self._leaf_saver.known = None  # a new conversation: no place, like no leaf
            self._sync_summary()
        if self._conversation is None:
            await self.load()

    def watch(self) -> AsyncIterator[WatchEvent]:
        """Extension: this conversation's changes as they happen (client/watching.py).

        An async iterator of typed events — replies other sessions or users sample (their
        text as it streams), responses stored, annotations, title and star, deletion (the
        last event) — ending when the conversation is deleted or the iterator is closed.
        The events only describe changes: the forest is not updated by watching.
        """
        self._check_not_deleted()
        conversation_id = self._get_conversation_or_raise().conversation_id
        return watch_events(self._stub, conversation_id, own_requests(self._stub))

    # -- sampling -------------------------------------------------------------------------

    def add_response(
        self,
        user_message: str,
        *,
        sampling: SamplingParams | None = None,
        top_logprobs: int = 0,
        mode: str | None = None,
    ) -> tuple[TokenStream, asyncio.Future[Response]]:
        """Adds a new response to this conversation.

        The response is added to the graph with its parent being the current `leaf`
        response (read when the stream starts, as in the seed). You must iterate the token
        stream for the future to resolve.

        Args:
            user_message: Message written by the user. If empty, no user response is
                generated and only a model response is sampled.
            sampling: Extension: sampling parameters (None fields use server defaults).
            top_logprobs: Extension: how many alternatives the server reports per token.
            mode: Extension: "completion" continues the path's text (a base model's
                continuation), "chat" answers it; None: the conversation's `sampling_mode`.

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
        call = SamplingCall(
            self,
            self._stub,
            user_message,
            None,
            sampling,
            top_logprobs,
            exclusive=True,
            from_leaf=True,
            mode=mode,
        )
        return TokenStream(texts(call.events()), self._stopper(call.request_id)), call.future

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
        placeholder_id: str | None = None,
        mode: str | None = None,
        system_prompt: tuple[bool, str] | None = None,
    ) -> SampleStream:
        """Extension: samples under an explicit parent, as typed events.

        `system_prompt` = (use it, its name) overrides the conversation's for this stream
        only: a sweep's axis, a replay's prompt, the arena's two setups (None: the
        conversation's setting).

        Unlike `add_response`, several `sample` streams may run at once (the server keeps
        the forest consistent), and the leaf moves to the new model response only when
        `select` is true. `model_name` overrides the conversation's model for this stream
        only; `prefix` starts the model reply with given text and samples on from it (a
        branch from a token); `mode` as in `add_response`. `placeholder_id` names a
        streaming placeholder in the forest (the service's) that the stored reply takes the
        place of — the leaf then follows
        only if it is on the placeholder. The conversation must have been created or
        loaded.
        """
        self._check_not_deleted()
        self._get_conversation_or_raise()
        call = SamplingCall(
            self,
            self._stub,
            user_message,
            parent_response_id,
            sampling,
            top_logprobs,
            exclusive=False,
            select=select,
            model_name=model_name,
            prefix=prefix,
            placeholder_id=placeholder_id,
            mode=mode,
            system_prompt=system_prompt,
        )
        return SampleStream(
            call.events(), call.future, self._stopper(call.request_id), call.request_id
        )

    def check_usable(self) -> None:
        """Raises the clear error of a deleted or not yet loaded conversation."""
        self._check_not_deleted()
        self._get_conversation_or_raise()

    def stopper(self, request_id: str) -> Callable[[], Awaitable[bool]]:
        """The stop function of the stream `request_id` (StopResponse)."""
        return self._stopper(request_id)

    def _stopper(self, request_id: str) -> Callable[[], Awaitable[bool]]:
        async def stop() -> bool:
            # On the replica that runs the stream, when there are several (resuming.py).
            return await replicas_of(self._stub).stop(request_id)

        return stop

    def mark_sampling(self, running: bool) -> None:
        """Marks an `add_response` stream as running or done (for `SamplingCall`)."""
        self._sampling = running

    # -- the response graph ---------------------------------------------------------------

    def _handle(self, node: ResponseNode) -> Response:
        handle = self._handles.get(node.response_id)
        if handle is None:
            handle = self._handles[node.response_id] = Response(node, self, self._stub)
        return handle

    def store(self, wire: chat_pb2.Response, *, placeholder_id: str | None = None) -> Response:
        """Puts a response the server stored into the forest and returns its handle.

        With `placeholder_id`, the response takes that streaming placeholder's place.
        """
        node = node_from_proto(wire)
        if placeholder_id is None:
            self._forest.add(node)
        else:
            self._forest.replace_placeholder(placeholder_id, node)
        handle = self._handles.get(node.response_id)
        if handle is None:
            return self._handle(node)
        handle._own = node
        return handle

    @property
    def root_responses(self) -> Iterator[Response]:
        """Returns all root responses in the response graph."""
        self._check_not_deleted()
        yield from self._stored(self._forest.children_of(None))

    def get_response(self, response_id: str) -> Response:
        """Returns a response by its ID (extension: or a unique prefix of at least 4 characters).

        Raises:
            KeyError: If the response cannot be found.
            AmbiguousIdError: (a KeyError) If the prefix starts several response ids.
        """
        self._check_not_deleted()
        responses = self._forest.responses
        node = responses.get(response_id)
        if node is None:
            stored = (rid for rid, n in responses.items() if not n.streaming)
            found = resolve_id(response_id, stored, "response")
            node = None if found is None else responses[found]
        if node is None or node.streaming:
            raise KeyError(response_id)
        return self._handle(node)

    def get_children(self, parent_response_id: str) -> Iterator[Response]:
        """Yields all responses whose parent is `parent_response_id`, oldest first."""
        self._check_not_deleted()
        yield from self._stored(self._forest.children_of(parent_response_id))

    def _stored(self, ids: list[str]) -> Iterator[Response]:
        responses = self._forest.responses
        for response_id in list(ids):
            node = responses.get(response_id)
            if node is not None and not node.streaming:
                yield self._handle(node)

    def path_model(self, response_id: str | None) -> str:
        """Extension: the model of the latest sampled reply on the path (`Forest.path_model`)."""
        return self._forest.path_model(response_id)

    @property
    def responses(self) -> list[Response]:
        """Extension: every known response in creation order (the order they started in).

        Replies stored during this session arrive in finish order; they are put in start
        order here, as a reload would list them (parents still come before children).
        """
        self._check_not_deleted()
        nodes = [node for node in self._forest.responses.values() if not node.streaming]
        if all(node.order_key is not None for node in nodes):
            nodes.sort(key=lambda node: node.order_key)  # type: ignore[arg-type, return-value]
        return [self._handle(node) for node in nodes]

    def set_leaf_response_id(self, leaf_response_id: str | None) -> None:
        """Updates the leaf response ID. Don't use this API directly. Prefer `select()`.

        Raises:
            KeyError: If the response is not in this conversation.
        """
        self._check_not_deleted()
        self._forest.select(leaf_response_id)
        self.save_leaf()

    def register_response(self, response: Response) -> None:
        """Manually adds a response to the response graph.

        Don't use this API unless you know what you're doing.
        """
        self._check_not_deleted()
        self._forest.add(response._own)
        self._handles[response.response_id] = response

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
