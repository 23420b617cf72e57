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
from collections.abc import Callable, Sequence
from typing import NoReturn, Protocol

import grpc

from grove_explorer.protos import chat_pb2, sampler_public_pb2
from grove_explorer.server.convert import token_batch_message, token_rows_message
from grove_explorer.server.sampler.base import SampledToken
from grove_explorer.server.servicer.status import Abortable, Trailing


class ReplyOutput(Abortable, Protocol):
    """Where a reply's stream writes its messages (the call's context, or a log)."""

    async def write(self, message: chat_pb2.AddResponseResponse) -> None:
        """Sends (or keeps) one message of the stream."""


MERGED_TOKENS = 64
"""The most tokens a relay puts in one message when its caller has fallen behind."""

Tokens = Sequence[SampledToken]
"""A batch of tokens as the stream wrote it: one message on the wire, unless merged."""

Span = tuple[int, int]
"""A batch of a log's tokens: the first's index and the index after the last."""

Entry = chat_pb2.AddResponseResponse | Span
"""What a log sends: a batch of tokens, or any other message (human, budget, reply)."""


class ReplyAborted(Exception):
    """Raised by `ReplyLog.abort`, as `context.abort` raises: the stream ends there."""


async def send_tokens(out: ReplyOutput, tokens: Tokens) -> None:
    """Sends one batch of tokens: kept as they are by a log, as one message by a call.

    A log builds the message when a caller is sent it (`relay`): a caller that fell
    behind gets the batches waiting as one message built once, where building each
    batch's message on writing would build every token twice.
    """
    if isinstance(out, ReplyLog):
        out.write_tokens(tokens)
    else:
        await out.write(token_batch_message(tokens))


def _sampled(token: sampler_public_pb2.Token) -> SampledToken:
    """A token message's token as sampled (the inverse of `token_batch_message`'s fill)."""
    final = token.final_logit
    return SampledToken(
        final.string_token,
        None if token.logprob_unknown else final.logprob,
        tuple((alt.string_token, alt.logprob) for alt in token.top_logits),
    )


def _tokens_of(message: chat_pb2.AddResponseResponse) -> Tokens | None:
    """The tokens a token message carries (its batch's, or its one token); None otherwise."""
    if message.WhichOneof("response") != "token":
        return None
    sample = message.token
    if sample.tokens:
        return [_sampled(token) for token in sample.tokens]
    return [_sampled(sample.token)] if sample.WhichOneof("response") == "token" else None


class ReplyLog:
    """The messages of one resumable reply, its end, and the calls relaying it."""

    def __init__(self, user_id: str, request_id: str) -> None:
        self.user_id = user_id
        self.request_id = request_id
        # The messages in order; None for a batch of tokens (a message is built when one
        # is sent), the tokens from the entry before's `_tokens_through` to its own.
        # The tokens are kept as values in three lists, not as objects: a reply's log
        # outlives its stream by the resume grace, and objects kept a token fill the
        # collector's young generation (each pass stopped every stream of the server for
        # 12-35 ms in bench.scale).
        self.entries: list[chat_pb2.AddResponseResponse | None] = []
        self._texts: list[str] = []
        self._logprobs: list[float | None] = []
        self._tops: list[tuple[tuple[str, float], ...]] = []
        # Tokens sent up to and including each entry (parallel to `entries`).
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
        """Keeps one message and wakes the relaying calls (a token message as its tokens)."""
        tokens = _tokens_of(message)
        if tokens is not None:
            self.write_tokens(tokens)
            return
        self.entries.append(message)
        self._tokens_through.append(self.tokens)
        self._wake()

    def write_tokens(self, tokens: Tokens) -> None:
        """Keeps one batch of tokens (sent as one message) and wakes the relaying calls."""
        for token in tokens:
            self._texts.append(token.text)
            self._logprobs.append(token.logprob)
            self._tops.append(token.top)
        self.tokens += len(tokens)
        self.entries.append(None)
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
        if not self.entries:
            return False
        last = self.entries[-1]
        return last is not None and last.WhichOneof("response") == "model_response"

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -- the callers' side -------------------------------------------------------------

    def shaped_entry(self, index: int, after_tokens: int) -> Entry | None:
        """Entry `index` as a caller who had `after_tokens` tokens needs it (None: skip).

        A batch of tokens comes as its span of the log's tokens. The human message and the
        stored reply always go (the SDK keeps the first human message it got); tokens the
        caller had are left out (a batch it had part of is cut); budgets before them too.
        """
        entry = self.entries[index]
        through = self._tokens_through[index]
        if entry is None:
            start = max(self._tokens_through[index - 1] if index else 0, after_tokens)
            return (start, through) if start < through else None
        if after_tokens == 0:
            return entry
        kind = entry.WhichOneof("response")
        if kind in ("user_response", "model_response") or through >= after_tokens:
            return entry
        return None

    def shaped(self, index: int, after_tokens: int) -> chat_pb2.AddResponseResponse | None:
        """Entry `index` as the message a caller who had `after_tokens` tokens is sent."""
        entry = self.shaped_entry(index, after_tokens)
        if entry is None or isinstance(entry, chat_pb2.AddResponseResponse):
            return entry
        return self.tokens_message(entry)

    def tokens_message(self, span: Span) -> chat_pb2.AddResponseResponse:
        """The message carrying the log's tokens `span` (start, end)."""
        start, end = span
        return token_rows_message(
            self._texts[start:end], self._logprobs[start:end], self._tops[start:end]
        )

    def merged(self, first: Span, index: int, after_tokens: int) -> tuple[Span, int]:
        """`first` (a batch) with the batches after it, as one batch of at most the cap.

        A caller's messages are written one at a time: the next goes once gRPC reports the
        last one sent. On a loaded server that round trip outgrew the time between
        tokens (45 ms and more with 200 streams a process: each stream's relay fell 10 to
        18 messages behind and its caller got them one round trip apart), so the tokens
        waiting when a write can go out go together, up to `MERGED_TOKENS`: a caller
        that keeps up still gets each batch alone, one that fell behind catches up in one
        message. Returns the batch's span and the index of the first entry not in it (a
        budget or the stored reply ends a run; they go as they are).
        """
        start, stop = first
        end = index
        while end < len(self.entries):
            entry = self.shaped_entry(end, after_tokens)
            if entry is not None:
                if isinstance(entry, chat_pb2.AddResponseResponse):
                    break
                if entry[1] - start > MERGED_TOKENS:
                    break
                stop = entry[1]  # the batches of a run follow each other in the log
            end += 1
        return (start, stop), end

    def release(self) -> None:
        """Its caller left: whatever fills the log for that call alone stops."""
        releases, self.releases = self.releases, []
        for release in releases:
            release()

    async def wait_beyond(self, seen: int) -> None:
        """Returns once there are more than `seen` entries, or the stream is over."""
        if len(self.entries) > seen or self.done:
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
    entries = log.entries
    while True:
        while position < len(entries):
            entry = log.shaped_entry(position, after_tokens)
            position += 1
            if entry is None:
                continue
            if isinstance(entry, chat_pb2.AddResponseResponse):
                await context.write(entry)
                continue
            if position < len(entries):
                entry, position = log.merged(entry, position, after_tokens)
            await context.write(log.tokens_message(entry))
        if log.done:
            break
        await log.wait_beyond(position)
    if log.status is not None:
        code, details, trailing = log.status
        await context.abort(code, details, trailing_metadata=trailing)
