"""AddResponse after its checks: the human message, the model's tokens, the stored reply.

The per-token path lives here: tokens go out in batches (`TokenBatcher`), budget updates
every `BUDGET_EVERY_TOKENS`, and the text is kept so that a stop, a cancellation, a
backend failure or shutdown stores it as a partial reply. Nothing acknowledged is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import NoReturn

import grpc

from grove_explorer.protos import chat_pb2
from grove_explorer.server.batching import TokenBatcher
from grove_explorer.server.config import ServerConfig, reply_store_slots_for
from grove_explorer.server.convert import (
    budget_message,
    resolved_to_record,
    response_to_proto,
)
from grove_explorer.server.live import LivePublisher, LiveReply
from grove_explorer.server.sampler.base import (
    Finish,
    FinishReason,
    ResolvedParams,
    SampledToken,
    SampleEvent,
    Sampler,
    SamplerError,
    SamplerErrorKind,
    SamplingMode,
    Usage,
)
from grove_explorer.server.servicer.lookups import insert_or_abort
from grove_explorer.server.servicer.merging import MergePlan
from grove_explorer.server.servicer.path_messages import Messages, PathMessages
from grove_explorer.server.servicer.reply_log import ReplyLog, ReplyOutput, send_tokens
from grove_explorer.server.servicer.status import abort, abort_not_found
from grove_explorer.server.servicer.stream_registry import ActiveStream, StreamRegistry
from grove_explorer.server.store import (
    NewResponse,
    ResponseRecord,
    Store,
    UnknownConversationError,
    UnknownParentError,
)

log = logging.getLogger(__name__)

BUDGET_EVERY_TOKENS = 64
# After a stop, how long the sampler may take to show it had finished (see stop_cuts_reply).
STOP_GRACE_SECONDS = 0.25
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
    SamplerErrorKind.PREFIX_NOT_CONTINUED: grpc.StatusCode.FAILED_PRECONDITION,
}


class ReplyStreaming:
    """Runs one checked AddResponse stream against the store and a sampler."""

    def __init__(
        self,
        store: Store,
        streams: StreamRegistry,
        config: ServerConfig,
        system_prompts: Mapping[str, str],
        live: LivePublisher,
    ) -> None:
        self._store = store
        self._live = live
        self._streams = streams
        self._config = config
        self._system_prompts = system_prompts
        self._messages = PathMessages()
        slots = reply_store_slots_for(config)
        # Finished replies stored at once (config.py's reply_store_slots): None, no limit.
        self._store_slots = asyncio.Semaphore(slots) if slots else None

    async def run(
        self,
        user: str,
        stream: ActiveStream,
        sampler: Sampler,
        params: ResolvedParams,
        mode: SamplingMode,
        path: list[ResponseRecord],
        parent_id: str | None,
        top_k: int,
        request: chat_pb2.AddResponseRequest,
        context: ReplyOutput,
        merge: MergePlan | None = None,
    ) -> None:
        """Stores and streams the human message (if any), then samples and stores the reply.

        `user` is the conversation's owner (the store's scope); a writer's stream names
        the writer as `stream.user_id` and its responses' author.

        The stream is registered already; it leaves the registry however this ends.
        `path` is root → `parent_id` as the store returned it. With `merge` the reply is a
        fusion of `parent_id`'s replies (servicer/merging.py).
        """
        try:
            messages = self._messages.of(user, stream.conversation_id, parent_id, path)
            if request.message:
                human = await insert_or_abort(
                    self._store,
                    user,
                    NewResponse(
                        conversation_id=stream.conversation_id,
                        message=request.message,
                        sender="human",
                        parent_response_id=parent_id,
                        replay_of=request.replay_of_human,
                        author=stream.author,
                        # Found by a resume when no replica runs the reply (resuming.py).
                        request_id=request.request_id,
                    ),
                    context,
                    leaf_follows=stream.leaf_follows,
                    start_following=request.select_reply,
                )
                messages = self._messages.extend(user, messages, human)
                parent_id = human.response_id
                self._live.response_added(
                    stream.conversation_id, user, human.response_id, request.request_id
                )
                await context.write(
                    chat_pb2.AddResponseResponse(user_response=response_to_proto(human))
                )
            await self._sample_and_store(
                user,
                stream,
                sampler,
                params,
                mode,
                messages,
                parent_id,
                top_k,
                request,
                context,
                merge,
            )
        finally:
            if stream.live is not None:
                stream.live.finish()  # its watchers learn the end (and the stored reply)
            await self._streams.remove(stream)

    async def _sample_and_store(
        self,
        user: str,
        stream: ActiveStream,
        sampler: Sampler,
        params: ResolvedParams,
        mode: SamplingMode,
        messages: Messages,
        parent_id: str | None,
        top_k: int,
        request: chat_pb2.AddResponseRequest,
        context: ReplyOutput,
        merge: MergePlan | None = None,
    ) -> None:
        """Streams the sampler's tokens in batches, then stores and sends the reply.

        `messages` is the path root → `parent_id`: the sampler's prompt (a fusion's
        prompt adds its instruction message, `MergePlan.prompt`).
        """
        # Reserved before the first token: the reply's place among its siblings is when it
        # started (see ResponseRecord), whatever the order parallel streams finish in.
        start_time = self._store.reserve_start_time()
        prompt_tokens = sampler.count_tokens(messages if merge is None else merge.prompt(messages))
        merged = merge.record_fields() if merge is not None else {}
        batcher = TokenBatcher(
            self._config.batch_interval_ms / 1000.0, self._config.batch_max_tokens
        )
        prefix = request.prefix
        pieces: list[str] = []
        # Each token's logprob and alternatives, beside its text in `pieces`: values, not
        # the sampled objects, so the reply keeps no object a token for the collector to
        # scan (its young generation's passes stop every stream of the server).
        logprobs: list[float | None] = []
        tops: list[tuple[tuple[str, float], ...]] = []
        if prefix:
            # The given start is part of the reply: streamed and stored first, as one token
            # whose probability is unknown (it was chosen, not sampled).
            pieces.append(prefix)
            logprobs.append(None)
            tops.append(())
        stream.chars = len(prefix)
        live = stream.live = self._live.reply(
            stream.conversation_id,
            user,
            request.request_id,
            stream.checkpoint_id,
            parent_id,
            sampler.model_name,
            pieces,
        )
        live.start()
        usage: Usage | None = None
        started = time.monotonic()
        first_token_at: float | None = None
        partial = False
        finish: FinishReason | None = None  # the sampler's word, when it gives one
        # A raw-model request (use_grok=false) sends no system prompt and no "fun", nor
        # does a continuation of text (completion mode: the document is all there is).
        chat = request.use_grok and mode is SamplingMode.CHAT
        prompt_name = request.system_prompt_name if chat else ""
        system_prompt = self._system_prompts[prompt_name] if chat else None

        def reply(
            partial_reply: bool, reason: FinishReason, with_tokens: bool = True
        ) -> NewResponse:
            now = time.monotonic()
            return NewResponse(
                conversation_id=stream.conversation_id,
                message="".join(pieces),
                sender="model",
                parent_response_id=parent_id,
                partial=partial_reply,
                model_name=sampler.model_name,
                sampling=resolved_to_record(params),
                # What was received and stored (the token view), never the endpoint's
                # figure, which may be an estimate; that one is kept as reported usage.
                token_count=len(pieces) - bool(prefix),
                time_to_first_token_seconds=(first_token_at - started) if first_token_at else 0.0,
                total_time_seconds=now - started,
                prefix_length=len(prefix),
                finish_reason=reason.value,
                tokens=tuple(zip(pieces, logprobs, tops, strict=True)) if with_tokens else None,
                start_time=start_time,
                reported_prompt_tokens=usage.prompt_tokens if usage else None,
                reported_completion_tokens=usage.completion_tokens if usage else None,
                replay_of=request.replay_of_reply,
                # The prompt the request used ("" the default); None when none was sent.
                system_prompt_name=prompt_name if chat else None,
                author=stream.author,  # a writer of a shared conversation (access.py)
                request_id=request.request_id,  # in the same insert (and its checkpoint)
                **merged,
            )

        def ended() -> FinishReason:
            """Why a reply that ran its course ended: the sampler's word, else inferred."""
            if finish is not None:
                return finish
            if len(pieces) - bool(prefix) >= params.max_tokens:
                return FinishReason.LENGTH
            return FinishReason.STOP

        # A checkpoint turns into a reply only when this server died mid-stream.
        stream.snapshot = lambda: reply(True, FinishReason.INTERRUPTED, with_tokens=False)

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
                await _write_rest([SampledToken(prefix, None)], context, live, stream.chars)
            if merge is not None:
                tokens = merge.sample(
                    sampler,
                    messages,
                    params,
                    top_logprobs=top_k,
                    system_prompt_name=prompt_name,
                    system_prompt=system_prompt,
                )
            else:
                tokens = sampler.sample(
                    messages,
                    params,
                    top_logprobs=top_k,
                    system_prompt_name=prompt_name,
                    system_prompt=system_prompt,
                    prefix=prefix,
                    mode=mode,
                )
            # aclosing: stopping early must close the backend's HTTP stream at once.
            async with contextlib.aclosing(tokens):
                async for event in tokens:
                    if isinstance(event, Usage):
                        usage = event
                        await context.write(budget())
                        continue
                    if isinstance(event, Finish):
                        finish = event.reason
                        continue
                    if first_token_at is None:
                        first_token_at = time.monotonic()
                    pieces.append(event.text)
                    stream.chars += len(event.text)
                    logprobs.append(event.logprob)
                    tops.append(event.top)
                    batch = batcher.push(event)
                    if batch:
                        live.sent(batch, stream.chars)
                        await send_tokens(context, batch)
                    if len(pieces) % BUDGET_EVERY_TOKENS == 0:
                        await context.write(budget())
                    if stream.stop.is_set():
                        partial, finish = await stop_cuts_reply(tokens)
                        break
            stream.settle_stop(partial)
        except asyncio.CancelledError:
            # The client went away (or the server is being torn down): keep what we have.
            if pieces:
                why = (
                    FinishReason.SHUTDOWN
                    if stream.stop_reason == "shutdown"
                    else FinishReason.CANCELLED
                )
                kept = await asyncio.shield(self._store_partial(user, reply(True, why), stream))
                if kept is not None and isinstance(context, ReplyLog):
                    # A resumable reply's log outlives its call: a late resume gets the
                    # tokens still batched and the kept reply.
                    await _write_rest(batcher.drain(), context, live, stream.chars)
                    await context.write(
                        chat_pb2.AddResponseResponse(model_response=response_to_proto(kept))
                    )
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
                partial_reply = reply(True, FinishReason.ERROR)
                await asyncio.shield(self._store_partial(user, partial_reply, stream))
            await abort(
                context, grpc.StatusCode.INTERNAL, f"{failure.message} The partial reply was kept."
            )
        if failure is not None:
            await _write_rest(batcher.drain(), context, live, stream.chars)
            # Only sampled text is worth keeping: a given prefix alone is no reply.
            sampled_any = len(pieces) > bool(prefix)
            await self._fail_stream(user, stream, failure, reply, sampled_any, context)
        if stream.stop_reason == "deleted":
            await abort_not_found(context, stream.conversation_id)
        if partial:
            why = (
                FinishReason.SHUTDOWN if stream.stop_reason == "shutdown" else FinishReason.STOPPED
            )
        else:
            why = ended()
        new_reply = reply(partial, why)
        # The last tokens go out before the reply is stored: a store may wait its turn
        # (--reply-store-slots; hundreds of replies end together on a team server), and
        # the caller's last words waited with it (bench.scale: up to 0.5 s). The store
        # runs even when the caller cancels during these writes, shielded: a client that
        # cancels from here on (even while a checkpoint batch holding this stream's text is
        # being written) loses nothing, and the insert deletes the checkpoint in its own
        # transaction.
        try:
            await _write_rest(batcher.drain(), context, live, stream.chars)
        finally:
            stored = await asyncio.shield(self._store_reply(user, new_reply, stream, context))
        self._messages.extend(user, messages, stored)  # the next turn's path, one step on
        await context.write(budget())
        await context.write(chat_pb2.AddResponseResponse(model_response=response_to_proto(stored)))

    async def _store_reply(
        self,
        user: str,
        new: NewResponse,
        stream: ActiveStream,
        context: ReplyOutput,
    ) -> ResponseRecord:
        """Ends the stream's checkpointing and stores its reply, deleting its checkpoint.

        Waits for one of the server's reply store slots first, if it has a limit.
        """
        async with self._store_slots or contextlib.nullcontext():
            await self._streams.close_checkpoint(stream)
            stored = await insert_or_abort(
                self._store,
                user,
                new,
                context,
                checkpoint_id=stream.checkpoint_id,
                leaf_follows=stream.leaf_follows,
            )
            if stream.live is not None:
                stream.live.stored_id = stored.response_id
            return stored

    async def _fail_stream(
        self,
        user: str,
        stream: ActiveStream,
        failure: SamplerError,
        reply: Callable[[bool, FinishReason], NewResponse],
        has_text: bool,
        context: ReplyOutput,
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
            stored = await asyncio.shield(
                self._store_partial(user, reply(True, FinishReason.ERROR), stream)
            )
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
        await self._streams.close_checkpoint(stream)
        try:
            stored = await self._store.add_response(
                user, new, checkpoint_id=stream.checkpoint_id, leaf_follows=stream.leaf_follows
            )
        except (UnknownConversationError, UnknownParentError):
            log.info("partial reply dropped: its conversation was deleted")
            return None
        if stream.live is not None:
            stream.live.stored_id = stored.response_id
        return stored


async def stop_cuts_reply(tokens: AsyncIterator[SampleEvent]) -> tuple[bool, FinishReason | None]:
    """Whether stopping now cuts the reply short, and the sampler's finish if it gave one.

    `partial` means the text is shorter than what the model would have produced. A stop
    that arrives with the last token must not mark a complete reply partial, so the sampler
    gets `STOP_GRACE_SECONDS` to show it has ended (its end, usage or finish, with no
    further token); another token, a failure or silence means there was more to come.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STOP_GRACE_SECONDS
    finish: FinishReason | None = None
    while (left := deadline - loop.time()) > 0:
        try:
            # A timeout cancels the pending read, which closes the sampler (its HTTP stream).
            event = await asyncio.wait_for(anext(tokens), left)
        except StopAsyncIteration:
            return False, finish
        except (TimeoutError, SamplerError):
            break
        if isinstance(event, Finish):
            finish = event.reason
        elif isinstance(event, SampledToken):
            break
    return True, None


async def _write_rest(
    batch: list[SampledToken], context: ReplyOutput, live: LiveReply, chars: int
) -> None:
    if batch:
        live.sent(batch, chars)
        await send_tokens(context, batch)
