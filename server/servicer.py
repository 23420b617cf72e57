"""The Chat service: validates every request, keeps forests in the store, samples replies.

Each RPC checks its input before touching the store, and answers bad input with a gRPC
status and a sentence that says what was wrong. Streams store what they sampled when they
are cancelled, stopped or cut by shutdown, so nothing acknowledged is ever lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NoReturn

import grpc
from google.protobuf import empty_pb2

from grove_explorer.protos import chat_pb2, chat_pb2_grpc
from grove_explorer.server.auth import Authenticator
from grove_explorer.server.batching import TokenBatcher
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.convert import (
    budget_message,
    conversation_to_proto,
    model_info,
    new_response_from_proto,
    requested_params,
    resolved_to_record,
    response_to_proto,
    token_batch_message,
    token_rows_to_proto,
)
from grove_explorer.server.sampler.base import (
    InvalidParamsError,
    PathMessage,
    ResolvedParams,
    SampledToken,
    Sampler,
    SamplerError,
    SamplerErrorKind,
    Usage,
)
from grove_explorer.server.search import parse_query
from grove_explorer.server.store import (
    AnnotationRecord,
    Checkpoint,
    ConversationRecord,
    ImportItem,
    NewResponse,
    ResponseRecord,
    Store,
    UnknownConversationError,
    UnknownParentError,
)
from grove_explorer.server.titles import derive_title

log = logging.getLogger(__name__)

BUDGET_EVERY_TOKENS = 64
MAX_TAGS = 32
MAX_TAG_CHARS = 64
MAX_NOTE_CHARS = 20_000
MAX_QUERY_CHARS = 1_000
DEFAULT_SEARCH_HITS = 50
MAX_SEARCH_HITS = 500
MAX_IMPORT_RESPONSES = 100_000
# Trailing metadata that marks a status as the backend's failure (read by the SDK).
BACKEND_ERROR_KEY = "grove-backend-error"
RETRY_AFTER_KEY = "grove-retry-after"

# What a failing backend means to the caller. A backend's rejected key or missing model is
# the server's configuration, not the caller's credentials or conversation, so neither
# becomes UNAUTHENTICATED or NOT_FOUND (which the app reads as "your key" / "deleted").
UPSTREAM_STATUS: Mapping[SamplerErrorKind, grpc.StatusCode] = {
    SamplerErrorKind.AUTH: grpc.StatusCode.FAILED_PRECONDITION,
    SamplerErrorKind.MODEL_NOT_FOUND: grpc.StatusCode.FAILED_PRECONDITION,
    SamplerErrorKind.RATE_LIMITED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    SamplerErrorKind.BAD_REQUEST: grpc.StatusCode.INVALID_ARGUMENT,
    SamplerErrorKind.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    SamplerErrorKind.TIMEOUT: grpc.StatusCode.DEADLINE_EXCEEDED,
    SamplerErrorKind.STREAM_BROKEN: grpc.StatusCode.UNAVAILABLE,
}


@dataclass(eq=False)
class ActiveStream:
    """A running AddResponse stream, so it can be stopped by request or by shutdown."""

    user_id: str
    request_id: str
    conversation_id: str
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    stop_reason: str = ""
    # Checkpointing: `snapshot` builds the partial reply the stream would store now.
    checkpoint_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    snapshot: Callable[[], NewResponse] | None = None
    saved_chars: int = 0
    checkpoint_saved: bool = False
    # Set once the stream stores (or gives up) its reply: no checkpoint may follow.
    closed: bool = False


class ChatServicer(chat_pb2_grpc.ChatServicer):
    """Implements every Chat RPC on top of a `Store` and named `Sampler`s."""

    def __init__(
        self,
        store: Store,
        samplers: Mapping[str, Sampler],
        config: ServerConfig,
        default_model: str | None = None,
        authenticator: Authenticator | None = None,
    ) -> None:
        if not samplers:
            raise ValueError("at least one sampler is required")
        self._store = store
        self._samplers = dict(samplers)
        self._default_model = default_model or next(iter(self._samplers))
        self._config = config
        self._auth = authenticator or Authenticator(config.api_keys)
        self._active: set[ActiveStream] = set()
        self._finished = asyncio.Condition()
        self._closing = False
        # Held while a batch of checkpoints is taken and written, so a stream that ends
        # can wait for the batch in flight and then delete its checkpoint for good.
        self._checkpoint_lock = asyncio.Lock()
        self._checkpointer: asyncio.Task[None] | None = None
        # Names this server process on its checkpoints (set by GroveServer.start).
        self.checkpoint_owner = ""
        self._system_prompts = dict(config.models.system_prompts)

    @property
    def default_model(self) -> str:
        """The model a request with an empty model_name gets."""
        return self._default_model

    @property
    def samplers(self) -> Mapping[str, Sampler]:
        """The named samplers this server offers."""
        return self._samplers

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def active_stream_count(self) -> int:
        """How many AddResponse streams are sampling right now."""
        return len(self._active)

    async def stop_all_streams(self, grace_seconds: float) -> None:
        """Asks every running stream to store its partial reply and end; waits for them.

        New streams are refused from now on, so shutdown cannot race a late request.
        """
        self._closing = True
        for stream in list(self._active):
            stream.stop_reason = "shutdown"
            stream.stop.set()
        async with self._finished:
            try:
                await asyncio.wait_for(
                    self._finished.wait_for(lambda: not self._active), timeout=grace_seconds
                )
            except TimeoutError:
                log.warning(
                    "%d streams did not finish within %.1fs", len(self._active), grace_seconds
                )
        await self._stop_checkpointer()

    # -- checkpoints -------------------------------------------------------------------

    def _ensure_checkpointer(self) -> None:
        if self._checkpointer is None or self._checkpointer.done():
            self._checkpointer = asyncio.create_task(
                self._checkpoint_loop(), name="grove-checkpointer"
            )

    async def _stop_checkpointer(self) -> None:
        task, self._checkpointer = self._checkpointer, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _checkpoint_loop(self) -> None:
        """Saves the text of running streams every `checkpoint_interval_ms`.

        A periodic batch (one transaction for all streams) rather than a write per token
        keeps a crash's loss bounded by the interval at a cost independent of speed.
        """
        interval = self._config.checkpoint_interval_ms / 1000.0
        while True:
            await asyncio.sleep(interval)
            try:
                await self.checkpoint_now()
            except Exception:
                log.exception("checkpointing failed; retrying at the next interval")

    async def checkpoint_now(self) -> int:
        """Saves every running stream's text that changed since its last checkpoint.

        Returns how many were saved.
        """
        async with self._checkpoint_lock:
            batch: list[tuple[ActiveStream, Checkpoint]] = []
            for stream in list(self._active):
                if stream.closed or stream.snapshot is None:
                    continue
                new = stream.snapshot()
                if not new.message or len(new.message) == stream.saved_chars:
                    continue
                batch.append((stream, Checkpoint(stream.checkpoint_id, stream.user_id, new)))
            await self._store.save_checkpoints([c for _, c in batch], owner=self.checkpoint_owner)
            for stream, checkpoint in batch:
                stream.saved_chars = len(checkpoint.response.message)
                stream.checkpoint_saved = True
            return len(batch)

    async def _close_checkpoint(self, stream: ActiveStream) -> None:
        """Stops checkpointing `stream` and waits out a batch in flight that includes it."""
        stream.closed = True
        async with self._checkpoint_lock:
            pass

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
        """Returns a conversation with all its responses in creation order."""
        user = await self._auth.identify(context)
        record = await self._conversation_or_abort(user, request.conversation_id, context)
        responses = await self._store.list_responses(user, record.conversation_id)
        annotations = await self._store.annotations(user, record.conversation_id)
        return conversation_to_proto(record, responses, annotations)

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
        """Sets a conversation's title and star."""
        user = await self._auth.identify(context)
        await self._conversation_or_abort(user, request.conversation_id, context)
        if len(request.title) > self._config.max_title_chars:
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"The title is {len(request.title)} characters long; "
                f"the limit is {self._config.max_title_chars}.",
            )
        if "\x00" in request.title:
            await _abort(
                context, grpc.StatusCode.INVALID_ARGUMENT, "The title contains a NUL character."
            )
        record = await self._store.update_conversation(
            user, request.conversation_id, request.title, request.starred
        )
        if record is None:
            await _abort_not_found(context, request.conversation_id)
        return conversation_to_proto(record)

    async def DeleteConversation(
        self, request: chat_pb2.DeleteConversationRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        """Deletes a conversation with all its responses and stops its running streams."""
        user = await self._auth.identify(context)
        await self._conversation_or_abort(user, request.conversation_id, context)
        for stream in list(self._active):
            if stream.user_id == user and stream.conversation_id == request.conversation_id:
                stream.stop_reason = "deleted"
                stream.stop.set()
        if not await self._store.delete_conversation(user, request.conversation_id):
            await _abort_not_found(context, request.conversation_id)
        return empty_pb2.Empty()

    async def GenerateTitle(
        self, request: chat_pb2.GenerateTitleRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.GenerateTitleResponse:
        """Derives a short title from the path ending at `leaf_response_id` and stores it."""
        user = await self._auth.identify(context)
        record = await self._conversation_or_abort(user, request.conversation_id, context)
        leaf_id = request.leaf_response_id
        if not leaf_id:
            responses = await self._store.list_responses(user, record.conversation_id)
            leaf_id = responses[-1].response_id if responses else ""
        path = await self._path_or_abort(user, record.conversation_id, leaf_id or None, context)
        title = await self._title_for(path)
        updated = await self._store.update_conversation(
            user, record.conversation_id, title, record.starred
        )
        if updated is None:
            await _abort_not_found(context, record.conversation_id)
        return chat_pb2.GenerateTitleResponse(new_title=title)

    async def _title_for(self, path: Sequence[ResponseRecord]) -> str:
        """Asks the path's model for a title; the offline heuristic when it cannot.

        The model is the one that wrote the path's latest reply (the conversation's model as
        the user last chose it), else the server's default.
        """
        messages = [PathMessage(r.sender, r.message) for r in path]
        names = [r.model_name for r in reversed(path) if r.sender == "model" and r.model_name]
        sampler = (
            self._samplers.get(names[0] if names else "") or self._samplers[self._default_model]
        )
        if messages:
            try:
                title = await sampler.generate_title(messages)
            except SamplerError as error:
                log.warning(
                    "title from %s failed, using the heuristic: %s", sampler.model_name, error
                )
                title = None
            if title:
                return title[: self._config.max_title_chars]
        # The heuristic writes up to 60 characters; a server may allow fewer.
        return derive_title(messages)[: self._config.max_title_chars].rstrip()

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
        )

    async def AnnotateResponse(
        self, request: chat_pb2.AnnotateResponseRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.Response:
        """Sets the caller's bookmark, tags, rating and note of one response."""
        user = await self._auth.identify(context)
        record = await self._conversation_or_abort(user, request.conversation_id, context)
        if not request.response_id:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "response_id is required.")
        await _check_id("response id", request.response_id, context)
        annotation = await self._annotation_or_abort(request.annotation, context)
        if not await self._store.annotate(
            user, record.conversation_id, request.response_id, annotation
        ):
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Response {_quote(request.response_id)} is not in conversation "
                f"{_quote(record.conversation_id)}.",
            )
        stored = await self._store.get_response(user, record.conversation_id, request.response_id)
        if stored is None:  # deleted in between
            await _abort_not_found(context, record.conversation_id)
        return response_to_proto(stored, annotation)

    async def _annotation_or_abort(
        self, wire: chat_pb2.Annotation, context: grpc.aio.ServicerContext
    ) -> AnnotationRecord:
        """Validates an annotation: rating -1/0/+1, bounded tags and note, no NUL."""
        if wire.rating not in (-1, 0, 1):
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"rating must be -1, 0 or +1, not {wire.rating}.",
            )
        tags: list[str] = []
        for raw in wire.tags:
            tag = raw.strip()
            if not tag:
                await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "A tag is empty.")
            if len(tag) > MAX_TAG_CHARS or "\x00" in tag or any(c.isspace() for c in tag):
                await _abort(
                    context,
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Tag {_quote(tag)} is not usable: tags are single words of at most "
                    f"{MAX_TAG_CHARS} characters.",
                )
            if tag not in tags:
                tags.append(tag)
        if len(tags) > MAX_TAGS:
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"A response may have at most {MAX_TAGS} tags, not {len(tags)}.",
            )
        if len(wire.note) > MAX_NOTE_CHARS:
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"The note is {len(wire.note)} characters long; the limit is {MAX_NOTE_CHARS}.",
            )
        if "\x00" in wire.note:
            await _abort(
                context, grpc.StatusCode.INVALID_ARGUMENT, "The note contains a NUL character."
            )
        return AnnotationRecord(wire.bookmarked, tuple(tags), wire.rating, wire.note)

    async def Search(
        self, request: chat_pb2.SearchRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.SearchResponse:
        """Searches the caller's messages, titles, tags and notes (best matches first)."""
        user = await self._auth.identify(context)
        if len(request.query) > MAX_QUERY_CHARS:
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"The query is {len(request.query)} characters long; the limit is "
                f"{MAX_QUERY_CHARS}.",
            )
        if request.limit < 0:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "limit cannot be negative.")
        limit = min(request.limit or DEFAULT_SEARCH_HITS, MAX_SEARCH_HITS)
        try:
            parsed = parse_query(request.query)
            hits = await self._store.search(user, parsed.match, parsed.filters, limit)
        except ValueError as error:  # QueryError, or FTS5's own complaint
            # A sentence even from FTS5, whose messages have no full stop.
            reason = str(error)[:200].rstrip(".")
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"The search query is not valid: {reason}.",
            )
        annotations: dict[str, dict[str, AnnotationRecord]] = {}
        reply = chat_pb2.SearchResponse()
        for hit in hits:
            wire = reply.hits.add(
                conversation_id=hit.conversation_id,
                conversation_title=hit.conversation_title,
                field=hit.field,
                snippet=hit.snippet,
                highlights=[chat_pb2.TextSpan(start=a, end=b) for a, b in hit.highlights],
            )
            if hit.response is not None:
                marks = annotations.get(hit.conversation_id)
                if marks is None:
                    marks = annotations[hit.conversation_id] = await self._store.annotations(
                        user, hit.conversation_id
                    )
                wire.response.CopyFrom(
                    response_to_proto(hit.response, marks.get(hit.response.response_id))
                )
        return reply

    async def GetResponseTokens(
        self, request: chat_pb2.GetResponseTokensRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.GetResponseTokensResponse:
        """The stored tokens of a response, with logprobs and alternatives."""
        user = await self._auth.identify(context)
        record = await self._conversation_or_abort(user, request.conversation_id, context)
        if not request.response_id:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "response_id is required.")
        await _check_id("response id", request.response_id, context)
        rows = await self._store.response_tokens(user, record.conversation_id, request.response_id)
        if rows is None:
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Response {_quote(request.response_id)} is not in conversation "
                f"{_quote(record.conversation_id)}.",
            )
        return chat_pb2.GetResponseTokensResponse(tokens=token_rows_to_proto(rows))

    async def ImportConversation(
        self, request: chat_pb2.ImportConversationRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.Conversation:
        """Creates a conversation from an exported forest, checking it like live input."""
        user = await self._auth.identify(context)
        if len(request.title) > self._config.max_title_chars or "\x00" in request.title:
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"The title must be at most {self._config.max_title_chars} characters, "
                "without NUL.",
            )
        if len(request.responses) > MAX_IMPORT_RESPONSES:
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"An import may hold at most {MAX_IMPORT_RESPONSES} responses, not "
                f"{len(request.responses)}.",
            )
        items: list[ImportItem] = []
        seen: set[str] = set()
        shared: set[str] = set()
        for index, wire in enumerate(request.responses):
            where = f"Response {index + 1} ({_quote(wire.response_id)})"
            if not wire.response_id or wire.response_id in seen:
                await _abort(
                    context,
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"{where} needs a response_id unique within the import.",
                )
            if wire.parent_response_id and wire.parent_response_id not in seen:
                await _abort(
                    context,
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"{where} names parent {_quote(wire.parent_response_id)}, which does not "
                    "come before it in the import.",
                )
            if wire.sender not in ("human", "model"):
                await _abort(
                    context,
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"{where}: sender must be human or model, not {_quote(wire.sender)}.",
                )
            await self._check_text(f"{where}: the message", wire.message, context)
            await self._check_import_fields(where, wire, request, shared, context)
            if not 0 <= wire.prefix_length <= len(wire.message):
                await _abort(
                    context,
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"{where}: prefix_length is outside the message.",
                )
            sampling = None
            if wire.HasField("sampling_params"):
                params = wire.sampling_params
                values = (params.temperature, params.top_p, params.max_tokens)
                if not all(map(math.isfinite, values)) or min(values) < 0:
                    await _abort(
                        context,
                        grpc.StatusCode.INVALID_ARGUMENT,
                        f"{where}: sampling parameters must be finite and non-negative.",
                    )
                sampling = resolved_to_record(
                    ResolvedParams(params.temperature, params.top_p, params.max_tokens, params.seed)
                )
            annotation = None
            if wire.HasField("annotation"):
                annotation = await self._annotation_or_abort(wire.annotation, context)
            token_list = request.tokens.get(wire.response_id)
            if token_list is not None and token_list.tokens:
                spelled = "".join(t.final_logit.string_token for t in token_list.tokens)
                if spelled != wire.message:
                    await _abort(
                        context,
                        grpc.StatusCode.INVALID_ARGUMENT,
                        f"{where}: its tokens do not spell its message.",
                    )
            seen.add(wire.response_id)
            if wire.shared:
                shared.add(wire.response_id)
            items.append(
                ImportItem(
                    local_id=wire.response_id,
                    parent_local_id=wire.parent_response_id or None,
                    response=new_response_from_proto(
                        wire,
                        sampling=sampling,
                        tokens=token_list.tokens if token_list is not None else None,
                    ),
                    shared=wire.shared,
                    annotation=annotation,
                )
            )
        strays = sorted(set(request.tokens) - seen)
        if strays:
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"The tokens map names response {_quote(strays[0])}, which is not in the import.",
            )
        record = await self._store.import_conversation(user, request.title, request.starred, items)
        responses = await self._store.list_responses(user, record.conversation_id)
        annotations = await self._store.annotations(user, record.conversation_id)
        return conversation_to_proto(record, responses, annotations)

    async def _check_import_fields(
        self,
        where: str,
        wire: chat_pb2.Response,
        request: chat_pb2.ImportConversationRequest,
        shared: set[str],
        context: grpc.aio.ServicerContext,
    ) -> None:
        """What live requests guarantee of a stored response, checked on an imported one.

        A human message or a manual reply is never blank and carries no sampling
        provenance; a human message is never manual or partial; sharing covers a whole path
        from the root. An import that breaks these would store what no live request can.
        """
        for name in ("model_name", "query", "query_type"):
            if "\x00" in getattr(wire, name):
                await _abort(
                    context,
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"{where}: {name} contains a NUL character.",
                )
        sampled = wire.sender == "model" and not wire.manual
        kind = "a human message" if wire.sender == "human" else "a manual reply"
        if not sampled and not wire.message.strip():
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{where}: {kind} cannot be blank; only a sampled reply may be empty.",
            )
        if not sampled and (
            wire.model_name
            or wire.HasField("sampling_params")
            or wire.prefix_length
            or wire.response_id in request.tokens
        ):
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{where}: {kind} has no model_name, sampling_params, prefix_length or tokens.",
            )
        if wire.sender == "human" and (wire.manual or wire.partial):
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{where}: a human message cannot be manual or partial.",
            )
        if wire.shared and wire.parent_response_id and wire.parent_response_id not in shared:
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{where} is shared but its parent is not: sharing covers a path from the root.",
            )

    async def _check_text(self, name: str, text: str, context: grpc.aio.ServicerContext) -> None:
        """Bounded size and no NUL, for texts other than the live message."""
        size = len(text.encode("utf-8"))
        if size > self._config.max_message_bytes:
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{name} is {size} bytes; the limit is {self._config.max_message_bytes} bytes.",
            )
        if "\x00" in text:
            await _abort(
                context, grpc.StatusCode.INVALID_ARGUMENT, f"{name} contains a NUL character."
            )

    async def ShareConversation(
        self, request: chat_pb2.ShareConversationRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.ShareConversationResponse:
        """Marks the path up to `response_id` shared and returns its share URL."""
        user = await self._auth.identify(context)
        record = await self._conversation_or_abort(user, request.conversation_id, context)
        if not request.response_id:
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                "response_id is required: name the response up to which to share.",
            )
        path = await self._path_or_abort(user, record.conversation_id, request.response_id, context)
        await self._store.mark_shared(user, record.conversation_id, [r.response_id for r in path])
        base = self._config.share_base_url.rstrip("/")
        return chat_pb2.ShareConversationResponse(share_url=f"{base}/{request.response_id}")

    # -- responses ---------------------------------------------------------------------

    async def AddModelResponse(
        self, request: chat_pb2.AddModelResponseRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.Response:
        """Stores a model-sender response written by the user (`manual=true`)."""
        user = await self._auth.identify(context)
        record = await self._conversation_or_abort(user, request.conversation_id, context)
        await self._check_message(request.message, context, allow_empty=False)
        parent_id = request.parent_response_id or None
        if parent_id is not None:
            await self._path_or_abort(user, record.conversation_id, parent_id, context)
        stored = await self._insert_or_abort(
            user,
            NewResponse(
                conversation_id=record.conversation_id,
                message=request.message,
                sender="model",
                parent_response_id=parent_id,
                manual=True,
                partial=request.partial,
            ),
            context,
        )
        return response_to_proto(stored)

    async def StopResponse(
        self, request: chat_pb2.StopResponseRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.StopResponseResponse:
        """Asks the caller's stream with this request_id to end with a partial reply."""
        user = await self._auth.identify(context)
        if not request.request_id:
            # Streams started without a request_id cannot be named, so "" stops none.
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                "request_id is required: name the stream to stop (the request_id its "
                "AddResponse sent).",
            )
        for stream in self._active:
            if stream.user_id == user and stream.request_id == request.request_id:
                stream.stop_reason = "stopped"
                stream.stop.set()
                return chat_pb2.StopResponseResponse(stopped=True)
        return chat_pb2.StopResponseResponse(stopped=False)

    async def AddResponse(
        self, request: chat_pb2.AddResponseRequest, context: grpc.aio.ServicerContext
    ) -> None:
        """Stores the human message, streams the model's tokens, stores the reply.

        Written with `context.write` rather than as a generator so that a client's
        cancellation surfaces here as CancelledError, where the partial reply is stored.
        """
        user = await self._auth.identify(context)
        if self._closing:
            await _abort(context, grpc.StatusCode.UNAVAILABLE, "The server is shutting down.")
        record = await self._conversation_or_abort(user, request.conversation_id, context)
        conversation_id = record.conversation_id
        await self._check_message(request.message, context, allow_empty=True)
        sampler = await self._sampler_or_abort(request.model_name, context)
        if request.prefix:
            await self._check_text("prefix", request.prefix, context)
            if not sampler.supports_prefix:
                await _abort(
                    context,
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"Model {sampler.model_name!r} cannot continue from a given prefix "
                    "(a branch from a token): its endpoint has no assistant prefill "
                    "configured (prefill in its [models] table).",
                )
        if request.system_prompt_name not in self._system_prompts:
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Unknown system prompt {_quote(request.system_prompt_name)}; "
                f"known: {', '.join(repr(n) for n in self._system_prompts)}.",
            )
        try:
            params = sampler.resolve_params(requested_params(request.sampling_params))
        except InvalidParamsError as exc:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        if request.top_logprobs < 0:
            await _abort(
                context, grpc.StatusCode.INVALID_ARGUMENT, "top_logprobs cannot be negative."
            )
        top_k = min(
            request.top_logprobs or self._config.default_top_logprobs,
            self._config.max_top_logprobs,
        )
        if request.request_id and any(
            s.user_id == user and s.request_id == request.request_id for s in self._active
        ):
            await _abort(
                context,
                grpc.StatusCode.ALREADY_EXISTS,
                f"A stream with request_id {_quote(request.request_id)} is already running.",
            )

        parent_id = request.parent_response_id or None
        path = await self._path_or_abort(user, conversation_id, parent_id, context)
        if len(self._active) >= self._config.max_streams:
            await _abort(
                context,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"The server is sampling {len(self._active)} replies, its limit "
                f"(--max-streams {self._config.max_streams}); try again when one finishes.",
            )

        stream = ActiveStream(user, request.request_id, conversation_id)
        self._active.add(stream)
        self._ensure_checkpointer()
        try:
            if request.message:
                human = await self._insert_or_abort(
                    user,
                    NewResponse(
                        conversation_id=conversation_id,
                        message=request.message,
                        sender="human",
                        parent_response_id=parent_id,
                    ),
                    context,
                )
                path.append(human)
                parent_id = human.response_id
                await context.write(
                    chat_pb2.AddResponseResponse(user_response=response_to_proto(human))
                )
            await self._sample_and_store(
                user, stream, sampler, params, path, parent_id, top_k, request, context
            )
        finally:
            if stream.checkpoint_saved and not stream.closed:
                # Ended without storing its reply (e.g. deleted conversation, an abort).
                await asyncio.shield(self._discard_checkpoint(stream))
            self._active.discard(stream)
            async with self._finished:
                self._finished.notify_all()

    async def _sample_and_store(
        self,
        user: str,
        stream: ActiveStream,
        sampler: Sampler,
        params: ResolvedParams,
        path: list[ResponseRecord],
        parent_id: str | None,
        top_k: int,
        request: chat_pb2.AddResponseRequest,
        context: grpc.aio.ServicerContext,
    ) -> None:
        """Streams the sampler's tokens in batches, then stores and sends the reply."""
        messages = [PathMessage(r.sender, r.message) for r in path]
        prompt_tokens = sampler.count_tokens(messages)
        batcher = TokenBatcher(
            self._config.batch_interval_ms / 1000.0, self._config.batch_max_tokens
        )
        prefix = request.prefix
        pieces: list[str] = []
        sampled: list[SampledToken] = []
        if prefix:
            # The given start is part of the reply: streamed and stored first, as one token
            # whose probability is unknown (it was chosen, not sampled).
            sampled.append(SampledToken(prefix, None))
            pieces.append(prefix)
        usage: Usage | None = None
        started = time.monotonic()
        first_token_at: float | None = None
        partial = False
        # A raw-model request (use_grok=false) sends no system prompt and no "fun".
        prompt_name = request.system_prompt_name if request.use_grok else ""
        system_prompt = self._system_prompts[prompt_name] if request.use_grok else None

        def reply(partial_reply: bool, with_tokens: bool = True) -> NewResponse:
            now = time.monotonic()
            return NewResponse(
                conversation_id=stream.conversation_id,
                message="".join(pieces),
                sender="model",
                parent_response_id=parent_id,
                partial=partial_reply,
                model_name=sampler.model_name,
                sampling=resolved_to_record(params),
                token_count=usage.completion_tokens if usage else len(pieces) - bool(prefix),
                time_to_first_token_seconds=(first_token_at - started) if first_token_at else 0.0,
                total_time_seconds=now - started,
                prefix_length=len(prefix),
                tokens=tuple((t.text, t.logprob, t.top) for t in sampled) if with_tokens else None,
            )

        stream.snapshot = lambda: reply(True, with_tokens=False)

        def budget() -> chat_pb2.AddResponseResponse:
            if usage is not None:
                return budget_message(
                    usage.prompt_tokens, usage.completion_tokens, params.max_tokens
                )
            return budget_message(prompt_tokens, len(pieces) - bool(prefix), params.max_tokens)

        failure: SamplerError | None = None
        try:
            await context.write(budget())
            if prefix:
                await context.write(token_batch_message(sampled[:1]))
            tokens = sampler.sample(
                messages,
                params,
                top_logprobs=top_k,
                system_prompt_name=prompt_name,
                system_prompt=system_prompt,
                prefix=prefix,
            )
            # aclosing: stopping early must close the backend's HTTP stream at once.
            async with contextlib.aclosing(tokens):
                async for event in tokens:
                    if isinstance(event, Usage):
                        usage = event
                        await context.write(budget())
                        continue
                    if first_token_at is None:
                        first_token_at = time.monotonic()
                    pieces.append(event.text)
                    sampled.append(event)
                    batch = batcher.push(event)
                    if batch:
                        await context.write(token_batch_message(batch))
                    if len(pieces) % BUDGET_EVERY_TOKENS == 0:
                        await context.write(budget())
                    if stream.stop.is_set():
                        partial = True
                        break
        except asyncio.CancelledError:
            # The client went away (or the server is being torn down): keep what we have.
            if pieces:
                await asyncio.shield(self._store_partial(user, reply(True), stream))
            raise
        except SamplerError as error:
            log.info("backend %s failed: %s", sampler.model_name, error)
            failure = error
        except Exception:
            log.exception("sampling failed; storing the partial reply")
            failure = SamplerError(
                SamplerErrorKind.UNAVAILABLE,
                f"Sampling from {sampler.model_name!r} failed inside the server.",
            )
            if pieces:
                await asyncio.shield(self._store_partial(user, reply(True), stream))
            await _abort(
                context, grpc.StatusCode.INTERNAL, f"{failure.message} The partial reply was kept."
            )
        if failure is not None:
            await _write_rest(batcher.drain(), context)
            await self._fail_stream(user, stream, failure, reply, bool(pieces), context)
        if stream.stop_reason == "deleted":
            await _abort_not_found(context, stream.conversation_id)
        # Stored before the last writes, and shielded: a client that cancels from here on
        # (even while a checkpoint batch holding this stream's text is being written) loses
        # nothing, and the insert deletes the checkpoint in its own transaction.
        stored = await asyncio.shield(self._store_reply(user, reply(partial), stream, context))
        await _write_rest(batcher.drain(), context)
        await context.write(budget())
        await context.write(chat_pb2.AddResponseResponse(model_response=response_to_proto(stored)))

    async def _store_reply(
        self,
        user: str,
        new: NewResponse,
        stream: ActiveStream,
        context: grpc.aio.ServicerContext,
    ) -> ResponseRecord:
        """Ends the stream's checkpointing and stores its reply, deleting its checkpoint."""
        await self._close_checkpoint(stream)
        return await self._insert_or_abort(user, new, context, checkpoint_id=stream.checkpoint_id)

    async def _fail_stream(
        self,
        user: str,
        stream: ActiveStream,
        failure: SamplerError,
        reply: Callable[[bool], NewResponse],
        has_text: bool,
        context: grpc.aio.ServicerContext,
    ) -> NoReturn:
        """Ends a stream whose backend failed: keeps the partial reply, then the status.

        The partial reply travels as `model_response` (partial=true) before the error, so a
        client keeps the text it watched arrive without reloading the conversation.
        """
        code = UPSTREAM_STATUS[failure.kind]
        details = failure.message
        trailing = [(BACKEND_ERROR_KEY, failure.kind.value)]
        if failure.retry_after_seconds is not None:
            trailing.append((RETRY_AFTER_KEY, f"{failure.retry_after_seconds:g}"))
        if has_text and stream.stop_reason != "deleted":
            stored = await asyncio.shield(self._store_partial(user, reply(True), stream))
            if stored is not None:
                await context.write(
                    chat_pb2.AddResponseResponse(model_response=response_to_proto(stored))
                )
                details = f"{details} The partial reply was kept."
        await context.abort(code, details, trailing_metadata=tuple(trailing))
        raise AssertionError("unreachable: context.abort raises")  # pragma: no cover

    async def _store_partial(
        self, user: str, new: NewResponse, stream: ActiveStream
    ) -> ResponseRecord | None:
        """Stores an interrupted reply; a deleted conversation simply has nowhere to keep it."""
        await self._close_checkpoint(stream)
        try:
            return await self._store.add_response(user, new, checkpoint_id=stream.checkpoint_id)
        except (UnknownConversationError, UnknownParentError):
            log.info("partial reply dropped: its conversation was deleted")
            return None

    async def _discard_checkpoint(self, stream: ActiveStream) -> None:
        await self._close_checkpoint(stream)
        try:
            await self._store.discard_checkpoint(stream.checkpoint_id)
        except Exception:  # the store may be closing; recovery at start cleans up
            log.warning("could not discard checkpoint %s", stream.checkpoint_id)

    # -- validation helpers -------------------------------------------------------------

    async def _conversation_or_abort(
        self, user: str, conversation_id: str, context: grpc.aio.ServicerContext
    ) -> ConversationRecord:
        if not conversation_id:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "conversation_id is required.")
        await _check_id("conversation_id", conversation_id, context)
        record = await self._store.get_conversation(user, conversation_id)
        if record is None:
            await _abort_not_found(context, conversation_id)
        return record

    async def _path_or_abort(
        self,
        user: str,
        conversation_id: str,
        response_id: str | None,
        context: grpc.aio.ServicerContext,
    ) -> list[ResponseRecord]:
        if response_id is None:
            return []
        await _check_id("response id", response_id, context)
        try:
            return await self._store.path_to(user, conversation_id, response_id)
        except UnknownParentError:
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Response {_quote(response_id)} is not in conversation {_quote(conversation_id)}.",
            )

    async def _check_message(
        self, message: str, context: grpc.aio.ServicerContext, *, allow_empty: bool
    ) -> None:
        size = len(message.encode("utf-8"))
        if size > self._config.max_message_bytes:
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"The message is {size} bytes; the limit is {self._config.max_message_bytes} "
                "bytes.",
            )
        if not message and not allow_empty:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "The message is empty.")
        if "\x00" in message:
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"The message contains a NUL character at position {message.index(chr(0))}; "
                "Grove stores text, not binary data.",
            )
        if message and not message.strip():
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                "The message is only whitespace; send text, or an empty message to sample "
                "a model reply alone.",
            )

    async def _sampler_or_abort(
        self, model_name: str, context: grpc.aio.ServicerContext
    ) -> Sampler:
        name = model_name or self._default_model
        sampler = self._samplers.get(name)
        if sampler is None:
            known = ", ".join(sorted(self._samplers))
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Unknown model {_quote(model_name)}; this server has: {known}.",
            )
        return sampler

    async def _insert_or_abort(
        self,
        user: str,
        new: NewResponse,
        context: grpc.aio.ServicerContext,
        *,
        checkpoint_id: str | None = None,
    ) -> ResponseRecord:
        try:
            return await self._store.add_response(user, new, checkpoint_id=checkpoint_id)
        except UnknownConversationError:
            await _abort_not_found(context, new.conversation_id)
        except UnknownParentError:
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Response {_quote(new.parent_response_id or '')} is not in conversation "
                f"{_quote(new.conversation_id)}.",
            )


async def _write_rest(batch: list[SampledToken], context: grpc.aio.ServicerContext) -> None:
    if batch:
        await context.write(token_batch_message(batch))


async def _abort(
    context: grpc.aio.ServicerContext, code: grpc.StatusCode, details: str
) -> NoReturn:
    await context.abort(code, details)
    raise AssertionError("unreachable: context.abort raises")  # pragma: no cover


async def _abort_not_found(context: grpc.aio.ServicerContext, conversation_id: str) -> NoReturn:
    await _abort(
        context,
        grpc.StatusCode.NOT_FOUND,
        f"Conversation {_quote(conversation_id)} does not exist (or was deleted).",
    )


_ID = re.compile(r"[0-9a-f]{32}")


async def _check_id(name: str, value: str, context: grpc.aio.ServicerContext) -> None:
    """Refuses what cannot be a Grove id (32 lowercase hex digits) before any lookup.

    A well-formed id that is missing, deleted or another user's is NOT_FOUND; this only
    catches malformed ones, so it reveals nothing about anyone's conversations.
    """
    if not _ID.fullmatch(value):
        await _abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{name} {_quote(value)} is not a Grove id (32 hexadecimal digits).",
        )


def _quote(value: str, limit: int = 40) -> str:
    """`value` quoted for an error sentence, cut short so a huge id cannot flood it."""
    return repr(value if len(value) <= limit else value[:limit] + "…")
