"""One `AddResponse` call: request, typed events, the forest and the future kept up to date.

`SamplingCall.events()` is the only loop over a sampling call's wire messages: each is
decoded once (`client.streams.decode`) into a typed event, stored responses go into the
conversation's forest on the way, and the future resolves with the model response. The
seed's text stream (`texts`) and the typed `SampleStream` both read these events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from typing import Protocol, cast

import grpc

from grove_explorer.client.errors import (
    ConcurrentSamplingError,
    MissingModelResponseError,
    translate,
    unencodable_text,
)
from grove_explorer.client.forest import Forest
from grove_explorer.client.own_requests import own_requests
from grove_explorer.client.response import Response
from grove_explorer.client.resuming import ResumableCall
from grove_explorer.client.rpc import check_text, fail
from grove_explorer.client.sampler import SamplingParams, sampling_mode_number
from grove_explorer.client.streams import (
    BudgetEvent,
    ModelResponseEvent,
    QueryEvent,
    StreamEvent,
    TokensEvent,
    decode,
)
from grove_explorer.protos import chat_pb2, chat_pb2_grpc

log = logging.getLogger(__name__)


class CallOwner(Protocol):
    """What a sampling call needs of its conversation (the SDK's `Conversation`)."""

    @property
    def forest(self) -> Forest:
        """The conversation's forest (the leaf moves to a selected reply)."""

    @property
    def leaf_response_id(self) -> str | None:
        """The parent `add_response` answers, read when the call starts."""

    @property
    def model_name(self) -> str:
        """The model requests name unless the call overrides it."""

    @property
    def system_prompt_name(self) -> str:
        """The named system prompt requests ask for."""

    @property
    def uses_system_prompt(self) -> bool:
        """The request's `use_grok`."""

    @property
    def sampling_mode(self) -> str:
        """The requests' sampling mode: chat, completion, or "" for the model's default."""

    @property
    def is_sampling(self) -> bool:
        """True while an exclusive (`add_response`) call runs."""

    @property
    def conversation_id(self) -> str:
        """The conversation's id (after `ensure_created`)."""

    def mark_sampling(self, running: bool) -> None:
        """Marks an exclusive call as running or done."""

    async def ensure_created(self) -> None:
        """Creates or loads the conversation on the server if not done yet."""

    def store(self, wire: chat_pb2.Response, *, placeholder_id: str | None = None) -> Response:
        """Puts a stored response into the forest and returns its handle."""

    async def flush_leaf(self) -> None:
        """Waits for a leaf choice still being sent (the server must have it first)."""

    def follow_reply(self, parent_id: str | None) -> int:
        """Notes that the server's leaf moved to `parent_id`; returns a count for below."""

    def reply_followed(
        self, reply_id: str | None, saves_before: int, *, started: bool = True
    ) -> None:
        """Reconciles the server's leaf after a `select_reply` stream."""


class SamplingCall:
    """A sampling call not yet started: iterate `events()` to run it.

    The request is built when iteration starts, so `add_response` answers the leaf of
    that moment, as in the seed. On failure the typed error goes to the future (unless it
    already resolved: a backend that fails mid-reply sends the partial reply first) and
    is raised to the consumer either way. Closing the iteration cancels the call and the
    future.
    """

    def __init__(
        self,
        owner: CallOwner,
        stub: chat_pb2_grpc.ChatStub,
        user_message: str,
        parent_response_id: str | None,
        sampling: SamplingParams | None,
        top_logprobs: int,
        *,
        exclusive: bool,
        from_leaf: bool = False,
        select: bool = True,
        model_name: str | None = None,
        prefix: str = "",
        placeholder_id: str | None = None,
        mode: str | None = None,
        merge: chat_pb2.Merge | None = None,
        replay_of: tuple[str, str] = ("", ""),
        system_prompt: tuple[bool, str] | None = None,
    ) -> None:
        self._owner = owner
        # (use_grok, system_prompt_name) for this call only; None: the conversation's.
        self._system_prompt = system_prompt
        self._stub = stub
        self._user_message = user_message
        self._parent_response_id = parent_response_id
        self._from_leaf = from_leaf
        self._sampling = sampling
        self._top_logprobs = top_logprobs
        self._exclusive = exclusive
        self._select = select
        self._model_name = model_name
        self._prefix = prefix
        self._placeholder_id = placeholder_id
        self._mode = sampling_mode_number(owner.sampling_mode if mode is None else mode)
        self._merge = merge
        self._replay_of = replay_of  # (original human, original reply) of a replayed turn
        # Tagged as this client's: its watches know this stream (client/own_requests.py).
        self.request_id = own_requests(stub).new_id()
        self.future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()

    def _request(self) -> chat_pb2.AddResponseRequest:
        owner = self._owner
        parent_id = owner.leaf_response_id if self._from_leaf else self._parent_response_id
        request = chat_pb2.AddResponseRequest(
            conversation_id=owner.conversation_id,
            message=self._user_message,
            model_name=owner.model_name if self._model_name is None else self._model_name,
            parent_response_id=parent_id or "",
            # A system prompt chosen for this call only (use it, its name), whatever the
            # conversation's.
            use_grok=(
                owner.uses_system_prompt if self._system_prompt is None else self._system_prompt[0]
            ),
            system_prompt_name=(
                owner.system_prompt_name if self._system_prompt is None else self._system_prompt[1]
            ),
            replay_of_human=self._replay_of[0],
            replay_of_reply=self._replay_of[1],
            request_id=self.request_id,
            top_logprobs=self._top_logprobs,
            prefix=check_text(self._prefix),
            select_reply=self._select,
            mode=cast("chat_pb2.SamplingMode", self._mode),
            # A lost connection is resumed, not the end of the reply (client/resuming.py).
            resumable=True,
        )
        if self._sampling is not None:
            request.sampling_params.CopyFrom(self._sampling.to_proto())
        if self._merge is not None:
            request.merge.CopyFrom(self._merge)
        return request

    def _reply_id(self) -> str | None:
        """The stored model reply's id, once the future holds it."""
        future = self.future
        if future.done() and not future.cancelled() and future.exception() is None:
            return future.result().response_id
        return None

    def _failed(self, error: BaseException) -> BaseException:
        """Fails the future with `error` unless it resolved already; returns the error."""
        if not self.future.done():
            fail(self.future, error)
        return error

    def _store_user(self, wire: chat_pb2.Response) -> Response:
        return self._owner.store(wire)

    def _store_model(self, wire: chat_pb2.Response) -> Response:
        placeholder = self._placeholder_id
        owner = self._owner
        response = owner.store(wire, placeholder_id=placeholder)
        if self._select and placeholder is None:
            owner.forest.select(response.response_id)
        return response

    async def events(self) -> AsyncGenerator[StreamEvent, None]:
        """Runs the call and yields its typed events (the model response last)."""
        owner = self._owner
        future = self.future
        if self._exclusive:
            if owner.is_sampling:
                busy = ConcurrentSamplingError(
                    "This conversation is already sampling a response; wait for it to finish."
                )
                fail(future, busy)
                raise busy
            owner.mark_sampling(True)
        call: ResumableCall | None = None
        saves_before: int | None = None
        started = False  # a message arrived: the server passed its checks and ran
        try:
            await owner.ensure_created()
            if self._select:
                # The server's leaf follows this reply only from where the user is, so a
                # choice still on its way must arrive before the stream starts.
                await owner.flush_leaf()
            request = self._request()
            if self._select:
                saves_before = owner.follow_reply(request.parent_response_id or None)
            call = ResumableCall(self._stub, request)
            store_user = self._store_user
            store_model = self._store_model
            async with contextlib.aclosing(call.messages()) as messages:
                async for msg in messages:
                    started = True
                    event = decode(msg, store_user, store_model)
                    if event is None:
                        continue
                    if type(event) is ModelResponseEvent:
                        if not future.done():
                            future.set_result(event.response)
                    elif type(event) is QueryEvent:
                        log.debug(
                            "Model is performing a %s-query: %s", event.query_type, event.query
                        )
                    yield event
        except grpc.RpcError as rpc_error:
            raise self._failed(translate(rpc_error)) from None
        except UnicodeEncodeError as encode_error:
            raise self._failed(unencodable_text(encode_error)) from None
        except (asyncio.CancelledError, GeneratorExit):
            if call is not None:
                call.cancel()
            if not future.done():
                future.cancel()
            raise
        except Exception as other:
            self._failed(other)
            raise
        finally:
            if self._exclusive:
                owner.mark_sampling(False)
            if saves_before is not None:
                owner.reply_followed(self._reply_id(), saves_before, started=started)
        if not future.done():
            raise self._failed(
                MissingModelResponseError(
                    "The server finished sampling with an OK status but without sending the "
                    "final model response."
                )
            )


async def texts(events: AsyncGenerator[StreamEvent, None]) -> AsyncGenerator[str, None]:
    """The seed's token stream: text snippets in order, one per sampled token."""
    async with contextlib.aclosing(events):
        async for event in events:
            if type(event) is TokensEvent:
                for text in event.texts:
                    yield text
            elif type(event) is BudgetEvent:
                log.debug(
                    "budget: prompt %d tokens, sampled %d of %d",
                    event.prompt_tokens,
                    event.sampled_tokens,
                    event.max_tokens,
                )
