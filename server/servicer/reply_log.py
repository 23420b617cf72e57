"""What a resumable reply has sent, kept so a caller that lost its connection can go on.

A resumable AddResponse stream (`resumable` in its request) does not write to its gRPC
call: it writes into a `ReplyLog`, and every call attached to the log (the AddResponse
itself, later ResumeResponses) relays the log's messages to its caller. The sampling thus
outlives its caller's connection; a new call starts relaying after the tokens its caller
had, so the caller gets each token once, none missing, and the stored reply last.

Positions are counted in tokens (each token of a batch; a prefix is one), the unit a
client can count whatever batching the server did: a batch the caller had part of is cut.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import NoReturn, Protocol

import grpc

from grove_explorer.protos import chat_pb2, sampler_public_pb2
from grove_explorer.server.servicer.status import Abortable, Trailing


class ReplyOutput(Abortable, Protocol):
    """Where a reply's stream writes its messages (the call's context, or a log)."""

    async def write(self, message: chat_pb2.AddResponseResponse) -> None:
        """Sends (or keeps) one message of the stream."""


MERGED_TOKENS = 64
"""The most tokens a relay puts in one message when its caller has fallen behind."""


class ReplyAborted(Exception):
    """Raised by `ReplyLog.abort`, as `context.abort` raises: the stream ends there."""


def _tokens_in(message: chat_pb2.AddResponseResponse) -> int:
    if message.WhichOneof("response") != "token":
        return 0
    sample = message.token
    count = len(sample.tokens)
    if count:
        return count
    return 1 if sample.WhichOneof("response") == "token" else 0


def _cut(message: chat_pb2.AddResponseResponse, keep_after: int) -> chat_pb2.AddResponseResponse:
    """A batch of tokens without its first `keep_after` tokens (the caller had those)."""
    return _batch(list(message.token.tokens)[keep_after:])


def _token_list(message: chat_pb2.AddResponseResponse) -> list[sampler_public_pb2.Token]:
    """The tokens a token message carries: its batch's, or its single token."""
    sample = message.token
    return list(sample.tokens) if sample.tokens else [sample.token]


def _batch(tokens: list[sampler_public_pb2.Token]) -> chat_pb2.AddResponseResponse:
    """One message carrying `tokens`, as `token_batch_message` packs a batch."""
    batch = chat_pb2.AddResponseResponse()
    sample = batch.token
    if len(tokens) == 1:
        sample.token.CopyFrom(tokens[0])
        return batch
    unknown = any(t.logprob_unknown for t in tokens)
    combined = sample.token
    combined.final_logit.string_token = "".join(t.final_logit.string_token for t in tokens)
    combined.final_logit.logprob = 0.0 if unknown else sum(t.final_logit.logprob for t in tokens)
    combined.logprob_unknown = unknown
    sample.tokens.extend(tokens)
    return batch


class ReplyLog:
    """The messages of one resumable reply, its end, and the calls relaying it."""

    def __init__(self, user_id: str, request_id: str) -> None:
        self.user_id = user_id
        self.request_id = request_id
        self.messages: list[chat_pb2.AddResponseResponse] = []
        # Tokens sent up to and including each message (parallel to `messages`).
        self._tokens_through: list[int] = []
        self.tokens = 0
        self.done = False
        # The status the stream ended with (None: OK, the stored reply was its last message).
        self.status: tuple[grpc.StatusCode, str, Trailing] | None = None
        self.attached = 0
        # False for a stored reply whose tokens were not kept (stored_replies.py): a caller
        # may have had more tokens than the log holds.
        self.tokens_known = True
        # Called when its relaying call leaves (a log filled for one call: feed_replies.py).
        self.releases: list[Callable[[], object]] = []
        self._waiters: list[asyncio.Future[None]] = []

    # -- the stream's side -------------------------------------------------------------

    async def write(self, message: chat_pb2.AddResponseResponse) -> None:
        """Keeps one message and wakes the relaying calls."""
        self.tokens += _tokens_in(message)
        self.messages.append(message)
        self._tokens_through.append(self.tokens)
        self._wake()

    async def abort(
        self, code: grpc.StatusCode, details: str = "", trailing_metadata: Trailing = ()
    ) -> NoReturn:
        """Ends the stream with a status its relaying calls will end with."""
        self.finish((code, details, tuple(trailing_metadata)))
        raise ReplyAborted(details)

    def finish(self, status: tuple[grpc.StatusCode, str, Trailing] | None = None) -> None:
        """Marks the stream over (first word wins): OK, or the status it failed with."""
        if not self.done:
            self.done = True
            self.status = status
            self._wake()

    @property
    def has_reply(self) -> bool:
        """True once the stored reply (complete or partial) is the log's last message."""
        return bool(self.messages) and (
            self.messages[-1].WhichOneof("response") == "model_response"
        )

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -- the callers' side -------------------------------------------------------------

    def shaped(self, index: int, after_tokens: int) -> chat_pb2.AddResponseResponse | None:
        """Message `index` as a caller who had `after_tokens` tokens needs it (None: skip).

        The human message and the stored reply always go (the SDK keeps the first human
        message it got); tokens the caller had are left out; budgets before them too.
        """
        message = self.messages[index]
        if after_tokens == 0:
            return message
        through = self._tokens_through[index]
        count = _tokens_in(message)
        if count:
            if through <= after_tokens:
                return None
            before = through - count
            return message if before >= after_tokens else _cut(message, after_tokens - before)
        kind = message.WhichOneof("response")
        if kind in ("user_response", "model_response") or through >= after_tokens:
            return message
        return None

    def merged(
        self, first: chat_pb2.AddResponseResponse, index: int, after_tokens: int
    ) -> tuple[chat_pb2.AddResponseResponse, int]:
        """`first` (a token message) with the token messages after it, as one message.

        A caller's messages are written one at a time: the next goes once gRPC reports the
        last one sent. On a loaded server that round trip outgrew the time between
        tokens (45 ms and more with 200 streams a process: each stream's relay fell 10 to
        18 messages behind and its caller got them one round trip apart), so the tokens
        waiting when a write can go out go together, up to `MERGED_TOKENS`: a caller
        that keeps up still gets each token alone, one that fell behind catches up in one
        message. Returns the message and the index of the first message not in it (a
        budget or the stored reply ends a run; they go as they are).
        """
        tokens = _token_list(first)
        end = index
        while end < len(self.messages):
            message = self.shaped(end, after_tokens)
            if message is not None:
                more = _token_list(message) if _tokens_in(message) else []
                if not more or len(tokens) + len(more) > MERGED_TOKENS:
                    break
                tokens += more
            end += 1
        return (first if end == index else _batch(tokens)), end

    def release(self) -> None:
        """Its caller left: whatever fills the log for that call alone stops."""
        releases, self.releases = self.releases, []
        for release in releases:
            release()

    async def wait_beyond(self, seen: int) -> None:
        """Returns once there are more than `seen` messages, or the stream is over."""
        if len(self.messages) > seen or self.done:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await waiter


async def relay(log: ReplyLog, context: grpc.aio.ServicerContext, after_tokens: int) -> None:
    """Sends `log` to one caller from after its `after_tokens` tokens, live, to its end.

    Returns normally when the stream ended OK; ends the call with the stream's status
    otherwise. A cancelled call (its caller went away) raises CancelledError as usual.
    """
    if after_tokens > log.tokens and log.done and log.tokens_known:
        await context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"The reply has {log.tokens} tokens; the caller cannot have had {after_tokens}.",
        )
    position = 0
    while True:
        while position < len(log.messages):
            message = log.shaped(position, after_tokens)
            position += 1
            if message is None:
                continue
            if position < len(log.messages) and _tokens_in(message):
                message, position = log.merged(message, position, after_tokens)
            await context.write(message)
        if log.done:
            break
        await log.wait_beyond(position)
    if log.status is not None:
        code, details, trailing = log.status
        await context.abort(code, details, trailing_metadata=trailing)
