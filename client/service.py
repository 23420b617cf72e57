"""`ConversationService`: every conversation operation a UI needs, as one async API.

The service performs operations through the SDK and publishes change events to
subscribers. The state it shows is the SDK conversation's own forest (`client.forest`):
there is no second copy, so an SDK call and a service call see and move the same leaf. A
UI subscribes and re-renders from events; it never touches gRPC. Streaming replies appear
as a placeholder node (`LiveResponseNode`, `streaming=True`) whose text grows with
`TokensAppended` events and which is swapped for the stored response on
`ResponseCompleted`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from grove_explorer.client.catalog import ModelCatalog
from grove_explorer.client.client import Client
from grove_explorer.client.conversation import Conversation
from grove_explorer.client.convert import summary_from_proto
from grove_explorer.client.events import (
    BudgetUpdated,
    ConversationDeleted,
    ConversationOpened,
    ConversationSettings,
    ConversationsListed,
    ConversationUpdated,
    LeafMoved,
    Listener,
    QueryPerformed,
    ResponseAdded,
    ResponseCompleted,
    ServiceEvent,
    SettingsChanged,
    StreamFailed,
    TokensAppended,
)
from grove_explorer.client.forest import Forest
from grove_explorer.client.models import (
    ConversationSummary,
    LiveResponseNode,
    ResponseNode,
    TokenInfo,
)
from grove_explorer.client.research import SearchHit
from grove_explorer.client.sampler import SamplingParams
from grove_explorer.client.streams import (
    BudgetEvent,
    ModelResponseEvent,
    QueryEvent,
    SampleStream,
    TokensEvent,
    UserResponseEvent,
)

log = logging.getLogger(__name__)

PLACEHOLDER_PREFIX = "pending:"


@dataclass(eq=False)
class _RunningStream:
    conversation_id: str
    placeholder_id: str
    stream: SampleStream
    task: asyncio.Task[object] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


class ConversationService:
    """Conversation operations for a UI, with change events instead of return plumbing."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._listeners: list[Listener] = []
        self._conversations: dict[str, Conversation] = {}
        self._streams: dict[str, _RunningStream] = {}
        self._placeholder_seq = 0
        self._catalog: ModelCatalog | None = None
        self._tokens: dict[tuple[str, str], list[TokenInfo]] = {}

    @property
    def api_host(self) -> str:
        """The server this service talks to."""
        return self._client.api_host

    # -- subscription ----------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Calls `listener` with every event from now on; returns an unsubscribe function."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    def _publish(self, event: ServiceEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not break the stream for others
                log.exception("listener failed on %s", type(event).__name__)

    # -- conversations ---------------------------------------------------------------------

    async def list_conversations(self) -> list[ConversationSummary]:
        """Lists every conversation of the user, newest first."""
        listed = await self._client.grok.list_conversations()
        summaries = [summary_from_proto(c) for c in listed]
        self._publish(ConversationsListed(tuple(summaries)))
        return summaries

    async def new_conversation(
        self, model_name: str = "", settings: ConversationSettings | None = None
    ) -> Forest:
        """Creates an empty conversation on the server and opens it.

        `settings` (e.g. those of the conversation the user came from) set its model and
        system prompt; `model_name` alone sets just the model.
        """
        conversation = self._client.grok.create_conversation(model_name=model_name)
        if settings is not None:
            conversation.configure(
                model_name=settings.model_name,
                system_prompt_name=settings.system_prompt_name,
                use_system_prompt=settings.use_system_prompt,
            )
        await conversation.ensure_created()
        return self._adopt(conversation)

    async def open(self, conversation_id: str) -> Forest:
        """Loads a conversation with all its responses; the leaf is the newest response.

        New replies use the model that wrote the current path's latest reply, when the
        server still offers it, so reopening a session continues with the same model.
        """
        conversation = await self._client.grok.get_conversation(conversation_id)
        model = await self._model_of_path(conversation)
        if model:
            conversation.configure(model_name=model)
        return self._adopt(conversation)

    async def _model_of_path(self, conversation: Conversation) -> str:
        model = conversation.path_model(conversation.leaf_response_id)
        if not model:
            return ""
        try:
            catalog = await self.models()
        except Exception:  # an old server without ListModels: keep the server default
            log.debug("ListModels failed; keeping the default model", exc_info=True)
            return ""
        return model if catalog.model(model) else ""

    # -- models ----------------------------------------------------------------------------

    async def models(self, *, refresh: bool = False) -> ModelCatalog:
        """The server's models and system prompts (fetched once, then cached)."""
        if self._catalog is None or refresh:
            self._catalog = await self._client.grok.list_models()
        return self._catalog

    def settings(self, conversation_id: str) -> ConversationSettings:
        """The model and system prompt new replies in this conversation use."""
        conversation = self._conversation(conversation_id)
        return ConversationSettings(
            conversation.model_name,
            conversation.system_prompt_name,
            conversation.uses_system_prompt,
        )

    def configure(
        self,
        conversation_id: str,
        *,
        model_name: str | None = None,
        system_prompt_name: str | None = None,
        use_system_prompt: bool | None = None,
    ) -> ConversationSettings:
        """Changes the model or system prompt of later replies (None keeps a setting)."""
        self._conversation(conversation_id).configure(
            model_name=model_name,
            system_prompt_name=system_prompt_name,
            use_system_prompt=use_system_prompt,
        )
        settings = self.settings(conversation_id)
        self._publish(SettingsChanged(conversation_id, settings))
        return settings

    def forest(self, conversation_id: str) -> Forest:
        """The forest of an open conversation: the SDK conversation's own.

        Raises KeyError if the conversation was not opened.
        """
        return self._conversations[conversation_id].forest

    def _adopt(self, conversation: Conversation) -> Forest:
        self._conversations[conversation.conversation_id] = conversation
        forest = conversation.forest
        self._publish(ConversationOpened(forest))
        return forest

    def _conversation(self, conversation_id: str) -> Conversation:
        try:
            return self._conversations[conversation_id]
        except KeyError:
            raise KeyError(f"Conversation {conversation_id!r} is not open.") from None

    def _update_summary(self, conversation_id: str) -> ConversationSummary:
        conversation = self._conversation(conversation_id)
        forest = conversation.forest
        summary = forest.conversation.model_copy(
            update={
                "title": conversation.title,
                "starred": conversation.starred,
                "response_count": len(forest.responses),
            }
        )
        forest.conversation = summary
        self._publish(ConversationUpdated(summary))
        return summary

    async def set_title(self, conversation_id: str, title: str) -> ConversationSummary:
        """Renames a conversation."""
        await self._conversation(conversation_id).set_title(title)
        return self._update_summary(conversation_id)

    async def generate_title(self, conversation_id: str) -> ConversationSummary:
        """Asks the server for a title derived from the current path."""
        # The SDK titles the path to the forest's leaf (a streaming placeholder skipped).
        await self._conversation(conversation_id).generate_title()
        return self._update_summary(conversation_id)

    async def set_starred(self, conversation_id: str, starred: bool) -> ConversationSummary:
        """Stars or unstars a conversation."""
        conversation = self._conversation(conversation_id)
        await (conversation.star() if starred else conversation.unstar())
        return self._update_summary(conversation_id)

    async def delete(self, conversation_id: str) -> None:
        """Deletes a conversation (stopping its streams) and forgets it."""
        for running in [s for s in self._streams.values() if s.conversation_id == conversation_id]:
            await self.cancel(running.placeholder_id)
        conversation = self._conversations.get(conversation_id)
        if conversation is None:
            conversation = await self._client.grok.get_conversation(conversation_id)
        await conversation.delete()
        self._conversations.pop(conversation_id, None)
        self._publish(ConversationDeleted(conversation_id))

    # -- research: annotations, search, tokens ---------------------------------------------

    async def annotate(
        self,
        conversation_id: str,
        response_id: str,
        *,
        bookmarked: bool | None = None,
        tags: Sequence[str] | None = None,
        rating: int | None = None,
        note: str | None = None,
    ) -> ResponseNode:
        """Changes this user's annotation of a response (None keeps a field).

        The updated node is published as `ResponseAdded` (same id), like any node change.
        """
        conversation = self._conversation(conversation_id)
        response = conversation.get_response(response_id)
        await response.annotate(bookmarked=bookmarked, tags=tags, rating=rating, note=note)
        node = response.node
        self._publish(ResponseAdded(conversation_id, node))
        return node

    async def search(self, query: str, limit: int = 0) -> list[SearchHit]:
        """Full-text search over every conversation of the user (see AsyncGrok.search)."""
        return await self._client.grok.search(query, limit)

    async def tokens(self, conversation_id: str, response_id: str) -> list[TokenInfo]:
        """A stored reply's tokens with logprobs and alternatives (cached: they never change)."""
        key = (conversation_id, response_id)
        cached = self._tokens.get(key)
        if cached is None:
            response = self._conversation(conversation_id).get_response(response_id)
            cached = self._tokens[key] = await response.tokens()
        return cached

    async def branch_from_token(
        self,
        conversation_id: str,
        response_id: str,
        index: int,
        alternative: str,
        *,
        select: bool = True,
    ) -> ResponseNode | None:
        """Samples a sibling that copies a reply up to token `index`, then says `alternative`.

        Sampling goes on after the alternative (the server's `prefix`). Raises ValueError
        for a human message or an index outside the tokens.
        """
        node = self.forest(conversation_id).responses[response_id]
        if node.is_human:
            raise ValueError("Only model replies have tokens to branch from.")
        tokens = await self.tokens(conversation_id, response_id)
        if not 0 <= index < len(tokens):
            raise ValueError(f"Token {index} is outside the reply ({len(tokens)} tokens).")
        prefix = "".join(t.text for t in tokens[:index]) + alternative
        return await self._run(
            conversation_id, "", node.parent_id, None, select=select, prefix=prefix
        )

    async def jump_to(self, conversation_id: str, response_id: str | None) -> Forest:
        """Opens a conversation (if needed) with `response_id` as the leaf (a search hit).

        The path ends at the hit itself, so it is the last message shown.
        """
        conversation = self._conversations.get(conversation_id)
        forest = conversation.forest if conversation is not None else None
        if forest is None:
            forest = await self.open(conversation_id)
        if response_id is not None and response_id in forest.responses:
            self.select(conversation_id, response_id)
        return forest

    async def share(self, conversation_id: str, response_id: str) -> str:
        """Shares the path up to `response_id`; returns the URL."""
        conversation = self._conversation(conversation_id)
        url = await conversation.get_response(response_id).share()
        for node in conversation.forest.path_to(response_id):
            self._publish(ResponseAdded(conversation_id, node))
        return url

    # -- navigation ------------------------------------------------------------------------

    def select(self, conversation_id: str, leaf_id: str | None) -> None:
        """Makes `leaf_id` the end of the current path (the SDK conversation's leaf too)."""
        self.forest(conversation_id).select(leaf_id)
        self._publish(LeafMoved(conversation_id, leaf_id))

    def switch_sibling(self, conversation_id: str, response_id: str, delta: int) -> str | None:
        """Moves to a sibling of `response_id` and its last-visited leaf; None at the ends."""
        leaf = self.forest(conversation_id).switch_sibling(response_id, delta)
        if leaf is not None:
            self._publish(LeafMoved(conversation_id, leaf))
        return leaf

    # -- sampling --------------------------------------------------------------------------

    def is_streaming(self, conversation_id: str | None = None) -> bool:
        """True while any stream (of that conversation) is running."""
        return any(
            conversation_id is None or s.conversation_id == conversation_id
            for s in self._streams.values()
        )

    async def send(
        self,
        conversation_id: str,
        text: str,
        parent_id: str | None,
        *,
        sampling: SamplingParams | None = None,
    ) -> ResponseNode | None:
        """Sends a human message under `parent_id` and streams the reply; returns it.

        Returns None if the stream failed (a `StreamFailed` event says why) — the human
        message, once stored, stays in the forest.
        """
        return await self._run(conversation_id, text, parent_id, sampling, select=True)

    async def resample(
        self,
        conversation_id: str,
        response_id: str,
        *,
        sampling: SamplingParams | None = None,
        select: bool = True,
    ) -> ResponseNode | None:
        """Samples a new sibling of the model response `response_id`."""
        node = self.forest(conversation_id).responses[response_id]
        if node.is_human:
            raise ValueError("Cannot resample human responses.")
        return await self._run(conversation_id, "", node.parent_id, sampling, select=select)

    async def resample_many(
        self,
        conversation_id: str,
        response_id: str,
        n: int,
        *,
        sampling: SamplingParams | None = None,
        model_name: str | None = None,
    ) -> list[ResponseNode | None]:
        """Samples `n` new siblings of `response_id` in parallel, without moving the leaf.

        Each stream runs concurrently on the server and publishes its own placeholder and
        token events; the result lists each stored reply (None where a stream failed; a
        `StreamFailed` event says why). With a fixed seed, sample i uses seed + i so the
        batch is reproducible and its samples differ. `model_name` samples this batch from
        another model than the conversation's (None: the conversation's).
        """
        if n < 1:
            raise ValueError("n must be at least 1.")
        node = self.forest(conversation_id).responses[response_id]
        if node.is_human:
            raise ValueError("Cannot resample human responses.")

        def params(i: int) -> SamplingParams | None:
            if sampling is None or sampling.seed is None:
                return sampling
            return SamplingParams(
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                max_tokens=sampling.max_tokens,
                seed=(sampling.seed + i) % 2**63,
            )

        results = await asyncio.gather(
            *(
                self._run(
                    conversation_id,
                    "",
                    node.parent_id,
                    params(i),
                    select=False,
                    model_name=model_name,
                )
                for i in range(n)
            ),
            return_exceptions=True,  # one cancelled stream must not discard the others
        )
        return [r if isinstance(r, ResponseNode) else None for r in results]

    async def edit(self, conversation_id: str, response_id: str, text: str) -> ResponseNode | None:
        """Edits a message as a new branch beside it.

        A human message gets a sibling with the new text and a fresh reply; a model message
        gets a manual sibling with the new text (as `Response.replace` does).
        """
        conversation = self._conversation(conversation_id)
        node = conversation.forest.responses[response_id]
        if node.is_human:
            return await self.send(conversation_id, text, node.parent_id)
        stream, future = conversation.get_response(response_id).replace(text)
        async for _ in stream:
            pass
        manual = (await future).node
        self._publish(ResponseAdded(conversation_id, manual))
        self.select(conversation_id, manual.response_id)
        return manual

    async def stop(self, placeholder_id: str) -> None:
        """Asks the server to end a stream gracefully (its partial reply is kept)."""
        running = self._streams.get(placeholder_id)
        if running is None:
            return
        try:
            stopped = await running.stream.stop()
        except Exception:
            stopped = False
        if not stopped:
            await self.cancel(placeholder_id)
        else:
            await running.done.wait()

    async def stop_all(self, conversation_id: str | None = None) -> None:
        """Stops every stream (of one conversation, or all)."""
        await asyncio.gather(
            *(
                self.stop(s.placeholder_id)
                for s in list(self._streams.values())
                if conversation_id is None or s.conversation_id == conversation_id
            )
        )

    async def cancel(self, placeholder_id: str) -> None:
        """Cancels a stream outright; the server keeps its partial reply.

        The task that runs the stream (the caller of `send`/`resample`) is cancelled.
        """
        running = self._streams.get(placeholder_id)
        if running is None:
            return
        if running.task is not None and running.task is not asyncio.current_task():
            running.task.cancel()
        await running.done.wait()

    def _new_placeholder_id(self) -> str:
        self._placeholder_seq += 1
        return f"{PLACEHOLDER_PREFIX}{self._placeholder_seq}"

    async def _run(
        self,
        conversation_id: str,
        text: str,
        parent_id: str | None,
        sampling: SamplingParams | None,
        *,
        select: bool,
        model_name: str | None = None,
        prefix: str = "",
    ) -> ResponseNode | None:
        conversation = self._conversation(conversation_id)
        forest = conversation.forest
        placeholder_id = self._new_placeholder_id()
        stream = conversation.sample(
            text,
            parent_response_id=parent_id,
            sampling=sampling,
            select=select,
            model_name=model_name,
            prefix=prefix,
            placeholder_id=placeholder_id,
        )
        running = _RunningStream(conversation_id, placeholder_id, stream, asyncio.current_task())
        self._streams[placeholder_id] = running
        placeholder_parent = parent_id
        live: LiveResponseNode | None = None

        def add_placeholder() -> LiveResponseNode:
            node = LiveResponseNode(
                response_id=placeholder_id,
                parent_id=placeholder_parent,
                sender="model",
                message="",
                model_name=conversation.model_name if model_name is None else model_name,
                streaming=True,
            )
            forest.add(node)
            self._publish(ResponseAdded(conversation_id, node))
            if select:
                forest.select(placeholder_id)
                self._publish(LeafMoved(conversation_id, placeholder_id))
            return node

        logprob_sum = 0.0
        logprob_count = 0
        completed: ResponseNode | None = None
        try:
            if not text:
                live = add_placeholder()
            async for event in stream:
                if type(event) is TokensEvent:
                    if live is None:
                        live = add_placeholder()
                    delta = event.text
                    tokens = event.tokens
                    live.append(delta)  # O(1): the text is joined when it is read
                    for token in tokens:
                        if token.logprob is not None:
                            logprob_sum += token.logprob
                            logprob_count += 1
                    self._publish(TokensAppended(conversation_id, placeholder_id, delta, tokens))
                elif type(event) is UserResponseEvent:
                    # The SDK put the stored message into the forest already.
                    human = event.response.node
                    self._publish(ResponseAdded(conversation_id, human))
                    placeholder_parent = human.response_id
                    live = add_placeholder()
                elif type(event) is BudgetEvent:
                    self._publish(
                        BudgetUpdated(
                            conversation_id,
                            placeholder_id,
                            event.prompt_tokens,
                            event.sampled_tokens,
                            event.max_tokens,
                        )
                    )
                elif type(event) is QueryEvent:
                    self._publish(
                        QueryPerformed(
                            conversation_id, placeholder_id, event.query_type, event.query
                        )
                    )
                elif type(event) is ModelResponseEvent:
                    # Not the end yet: a backend that failed mid-reply sends its partial
                    # reply first and the error after it. The SDK swapped the placeholder
                    # for the stored reply in the forest already.
                    mean = logprob_sum / logprob_count if logprob_count else None
                    self._streams.pop(placeholder_id, None)  # no longer sampling
                    completed = self._complete(
                        conversation_id, placeholder_id, event.response.node, mean
                    )
            return completed
        except (asyncio.CancelledError, GeneratorExit):
            if completed is None:
                self._drop_placeholder(conversation_id, placeholder_id)
            raise
        except Exception as error:
            if completed is None:
                self._drop_placeholder(conversation_id, placeholder_id)
            self._publish(StreamFailed(conversation_id, placeholder_id, error, completed))
            return None
        finally:
            self._streams.pop(placeholder_id, None)
            running.done.set()

    def _complete(
        self,
        conversation_id: str,
        placeholder_id: str,
        node: ResponseNode,
        mean_logprob: float | None = None,
    ) -> ResponseNode:
        forest = self.forest(conversation_id)
        if mean_logprob is not None:
            node = node.model_copy(update={"mean_logprob": mean_logprob})
            forest.add(node)
        self._publish(ResponseCompleted(conversation_id, placeholder_id, node))
        self._update_summary(conversation_id)
        return node

    def _drop_placeholder(self, conversation_id: str, placeholder_id: str) -> None:
        """Removes a placeholder whose stream ended without a stored reply.

        A cancelled stream's partial text is kept by the server under a new id; reopening
        the conversation shows it.
        """
        conversation = self._conversations.get(conversation_id)
        forest = conversation.forest if conversation is not None else None
        if forest is None or placeholder_id not in forest.responses:
            return
        forest.remove(placeholder_id)
        self._publish(LeafMoved(conversation_id, forest.leaf_id))
