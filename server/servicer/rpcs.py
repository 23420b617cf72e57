"""`ChatServicer`: one method per Chat RPC, on top of a `Store` and named `Sampler`s.

Each RPC checks its input before touching the store (validation.py, lookups.py,
importing.py) and answers bad input with a gRPC status and a sentence that says what was
wrong (status.py). AddResponse streams run in reply_streaming.py and are registered in
stream_registry.py, so they can be stopped, checkpointed and awaited at shutdown.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace

import grpc
from google.protobuf import empty_pb2

from grove_explorer.protos import chat_pb2, chat_pb2_grpc
from grove_explorer.server.auth import Authenticator
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.convert import (
    conversation_to_proto,
    model_info,
    response_to_proto,
    timestamp,
)
from grove_explorer.server.judging.wire import attach_judgements
from grove_explorer.server.live import ChangeFeed, InProcessFeed, LivePublisher
from grove_explorer.server.sampler.base import (
    Sampler,
)
from grove_explorer.server.servicer.access import access_or_abort, author_of, resolve
from grove_explorer.server.servicer.arena import list_votes, record_vote
from grove_explorer.server.servicer.embedding import embed_texts_reply
from grove_explorer.server.servicer.import_stream import import_stream_reply
from grove_explorer.server.servicer.importing import import_reply
from grove_explorer.server.servicer.judging import Judging
from grove_explorer.server.servicer.lookups import (
    conversation_id_or_abort,
    conversation_or_abort,
    insert_or_abort,
    path_or_abort,
    sampler_or_abort,
)
from grove_explorer.server.servicer.merging import check_merge_request, merge_plan_or_abort
from grove_explorer.server.servicer.replaying import check_replay_or_abort
from grove_explorer.server.servicer.reply_streaming import ReplyStreaming
from grove_explorer.server.servicer.resuming import ResumableReplies
from grove_explorer.server.servicer.sampling_request import checked_sampling_or_abort
from grove_explorer.server.servicer.searching import search_reply
from grove_explorer.server.servicer.sharing_rpcs import SharingRpcs
from grove_explorer.server.servicer.status import abort, abort_not_found, check_id, quote
from grove_explorer.server.servicer.stored_replies import StoredReplies
from grove_explorer.server.servicer.stream_registry import ActiveStream, StreamRegistry
from grove_explorer.server.servicer.titling import title_for
from grove_explorer.server.servicer.token_reads import (
    response_tokens_reply,
    responses_tokens_reply,
)
from grove_explorer.server.servicer.validation import (
    annotation_from_wire,
    check_message,
    check_title,
)
from grove_explorer.server.servicer.watching import watch_conversation
from grove_explorer.server.store import NewResponse, Store


class ChatServicer(SharingRpcs, chat_pb2_grpc.ChatServicer):
    """Implements every Chat RPC on top of a `Store` and named `Sampler`s.

    The sharing RPCs (GrantAccess, …) come from `SharingRpcs` (sharing_rpcs.py).
    """

    def __init__(
        self,
        store: Store,
        samplers: Mapping[str, Sampler],
        config: ServerConfig,
        default_model: str | None = None,
        authenticator: Authenticator | None = None,
        feed: ChangeFeed | None = None,
    ) -> None:
        if not samplers:
            raise ValueError("at least one sampler is required")
        self._store = store
        self._samplers = dict(samplers)
        self._default_model = default_model or next(iter(self._samplers))
        self._config = config
        self._auth = authenticator or Authenticator(config.api_keys)
        self._system_prompts = dict(config.models.system_prompts)
        self._streams = StreamRegistry(store, config.checkpoint_interval_ms / 1000.0)
        # Every change of a conversation is published here (WatchConversation reads it).
        self.feed = feed or InProcessFeed(config.watch_max_pending_events)
        self._live = LivePublisher(self.feed)
        self._replies = ReplyStreaming(
            store, self._streams, config, self._system_prompts, self._live
        )
        # resuming.py; a reply no log has any more is resent from the store.
        self.resumable = ResumableReplies(config.resume_grace_seconds, [StoredReplies(store)])
        self._judging = Judging(store, self._samplers, self._default_model, config.models.rubrics)

    @property
    def default_model(self) -> str:
        """The model a request with an empty model_name gets."""
        return self._default_model

    @property
    def samplers(self) -> Mapping[str, Sampler]:
        """The named samplers this server offers."""
        return self._samplers

    # -- running streams ---------------------------------------------------------------

    @property
    def streams(self) -> StreamRegistry:
        """The AddResponse streams sampling now (stopped, checkpointed and awaited here)."""
        return self._streams

    @property
    def active_stream_count(self) -> int:
        """How many AddResponse streams are sampling right now."""
        return len(self._streams)

    @property
    def checkpoint_owner(self) -> str:
        """Names this server process on its checkpoints (set by GroveServer.start)."""
        return self._streams.checkpoint_owner

    @checkpoint_owner.setter
    def checkpoint_owner(self, owner: str) -> None:
        self._streams.checkpoint_owner = owner

    async def checkpoint_now(self) -> int:
        """Saves every running stream's text that changed since its last checkpoint."""
        return await self._streams.checkpoint_now()

    async def stop_all_streams(self, grace_seconds: float) -> None:
        """Stores every running stream's partial reply and ends it; refuses new streams.

        Watches end after that (UNAVAILABLE), once their watchers were sent those replies.
        """
        await self._streams.stop_all(grace_seconds)
        await self.feed.close()

    # -- conversations -----------------------------------------------------------------

    async def CreateConversation(
        self, request: chat_pb2.CreateConversationRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.Conversation:
        """Creates an empty conversation owned by the caller."""
        user = await self._auth.identify(context)
        record = await self._store.create_conversation(user)
        return conversation_to_proto(record)

    async def GetConversation(
        self, request: chat_pb2.GetConversationRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.Conversation:
        """Returns a conversation with all its responses in creation order (or shared)."""
        user = await self._auth.identify(context)
        access = await access_or_abort(self._store, context, user, request.conversation_id, "read")
        owner = access.owner_id
        record = await conversation_or_abort(self._store, owner, request.conversation_id, context)
        responses = await self._store.list_responses(owner, record.conversation_id)
        annotations = await self._store.annotations(owner, record.conversation_id)
        leaf = await self._store.get_leaf(user, record.conversation_id)
        record = replace(record, role=access.role)
        wire = conversation_to_proto(record, responses, annotations, leaf)
        attach_judgements(wire, await self._store.judgements(owner, record.conversation_id))
        wire.caller_user_id = user  # who "You" is in the client
        return wire

    async def SelectResponse(
        self, request: chat_pb2.SelectResponseRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.SelectResponseResponse:
        """Moves the caller's own leaf ("" : none, the next reply starts a new root)."""
        user = await self._auth.identify(context)
        await resolve(self._store, context, user, request.conversation_id, "read")
        cid = request.conversation_id
        response_id = request.response_id or None
        if response_id is not None:
            await check_id("response id", response_id, context)
        if not await self._store.set_leaf(user, cid, response_id):
            if await self._store.access(user, cid) is None:
                await abort_not_found(context, cid)  # deleted (or revoked) in between
            await abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Response {quote(request.response_id)} is not in conversation {quote(cid)}.",
            )
        return chat_pb2.SelectResponseResponse(leaf_response_id=request.response_id)

    async def ListConversations(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> chat_pb2.ListConversationsResponse:
        """Lists the caller's conversations (without responses), newest first."""
        user = await self._auth.identify(context)
        records = await self._store.list_conversations(user)
        return chat_pb2.ListConversationsResponse(
            conversations=[conversation_to_proto(r) for r in records]
        )

    async def UpdateConversation(
        self, request: chat_pb2.UpdateConversationRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.Conversation:
        """Sets a conversation's title and star (its owner only)."""
        user = await self._auth.identify(context)
        await resolve(
            self._store, context, user, request.conversation_id, "own", action="rename or star it"
        )
        await conversation_or_abort(self._store, user, request.conversation_id, context)
        await check_title(request.title, self._config.max_title_chars, context)
        record = await self._store.update_conversation(
            user, request.conversation_id, request.title, request.starred
        )
        if record is None:
            await abort_not_found(context, request.conversation_id)
        self._live.conversation_changed(record.conversation_id, user)
        return conversation_to_proto(record)

    async def DeleteConversation(
        self, request: chat_pb2.DeleteConversationRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        """Deletes a conversation with all its responses and stops its running streams."""
        user = await self._auth.identify(context)
        await resolve(
            self._store, context, user, request.conversation_id, "own", action="delete it"
        )
        await conversation_or_abort(self._store, user, request.conversation_id, context)
        self._streams.stop_conversation(user, request.conversation_id)
        if not await self._store.delete_conversation(user, request.conversation_id):
            await abort_not_found(context, request.conversation_id)
        self._live.conversation_deleted(request.conversation_id, user)
        return empty_pb2.Empty()

    async def GenerateTitle(
        self, request: chat_pb2.GenerateTitleRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.GenerateTitleResponse:
        """Derives a short title from the path ending at `leaf_response_id` and stores it."""
        user = await self._auth.identify(context)
        await resolve(
            self._store, context, user, request.conversation_id, "own", action="retitle it"
        )
        record = await conversation_or_abort(self._store, user, request.conversation_id, context)
        leaf_id = request.leaf_response_id
        if not leaf_id:
            responses = await self._store.list_responses(user, record.conversation_id)
            leaf_id = responses[-1].response_id if responses else ""
        path = await path_or_abort(
            self._store, user, record.conversation_id, leaf_id or None, context
        )
        title = await title_for(
            path, self._samplers, self._default_model, self._config.max_title_chars
        )
        # The star as stored when the title is (one set meanwhile is kept).
        updated = await self._store.update_conversation(user, record.conversation_id, title, None)
        if updated is None:
            await abort_not_found(context, record.conversation_id)
        self._live.conversation_changed(record.conversation_id, user)
        return chat_pb2.GenerateTitleResponse(
            new_title=title, update_time=timestamp(updated.update_time), starred=updated.starred
        )

    async def ListModels(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> chat_pb2.ListModelsResponse:
        """Lists the named models (default first) and the system prompts."""
        await self._auth.identify(context)
        names = sorted(self._samplers, key=lambda n: (n != self._default_model,))
        return chat_pb2.ListModelsResponse(
            models=[
                model_info(self._samplers[n].describe(), is_default=n == self._default_model)
                for n in names
            ],
            default_model=self._default_model,
            system_prompts=[
                chat_pb2.SystemPromptInfo(name=name, text=text)
                for name, text in self._system_prompts.items()
            ],
            rubrics=[
                chat_pb2.RubricInfo(name=name, text=text)
                for name, text in self._judging.rubrics.items()
            ],
        )

    async def JudgeResponses(
        self, request: chat_pb2.JudgeResponsesRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.JudgeResponsesResponse:
        """Scores model replies with a judge model and stores the judgements (judging.py)."""
        user = await self._auth.identify(context)
        owner = await resolve(self._store, context, user, request.conversation_id, "write")
        return await self._judging.judge(owner, request, context, author=author_of(user, owner))

    async def ExtractPoints(
        self, request: chat_pb2.ExtractPointsRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.ExtractPointsResponse:
        """The points some model replies make, merged across them (judging.py)."""
        user = await self._auth.identify(context)
        owner = await resolve(self._store, context, user, request.conversation_id, "write")
        return await self._judging.extract_points(owner, request, context)

    async def RecordVote(
        self, request: chat_pb2.RecordVoteRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.ArenaVote:
        """Stores the caller's vote on a blind arena pair (arena.py): theirs, not the owner's."""
        user = await self._auth.identify(context)
        owner = await resolve(self._store, context, user, request.conversation_id, "write")
        return await record_vote(self._store, owner, request, context, voter=user)

    async def ListVotes(
        self, request: chat_pb2.ListVotesRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.ListVotesResponse:
        """The caller's arena votes, oldest first (arena.py): a leaderboard is per user."""
        user = await self._auth.identify(context)
        owner = user
        if request.conversation_id:  # one shared with the caller: their own votes in it
            owner = await resolve(self._store, context, user, request.conversation_id, "read")
        return await list_votes(self._store, owner, request, context, voter=user)

    async def AnnotateResponse(
        self, request: chat_pb2.AnnotateResponseRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.Response:
        """Sets the bookmark, tags, rating and note of one response (owner or writer)."""
        caller = await self._auth.identify(context)
        user = await resolve(self._store, context, caller, request.conversation_id, "write")
        record = await conversation_or_abort(self._store, user, request.conversation_id, context)
        if not request.response_id:
            await abort(context, grpc.StatusCode.INVALID_ARGUMENT, "response_id is required.")
        await check_id("response id", request.response_id, context)
        annotation = await annotation_from_wire(request.annotation, context)
        if not await self._store.annotate(
            user,
            record.conversation_id,
            request.response_id,
            annotation,
            author=author_of(caller, user),
        ):
            await abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Response {quote(request.response_id)} is not in conversation "
                f"{quote(record.conversation_id)}.",
            )
        stored = await self._store.get_response(user, record.conversation_id, request.response_id)
        if stored is None:  # deleted in between
            await abort_not_found(context, record.conversation_id)
        self._live.annotation_changed(record.conversation_id, user, request.response_id)
        return response_to_proto(stored, annotation)

    async def Search(
        self, request: chat_pb2.SearchRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.SearchResponse:
        """Searches the caller's messages, titles, tags and notes (best matches first)."""
        user = await self._auth.identify(context)
        return await search_reply(self._store, user, request, context)

    async def GetResponseTokens(
        self, request: chat_pb2.GetResponseTokensRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.GetResponseTokensResponse:
        """The stored tokens of a response, with logprobs and alternatives (token_reads.py)."""
        user = await self._auth.identify(context)
        return await response_tokens_reply(self._store, user, request, context)

    async def GetResponsesTokens(
        self, request: chat_pb2.GetResponsesTokensRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.GetResponsesTokensResponse:
        """The stored tokens of many responses of one conversation (see token_reads.py)."""
        user = await self._auth.identify(context)
        owner = await resolve(self._store, context, user, request.conversation_id, "read")
        return await responses_tokens_reply(self._store, owner, request, context)

    async def EmbedTexts(
        self, request: chat_pb2.EmbedTextsRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.EmbedTextsResponse:
        """Embedding vectors of texts from a model's backend (see embedding.py)."""
        await self._auth.identify(context)
        sampler = await self._sampler_or_abort(request.model_name, context)
        return await embed_texts_reply(sampler, request, context)

    async def ImportConversation(
        self, request: chat_pb2.ImportConversationRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.Conversation:
        """Creates a conversation from an exported forest, checking it like live input."""
        user = await self._auth.identify(context)
        return await import_reply(
            self._store,
            user,
            request,
            max_title_chars=self._config.max_title_chars,
            max_message_bytes=self._config.max_message_bytes,
            context=context,
        )

    async def ImportConversationStream(
        self,
        request_iterator: AsyncIterator[chat_pb2.ImportChunk],
        context: grpc.aio.ServicerContext,
    ) -> chat_pb2.Conversation:
        """ImportConversation in chunks, stored as they arrive (see import_stream.py)."""
        user = await self._auth.identify(context)
        return await import_stream_reply(
            self._store,
            user,
            request_iterator,
            max_title_chars=self._config.max_title_chars,
            max_message_bytes=self._config.max_message_bytes,
            context=context,
        )

    async def ShareConversation(
        self, request: chat_pb2.ShareConversationRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.ShareConversationResponse:
        """Marks the path up to `response_id` shared and returns its share URL (owner only)."""
        user = await self._auth.identify(context)
        await resolve(
            self._store, context, user, request.conversation_id, "own", action="share a link to it"
        )
        record = await conversation_or_abort(self._store, user, request.conversation_id, context)
        if not request.response_id:
            await abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                "response_id is required: name the response up to which to share.",
            )
        path = await path_or_abort(
            self._store, user, record.conversation_id, request.response_id, context
        )
        await self._store.mark_shared(user, record.conversation_id, [r.response_id for r in path])
        base = self._config.share_base_url.rstrip("/")
        return chat_pb2.ShareConversationResponse(share_url=f"{base}/{request.response_id}")

    # -- responses ---------------------------------------------------------------------

    async def AddModelResponse(
        self, request: chat_pb2.AddModelResponseRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.Response:
        """Stores a model-sender response written by the user (`manual=true`)."""
        caller = await self._auth.identify(context)
        user = await resolve(self._store, context, caller, request.conversation_id, "write")
        record = await conversation_or_abort(self._store, user, request.conversation_id, context)
        await check_message(
            request.message, self._config.max_message_bytes, context, allow_empty=False
        )
        parent_id = request.parent_response_id or None
        if parent_id is not None:
            # The insert itself checks (by index) that the parent is in the conversation,
            # so a deep path costs nothing more than a root: nothing reads the path here.
            await check_id("response id", parent_id, context)
        stored = await insert_or_abort(
            self._store,
            user,
            NewResponse(
                conversation_id=record.conversation_id,
                message=request.message,
                sender="model",
                parent_response_id=parent_id,
                manual=True,
                partial=request.partial,
                author=author_of(caller, user),
            ),
            context,
        )
        self._live.response_added(record.conversation_id, user, stored.response_id)
        return response_to_proto(stored)

    async def WatchConversation(
        self, request: chat_pb2.WatchConversationRequest, context: grpc.aio.ServicerContext
    ) -> None:
        """Streams the conversation's changes as they happen (watching.py)."""
        user = await self._auth.identify(context)
        replies = self._streams.live_replies(request.conversation_id)  # with the subscription
        await watch_conversation(self._store, self.feed, replies, user, request, context)

    async def StopResponse(
        self, request: chat_pb2.StopResponseRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.StopResponseResponse:
        """Asks the caller's stream with this request_id to end with a partial reply."""
        user = await self._auth.identify(context)
        if not request.request_id:
            # Streams started without a request_id cannot be named, so "" stops none.
            await abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                "request_id is required: name the stream to stop (the request_id its "
                "AddResponse sent).",
            )
        stream = self._streams.running(user, request.request_id)
        if stream is None:
            return chat_pb2.StopResponseResponse(stopped=False)
        stream.request_stop("stopped")
        # True only when the stop cut the reply short (it is stored partial): a stop that
        # arrives as the model finishes leaves a complete reply and answers False.
        return chat_pb2.StopResponseResponse(stopped=await asyncio.shield(stream.stop_outcome))

    async def AddResponse(
        self, request: chat_pb2.AddResponseRequest, context: grpc.aio.ServicerContext
    ) -> None:
        """Stores the human message, streams the model's tokens, stores the reply.

        Written with `context.write` rather than as a generator so that a client's
        cancellation surfaces here as CancelledError, where the partial reply is stored.
        """
        # The key and the conversation's owner in one store read (auth.py).
        user, owned = await self._auth.identify_for(context, request.conversation_id, self._store)
        if self._streams.closing:
            await abort(context, grpc.StatusCode.UNAVAILABLE, "The server is shutting down.")
        owner = user  # a conversation shared with the caller is its owner's (access.py)
        if owned is False or owned is None:
            owner = await resolve(self._store, context, user, request.conversation_id, "write")
        conversation_id = await conversation_id_or_abort(
            self._store, owner, request.conversation_id, context, owned=True
        )
        if request.HasField("merge"):
            await check_merge_request(request, context)
        await check_message(
            request.message, self._config.max_message_bytes, context, allow_empty=True
        )
        sampler = await self._sampler_or_abort(request.model_name, context)
        checked = await checked_sampling_or_abort(
            request, sampler, self._system_prompts, self._config, context
        )
        if request.request_id and self._streams.running(user, request.request_id):
            await abort(
                context,
                grpc.StatusCode.ALREADY_EXISTS,
                f"A stream with request_id {quote(request.request_id)} is already running.",
            )

        parent_id = request.parent_response_id or None
        path = await path_or_abort(self._store, owner, conversation_id, parent_id, context)
        if request.replay_of_human or request.replay_of_reply:  # a replayed turn
            await check_replay_or_abort(self._store, owner, conversation_id, request, context)
        merge = None  # or a fusion of sibling replies (servicer/merging.py)
        if request.HasField("merge"):
            merge = await merge_plan_or_abort(
                self._store, owner, conversation_id, request, sampler, self._config, context
            )
        if len(self._streams) >= self._config.max_streams:
            await abort(
                context,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"The server is sampling {len(self._streams)} replies, its limit "
                f"(--max-streams {self._config.max_streams}); try again when one finishes.",
            )

        stream = ActiveStream(user, request.request_id, conversation_id, owner_id=owner)
        if request.select_reply:
            # The user's place follows this stream from now: it waits at the parent, then
            # moves to the human message and the reply as they are stored. With a human
            # message, its insert starts the following (one write, reply_streaming.py).
            if request.message:
                stream.follows = True
            else:
                stream.follows = await self._store.set_leaf(
                    user, conversation_id, parent_id, follows=stream.checkpoint_id
                )
        self._streams.add(stream)
        params, mode, top_k = checked.params, checked.mode, checked.top_k
        args = (owner, stream, sampler, params, mode, path, parent_id, top_k, request)
        if not (request.resumable and request.request_id):
            await self._replies.run(*args, context, merge)
            return
        # Sampled on after a lost connection, for the resume grace (resuming.py).
        body = functools.partial(self._replies.run, *args, merge=merge)
        await self.resumable.run(user, request.request_id, body, context)

    async def ResumeResponse(
        self, request: chat_pb2.ResumeResponseRequest, context: grpc.aio.ServicerContext
    ) -> None:
        """Continues the caller's resumable reply from its last token (resuming.py)."""
        await self.resumable.resume(await self._auth.identify(context), request, context)

    async def CancelResponse(
        self, request: chat_pb2.CancelResponseRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.CancelResponseResponse:
        """Stops the caller's resumable reply now, keeping it partial (resuming.py)."""
        user = await self._auth.identify(context)
        return await self.resumable.cancel(user, request, context)

    async def _sampler_or_abort(
        self, model_name: str, context: grpc.aio.ServicerContext
    ) -> Sampler:
        """The named sampler (the default for ""), or INVALID_ARGUMENT naming the known ones."""
        _, sampler = await sampler_or_abort(
            self._samplers, self._default_model, model_name, context
        )
        return sampler
