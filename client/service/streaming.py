"""Sending messages and streaming replies: placeholders, tokens, completion, stop.

A streaming reply appears as a `LiveResponseNode` placeholder in the conversation's forest
(its text grows in O(1) per token) and is swapped for the stored response by the SDK when
it arrives; the service publishes `ResponseAdded`, `TokensAppended`, `ResponseCompleted`
or `StreamFailed` on the way.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from grove_explorer.client.events import (
    BudgetUpdated,
    LeafMoved,
    QueryPerformed,
    ResponseAdded,
    ResponseCompleted,
    StreamFailed,
    TokensAppended,
)
from grove_explorer.client.sampler import SamplingParams
from grove_explorer.client.service.base import RunningStream, ServiceBase

if TYPE_CHECKING:
    from collections.abc import Sequence

    from grove_explorer.client.judgements import ExtractedPoints
    from grove_explorer.client.models import LiveResponseNode, ResponseNode
    from grove_explorer.client.service.fusing import Fusion  # pydantic: not at start

PLACEHOLDER_PREFIX = "pending:"
"""Ids of streaming placeholders start with this (the server never uses it)."""


class StreamingService(ServiceBase):
    """The service's sampling operations (see `ConversationService`)."""

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
        """Samples a new sibling of the model response `response_id` (in its mode)."""
        node = self.forest(conversation_id).responses[response_id]
        if node.is_human:
            raise ValueError("Cannot resample human responses.")
        mode = self._sibling_mode(conversation_id, node)
        return await self._run(
            conversation_id, "", node.parent_id, sampling, select=select, mode=mode
        )

    def _sibling_mode(self, conversation_id: str, node: ResponseNode) -> str | None:
        """The mode a new sibling of `node` is sampled in.

        A model reply under a model reply is a continuation (what `continue_text` grows),
        so its siblings continue the text too; otherwise the conversation's mode (None).
        """
        parent = self.forest(conversation_id).responses.get(node.parent_id or "")
        return "completion" if parent is not None and not parent.is_human else None

    async def continue_text(
        self, conversation_id: str, response_id: str, *, sampling: SamplingParams | None = None
    ) -> ResponseNode | None:
        """Samples a model child of `response_id` that continues the path's text.

        Completion mode (base-model continuation, as in loom): the path root → response is
        one document and the child goes on writing it; the leaf follows the child.
        """
        return await self._run(
            conversation_id, "", response_id, sampling, select=True, mode="completion"
        )

    async def sample_at(
        self,
        conversation_id: str,
        parent_id: str | None,
        *,
        sampling: SamplingParams | None = None,
        model_name: str | None = None,
        system_prompt: tuple[bool, str] | None = None,
        placeholder_id: str | None = None,
    ) -> ResponseNode | None:
        """Samples one model reply under `parent_id` without moving the leaf.

        The arena's two sides run as two of these at once; None when the stream failed
        (a `StreamFailed` event says why). `system_prompt` = (use it, its name) for this
        reply only (None: the conversation's). `placeholder_id` (from
        `new_placeholder_id`) names the live reply's events, so a caller can tell its
        streams apart while they run.
        """
        return await self._run(
            conversation_id,
            "",
            parent_id,
            sampling,
            select=False,
            model_name=model_name,
            system_prompt=system_prompt,
            placeholder_id=placeholder_id,
        )

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
                    mode=self._sibling_mode(conversation_id, node),
                )
                for i in range(n)
            ),
            return_exceptions=True,  # one cancelled stream must not discard the others
        )
        from grove_explorer.client.models import ResponseNode

        return [r if isinstance(r, ResponseNode) else None for r in results]

    async def fuse(
        self,
        conversation_id: str,
        fusion: Fusion,
        *,
        sampling: SamplingParams | None = None,
        model_name: str | None = None,
        select: bool = False,
    ) -> ResponseNode | None:
        """Streams a reply fused from sibling replies into a new placeholder (their sibling).

        Like one stream of `resample_many`: the placeholder carries the sources and mode
        while it streams; None if the stream failed (a `StreamFailed` event says why).
        """
        forest = self.forest(conversation_id)
        parents = {forest.responses[source].parent_id for source in fusion.source_ids}
        if len(parents) != 1:
            raise ValueError("The replies to fuse must be siblings (one parent).")
        return await self._run(
            conversation_id,
            "",
            parents.pop(),
            sampling,
            select=select,
            model_name=model_name,
            fusion=fusion,
        )

    async def extract_points(
        self, conversation_id: str, response_ids: Sequence[str], *, model_name: str = ""
    ) -> ExtractedPoints:
        """The points sibling replies make (a checklist fusion's first step); nothing stored."""
        conversation = self._conversation(conversation_id)
        return await conversation.extract_points(response_ids, model_name=model_name)

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

    def new_placeholder_id(self) -> str:
        """A fresh id for a reply not stored yet (its events use it until it is)."""
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
        mode: str | None = None,
        fusion: Fusion | None = None,
        system_prompt: tuple[bool, str] | None = None,
        placeholder_id: str | None = None,
    ) -> ResponseNode | None:
        from grove_explorer.client.models import LiveResponseNode
        from grove_explorer.client.streams import (
            BudgetEvent,
            ModelResponseEvent,
            QueryEvent,
            TokensEvent,
            UserResponseEvent,
        )

        conversation = self._conversation(conversation_id)
        forest = conversation.forest
        placeholder_id = placeholder_id or self.new_placeholder_id()
        if fusion is not None:
            stream = fusion.start(conversation, sampling, model_name, placeholder_id, select=select)
        else:
            stream = conversation.sample(
                text,
                parent_response_id=parent_id,
                sampling=sampling,
                select=select,
                model_name=model_name,
                prefix=prefix,
                placeholder_id=placeholder_id,
                mode=mode,
                system_prompt=system_prompt,
            )
        running = RunningStream(conversation_id, placeholder_id, stream, asyncio.current_task())
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
                **(fusion.node_fields() if fusion is not None else {}),
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
        if forest.responses.get(node.response_id) is not node:
            # The mean changed it, or the conversation was reopened while streaming (the
            # SDK stored the reply in the forest it started in).
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
