"""A reply's stream that survives a lost connection: resumed where the caller left off.

The SDK starts every AddResponse as `resumable`: if the connection drops mid-reply (a
replica stops, a proxy cuts it, the network blinks), the server samples on for its resume
grace and `ResumableCall` asks again with `ResumeResponse(request_id, after_tokens)`, over
the same channel with one address, or replica by replica with several (a stream runs
where it started; on PostgreSQL another replica relays it from the change feed while it
runs, server/servicer/feed_replies.py; a replica that neither runs, relays nor stores it
answers NOT_FOUND with `grove-resume: unknown`, and the next one is asked). The caller
sees one stream: no token twice, none missing, the stored reply last. A reply no replica
runs any more is resent from the store by any of them (server/servicer/stored_replies.py):
whole if it finished before its replica died or its grace ended, partial ("interrupted")
when a live replica recovered the dead one's checkpoint. So a replica that said "unknown"
is asked again after a replica out of reach was retried: it may have recovered the reply
since (the orphan sweep runs every few seconds). `StreamNotResumableError` remains for replies
neither running nor stored anywhere the client can reach.

A cancelled gRPC call looks the same to the server whether the user cancelled or the
connection dropped, so a deliberate cancel is said in words: `CancelResponse(request_id)`,
sent as the call is cancelled (the server then stops at once and keeps the partial text).
The alternative, no grace unless the client asks to resume, would lose the replies of
clients that never come back only after the grace anyway, and would need the server to
guess; a request flag plus an explicit cancel keeps both cases exact.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any

import grpc

from grove_explorer.client.errors import (
    BACKEND_ERROR_KEY,
    STORAGE_ERROR_KEY,
    StreamNotResumableError,
    _metadata_value,
)
from grove_explorer.client.rpc import rpc
from grove_explorer.protos import chat_pb2

log = logging.getLogger(__name__)

RESUME_KEY = "grove-resume"
"""Trailing metadata of a ResumeResponse's NOT_FOUND: "unknown" (no such stream here)."""
MAX_RESUME_ATTEMPTS = 8
"""Lost connections in a row (no message between them) before the stream gives up."""
FIRST_BACKOFF_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 1.0
CANCEL_FLUSH_SECONDS = 2.0
"""How long closing a client waits for deliberate cancels still on their way."""

_STUB_ATTRIBUTE = "grove_replicas"


class Replicas:
    """The servers a client's streams may resume on, and its cancels on their way."""

    def __init__(
        self, stub: Any, addresses: Sequence[str], open_stub: Callable[[str], Any]
    ) -> None:
        self._stub = stub
        self.addresses = tuple(addresses)
        self._open_stub = open_stub
        self._stubs: list[Any] | None = None
        self._cancels: set[asyncio.Task[None]] = set()

    def candidates(self) -> list[Any]:
        """Stubs to ask, in turn: the channel itself, or one per replica (made once)."""
        if len(self.addresses) == 1:
            return [self._stub]
        if self._stubs is None:
            self._stubs = [self._open_stub(address) for address in self.addresses]
        return self._stubs

    async def stop(self, request_id: str) -> bool:
        """StopResponse where the stream runs: every replica is asked (it runs on one).

        Through the balanced channel the call would reach an arbitrary replica, which
        answers "no such stream" for a stream running on another.
        """
        request = chat_pb2.StopResponseRequest(request_id=request_id)
        stubs = self.candidates()
        if len(stubs) == 1:
            only: chat_pb2.StopResponseResponse = await rpc(stubs[0].StopResponse(request))
            return only.stopped
        outcomes = await asyncio.gather(
            *(rpc(stub.StopResponse(request)) for stub in stubs), return_exceptions=True
        )
        replies = [o for o in outcomes if isinstance(o, chat_pb2.StopResponseResponse)]
        if not replies:  # every replica failed: the first one's error says why
            error = outcomes[0]
            assert isinstance(error, BaseException)
            raise error
        return any(reply.stopped for reply in replies)

    def cancel(self, request_id: str) -> None:
        """Says a deliberate cancel of `request_id` to the server(s), in the background.

        Runs as a task because it is called while the stream is being cancelled; the
        client's `close()` waits for it (`flush_cancels`).
        """
        task = asyncio.get_running_loop().create_task(self._send_cancel(request_id))
        self._cancels.add(task)
        task.add_done_callback(self._cancels.discard)

    async def _send_cancel(self, request_id: str) -> None:
        request = chat_pb2.CancelResponseRequest(request_id=request_id)
        for stub in self.candidates():
            try:
                reply = await stub.CancelResponse(request)
            except grpc.RpcError as error:
                # An older server (UNIMPLEMENTED) or an unreachable one: the resume grace
                # ends the reply there, as partial, a little later.
                log.info("cancel of %s not delivered: %s", request_id, error.code())
                continue
            if reply.cancelled:
                return

    async def flush_cancels(self) -> None:
        """Waits (bounded) for deliberate cancels still being sent."""
        if self._cancels:
            await asyncio.wait(set(self._cancels), timeout=CANCEL_FLUSH_SECONDS)


def attach_replicas(stub: Any, replicas: Replicas) -> None:
    """Gives a client's stub its replicas, for the sampling calls made with the stub.

    The stub is what every SDK object holds; carrying the replicas on it spares every
    constructor between `Client` and `SamplingCall` a parameter.
    """
    setattr(stub, _STUB_ATTRIBUTE, replicas)


def replicas_of(stub: Any) -> Replicas:
    """The replicas attached to `stub`, or the stub alone (a stub made without `Client`)."""
    replicas = getattr(stub, _STUB_ATTRIBUTE, None)
    if isinstance(replicas, Replicas):
        return replicas
    return Replicas(stub, ("",), lambda address: stub)


def token_count(msg: chat_pb2.AddResponseResponse) -> int:
    """How many tokens one wire message carries (the unit `after_tokens` counts in)."""
    if msg.WhichOneof("response") != "token":
        return 0
    sample = msg.token
    count = len(sample.tokens)
    if count:
        return count
    return 1 if sample.WhichOneof("response") == "token" else 0


def is_dropped(error: grpc.RpcError) -> bool:
    """True when the call was lost on the way (UNAVAILABLE not said by the server's code).

    A failing model backend or database also answers UNAVAILABLE, but with its trailing
    metadata: the reply ended there, and resuming would only repeat the error.
    """
    if error.code() != grpc.StatusCode.UNAVAILABLE:
        return False
    trailing = error.trailing_metadata()
    return not (
        _metadata_value(trailing, BACKEND_ERROR_KEY) or _metadata_value(trailing, STORAGE_ERROR_KEY)
    )


def _unknown_here(error: grpc.RpcError) -> bool:
    return (
        error.code() == grpc.StatusCode.NOT_FOUND
        and _metadata_value(error.trailing_metadata(), RESUME_KEY) == "unknown"
    )


class ResumableCall:
    """One AddResponse call's wire messages, continued through lost connections."""

    def __init__(self, stub: Any, request: chat_pb2.AddResponseRequest) -> None:
        self._stub = stub
        self._request = request
        self._replicas = replicas_of(stub)
        self._call: Any = None
        self.resumes = 0  # how many times the stream was continued (for tests and logs)

    def cancel(self) -> None:
        """Cancels on purpose: the call now, and the reply on the server (CancelResponse)."""
        if self._call is not None:
            self._call.cancel()
            if self._request.resumable and self._request.request_id:
                self._replicas.cancel(self._request.request_id)

    async def messages(self) -> AsyncGenerator[chat_pb2.AddResponseResponse, None]:
        """The stream's messages as one stream, resumed as often as it must be."""
        request = self._request
        call = self._call = self._stub.AddResponse(request)
        tokens = 0
        received = False  # any message: the server accepted the request and runs it
        had_user = False
        resuming = False  # the current call is a ResumeResponse with no message yet
        asked = 0  # the candidate the current ResumeResponse went to
        unknown_at: set[int] = set()  # candidates that answered "no such reply here"
        attempts = 0
        turn = 0
        backoff = FIRST_BACKOFF_SECONDS
        while True:
            try:
                async for msg in call:
                    if resuming:
                        resuming, attempts = False, 0
                        unknown_at.clear()
                        backoff = FIRST_BACKOFF_SECONDS
                    received = True
                    if msg.WhichOneof("response") == "user_response":
                        if had_user:
                            continue  # a resumed stream repeats the human message
                        had_user = True
                    tokens += token_count(msg)
                    yield msg
                return
            except grpc.RpcError as error:
                if not (request.resumable and request.request_id and received):
                    raise
                candidates = self._replicas.candidates()
                if resuming and _unknown_here(error):
                    unknown_at.add(asked)  # not asked again until one out of reach was
                elif is_dropped(error):
                    attempts += 1
                    if attempts > MAX_RESUME_ATTEMPTS:
                        if unknown_at:  # the others are out of reach
                            raise _not_resumable() from None
                        raise
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                    # Meanwhile a replica that said "unknown" may have stored the reply (it
                    # recovered the checkpoint of the one that died): ask it again too.
                    unknown_at.clear()
                else:
                    raise
                left = [i for i in range(len(candidates)) if i not in unknown_at]
                if not left:
                    raise _not_resumable() from None
                log.info(
                    "stream %s lost (%s) after %d tokens; resuming",
                    request.request_id,
                    error.code(),
                    tokens,
                )
                asked = left[turn % len(left)]
                turn += 1
                call = self._call = candidates[asked].ResumeResponse(
                    chat_pb2.ResumeResponseRequest(
                        request_id=request.request_id, after_tokens=tokens
                    )
                )
                resuming = True
                self.resumes += 1


def _not_resumable() -> StreamNotResumableError:
    return StreamNotResumableError(
        "The connection to the server was lost mid-reply and no reachable server runs the "
        "reply or has it stored (its server stopped before storing it); its last "
        "checkpoint becomes a partial reply in the conversation once a server recovers it.",
        grpc.StatusCode.UNAVAILABLE,
    )
