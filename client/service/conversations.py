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

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from grove_explorer.client.events import (
    ConversationDeleted,
    ConversationSettings,
    ConversationsListed,
    ResponseAdded,
    SettingsChanged,
)
from grove_explorer.client.service.streaming import StreamingService
from grove_explorer.client.service.watching import WatchingService

if TYPE_CHECKING:
    from grove_explorer.client.catalog import ModelCatalog
    from grove_explorer.client.conversation import Conversation
    from grove_explorer.client.embeddings import Embeddings
    from grove_explorer.client.forest import Forest
    from grove_explorer.client.judgements import Judgement, JudgeMode
    from grove_explorer.client.models import ConversationSummary, ResponseNode, TokenInfo
    from grove_explorer.client.replaying import ReplayProgress, ReplayResult
    from grove_explorer.client.research import SearchResults
    from grove_explorer.client.sampler import SamplingParams
    from grove_explorer.client.sharing import AccessGrant
    from grove_explorer.client.sweeps import SampleOutcome, SweepProgress, SweepResult, SweepSpec

log = logging.getLogger(__name__)


class ConversationService(StreamingService, WatchingService):
    """Conversation operations for a UI, with change events instead of return plumbing."""

    # -- conversations ---------------------------------------------------------------------

    async def list_conversations(self) -> list[ConversationSummary]:
        """Lists every conversation of the user, newest first."""
        listed = await (await self.connected()).grok.list_conversations()
        from grove_explorer.client.convert import summary_from_proto  # with the client

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
        conversation = (await self.connected()).grok.create_conversation(model_name=model_name)
        if settings is not None:
            conversation.configure(
                model_name=settings.model_name,
                system_prompt_name=settings.system_prompt_name,
                use_system_prompt=settings.use_system_prompt,
            )
        await conversation.ensure_created()
        return self._adopt(conversation)

    async def open(self, conversation_id: str) -> Forest:
        """Loads a conversation with all its responses; the leaf is the user's stored place.

        The place is the server's (the response the user last selected or followed, on any
        client; the newest response when they never chose one), so reopening, a reload and
        a reconnect return to it — a background sample elsewhere does not move it. A choice
        of this service still being sent is sent first. New replies use the model that
        wrote the current path's latest reply, when the server still offers it, so
        reopening a session continues with the same model. Reopening an open conversation
        keeps the later of its title and star: the one held, or the one read.
        """
        previous = self._conversations.get(conversation_id)
        if previous is not None:
            await previous.flush_leaf()
        conversation = await (await self.connected()).grok.get_conversation(conversation_id)
        if previous is not None and previous.update_time is not None:
            # The read may be older than a title or star this service set meanwhile (its
            # answer came first): the later state stays, as with the watch's events.
            conversation.changed_elsewhere(previous.title, previous.starred, previous.update_time)
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
            self._catalog = await (await self.connected()).grok.list_models()
        return self._catalog

    async def embed(self, texts: Sequence[str], model_name: str) -> Embeddings:
        """Embedding vectors of `texts` from `model_name`'s backend (see AsyncGrok.embed)."""
        return await (await self.connected()).grok.embed(texts, model_name)

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

    async def set_title(self, conversation_id: str, title: str) -> ConversationSummary:
        """Renames a conversation."""
        await self._conversation(conversation_id).set_title(title)
        return self._update_summary(conversation_id)

    # -- sharing with other users (client/sharing.py) ------------------------------------

    async def access_list(self, conversation_id: str) -> list[AccessGrant]:
        """The users an open conversation (the caller's) is shared with."""
        return await self._conversation(conversation_id).access_list()

    async def share_with(self, conversation_id: str, user_id: str, role: str) -> AccessGrant:
        """Shares an open conversation with `user_id` as "reader" or "writer"."""
        return await self._conversation(conversation_id).share_with(user_id, role)

    async def unshare(self, conversation_id: str, user_id: str) -> bool:
        """Ends `user_id`'s access to an open conversation (False: they had none)."""
        return await self._conversation(conversation_id).unshare(user_id)

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
        self.stop_following(conversation_id)  # its deletion is ours, not news
        for running in [s for s in self._streams.values() if s.conversation_id == conversation_id]:
            await self.cancel(running.placeholder_id)
        conversation = self._conversations.get(conversation_id)
        if conversation is None:
            conversation = await (await self.connected()).grok.get_conversation(conversation_id)
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

    async def judge(
        self,
        conversation_id: str,
        response_ids: Sequence[str],
        *,
        model_name: str = "",
        rubric_name: str = "",
        criteria: str = "",
        mode: JudgeMode = "each",
    ) -> list[Judgement]:
        """Extension: a judge model scores replies (`Conversation.judge`); stored, returned.

        Each judged node is published as `ResponseAdded` (same id), so views redraw it.
        """
        conversation = self._conversation(conversation_id)
        judgements = await conversation.judge(
            response_ids,
            model_name=model_name,
            rubric_name=rubric_name,
            criteria=criteria,
            mode=mode,
        )
        for judgement in judgements:
            node = conversation.forest.responses.get(judgement.response_id)
            if node is not None:
                self._publish(ResponseAdded(conversation_id, node))
        return judgements

    async def sweep(
        self,
        conversation_id: str,
        node_id: str,
        spec: SweepSpec,
        *,
        rubric_name: str = "",
        criteria: str = "",
        on_progress: Callable[[SweepProgress], None] | None = None,
    ) -> SweepResult:
        """Extension: a parameter sweep at `node_id` (`client.sweeps.run_sweep`).

        The catalog resolves unset parameters (so a re-run skips what is done); each new
        reply is published as `ResponseAdded` as it is stored, and again once judged.
        """
        from grove_explorer.client.errors import GroveError
        from grove_explorer.client.sweeps import run_sweep

        conversation = self._conversation(conversation_id)
        try:
            catalog = {m.name: m for m in (await self.models()).models}
        except GroveError:
            catalog = {}

        def publish(outcome: SampleOutcome) -> None:
            node = conversation.forest.responses.get(outcome.response_id or "")
            if node is not None:
                self._publish(ResponseAdded(conversation_id, node))

        result = await run_sweep(
            conversation,
            node_id,
            spec,
            models=catalog,
            rubric_name=rubric_name,
            criteria=criteria,
            on_progress=on_progress,
            on_sample=publish,
        )
        if rubric_name or criteria:
            for outcome in result.outcomes:
                publish(outcome)
        return result

    async def replay(
        self,
        conversation_id: str,
        leaf_id: str,
        *,
        model_name: str,
        system_prompt_name: str | None = None,
        sampling: SamplingParams | None = None,
        from_response_id: str | None = None,
        progress: ReplayProgress | None = None,
    ) -> ReplayResult:
        """Extension: replays the path to `leaf_id` under `model_name` (`Conversation.replay`).

        Every response it makes is published as `ResponseAdded` as soon as it is stored, so
        the tree grows step by step, also when the replay stops part way
        (ReplayStoppedError, raised on): the tree shows what exists.
        """
        conversation = self._conversation(conversation_id)
        published: list[str] = []

        def stored(response_id: str) -> None:
            node = conversation.forest.responses.get(response_id)
            if node is not None:
                published.append(response_id)
                self._publish(ResponseAdded(conversation.conversation_id, node))

        try:
            return await conversation.replay(
                leaf_id,
                model_name=model_name,
                system_prompt_name=system_prompt_name,
                sampling=sampling,
                from_response_id=from_response_id,
                progress=progress,
                stored=stored,
            )
        finally:
            if published:
                self._update_summary(conversation.conversation_id)

    async def search(self, query: str, limit: int = 0, offset: int = 0) -> SearchResults:
        """Full-text search over every conversation of the user (see AsyncGrok.search)."""
        return await (await self.connected()).grok.search(query, limit, offset)

    async def tokens(self, conversation_id: str, response_id: str) -> list[TokenInfo]:
        """A stored reply's tokens with logprobs and alternatives (cached: they never change)."""
        key = (conversation_id, response_id)
        cached = self._tokens.get(key)
        if cached is None:
            response = self._conversation(conversation_id).get_response(response_id)
            cached = self._tokens[key] = await response.tokens()
        return cached

    async def mean_logprob(self, conversation_id: str, response_id: str) -> float | None:
        """A finished reply's mean token logprob, from its tokens when it is not known yet.

        A stream's mean is kept on its node as it finishes; replies loaded from the server
        (after a reload, sampled by another client or `grove sample`) get it here, from the
        cached tokens, and keep it on their node. None when no token has a logprob.
        """
        forest = self.forest(conversation_id)
        node = forest.responses.get(response_id)
        if node is None or node.is_human or node.streaming:
            return None
        if node.mean_logprob is not None:
            return node.mean_logprob
        known = [
            token.logprob
            for token in await self.tokens(conversation_id, response_id)
            if token.logprob is not None
        ]
        if not known:
            return None
        mean = sum(known) / len(known)
        current = forest.responses.get(response_id)
        if current is not None and current.mean_logprob is None and not current.streaming:
            forest.add(current.model_copy(update={"mean_logprob": mean}))
        return mean

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
