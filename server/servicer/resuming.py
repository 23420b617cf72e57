"""Resumable replies: sampled on when their caller's connection drops, resumed on request.

A stream whose request says `resumable` runs as its own task writing into a `ReplyLog`
(reply_log.py); the AddResponse call only relays the log. When the caller goes away (gRPC
tells the server only "cancelled", lost connection or not), the reply is sampled on for
`resume_grace_seconds`, within the existing limits (max_tokens, --max-streams, its
checkpoints): a `ResumeResponse` naming its request_id relays it again from the caller's
last token. Nobody within the grace: the task is cancelled, which keeps the text so far as
a partial reply (finish reason CANCELLED), as a dropped stream that is not resumable does.
A deliberate cancel is `CancelResponse`: the reply stops at once, kept partial.

A finished reply's log stays for the grace too, so a caller whose connection dropped just
before the end still gets the rest and the stored reply.

Lookups go through `ResumeSource`s after this process's own replies: the servicer gives
`StoredReplies` (stored_replies.py), a reply stored under its request id by any replica,
finished or kept partial, resent from the store once no log has it, and on PostgreSQL
`FeedReplies` (feed_replies.py), a reply another replica samples now, relayed from the
change feed. Only a reply neither running here, nor stored, nor known to run elsewhere is
NOT_FOUND. A reply relayed so by another server is held here past its grace (`hold`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import grpc

from grove_explorer.protos import chat_pb2
from grove_explorer.server.servicer.reply_log import ReplyAborted, ReplyLog, ReplyOutput, relay
from grove_explorer.server.servicer.status import STORAGE_ERROR_KEY, STORAGE_STATUS, abort, quote
from grove_explorer.server.store import StorageFailure

log = logging.getLogger(__name__)

RESUME_KEY = "grove-resume"
"""Trailing metadata of ResumeResponse's NOT_FOUND: "unknown", no such reply runs here."""


class ResumeSource(Protocol):
    """Finds the log of a caller's reply by its request_id (None: not known to it)."""

    async def find(self, user_id: str, request_id: str) -> ReplyLog | None:
        """The reply's log, filled as it is sampled (wherever that happens)."""


@dataclass(eq=False)
class _Reply:
    """A resumable reply of this process: its log, its task, its grace timer."""

    log: ReplyLog
    task: asyncio.Task[None] | None = None
    expiry: asyncio.TimerHandle | None = None
    held_until: float = 0.0  # the loop's time until which another server relays it


class ResumableReplies:
    """The resumable replies of this process, and the RPCs that resume and cancel them."""

    def __init__(self, grace_seconds: float, sources: Sequence[ResumeSource] = ()) -> None:
        self._grace = grace_seconds
        self._replies: dict[tuple[str, str], _Reply] = {}
        # Where replies sampled elsewhere are found (another replica's, via a change feed).
        self.sources: list[ResumeSource] = list(sources)

    async def find(self, user_id: str, request_id: str) -> ReplyLog | None:
        """A reply of this process (running, or finished within the grace)."""
        reply = self._replies.get((user_id, request_id))
        return reply.log if reply is not None else None

    async def run(
        self,
        user_id: str,
        request_id: str,
        body: Callable[[ReplyOutput], Awaitable[None]],
        context: grpc.aio.ServicerContext,
    ) -> None:
        """Runs `body` (the reply's stream) as a task into a log, and relays the log."""
        key = (user_id, request_id)
        reply = _Reply(ReplyLog(user_id, request_id))
        self._replies[key] = reply
        reply.task = asyncio.create_task(
            self._drive(key, reply, body), name=f"grove-reply-{request_id[:12]}"
        )
        await self._relay(reply, context, 0)

    async def _drive(
        self, key: tuple[str, str], reply: _Reply, body: Callable[[ReplyOutput], Awaitable[None]]
    ) -> None:
        """The reply's task: its stream, its end recorded in the log, then the grace."""
        out = reply.log
        try:
            await body(out)
            out.finish()
        except ReplyAborted:
            pass  # the status is in the log already
        except asyncio.CancelledError:
            # Cancelled on purpose or after the grace: the stream kept its text as a
            # partial reply, the log's last message (a late resume ends with it, OK).
            out.finish(
                None
                if out.has_reply
                else (grpc.StatusCode.CANCELLED, "The reply was cancelled before any text.", ())
            )
        except StorageFailure as failure:
            out.finish(
                (
                    STORAGE_STATUS[failure.kind],
                    failure.message,
                    ((STORAGE_ERROR_KEY, failure.kind),),
                )
            )
        except Exception:
            log.exception("reply %s failed", key[1])
            out.finish((grpc.StatusCode.INTERNAL, "The reply failed inside the server.", ()))
        finally:
            if reply.expiry is not None:
                reply.expiry.cancel()
                reply.expiry = None
            # Kept for the grace: a caller that lost the last messages still gets them.
            asyncio.get_running_loop().call_later(self._grace, self._forget, key, reply)

    def _forget(self, key: tuple[str, str], reply: _Reply) -> None:
        if self._replies.get(key) is reply:
            del self._replies[key]

    async def _relay(self, reply: _Reply, context: grpc.aio.ServicerContext, after: int) -> None:
        """Relays the reply to one call; the last call to leave starts the grace."""
        out = reply.log
        out.attached += 1
        if reply.expiry is not None:
            reply.expiry.cancel()
            reply.expiry = None
        try:
            await relay(out, context, after)
        finally:
            out.attached -= 1
            if out.attached == 0 and not out.done:
                reply.expiry = asyncio.get_running_loop().call_later(
                    self._grace, self._expire, reply
                )

    def hold(self, user_id: str, request_id: str, seconds: float) -> None:
        """Another server relays the reply to its caller: no grace ends it for `seconds`.

        The relaying server renews the hold while it relays (feed_replies.py), so a relay
        that stops lets the grace end the reply again. A hold heard before this server saw
        its own caller leave counts too: the grace, when it ends, looks at it.
        """
        reply = self._replies.get((user_id, request_id))
        if reply is not None and not reply.log.done:
            now = asyncio.get_running_loop().time()
            reply.held_until = max(reply.held_until, now + seconds)

    def _expire(self, reply: _Reply) -> None:
        """Nobody resumed within the grace: the reply ends as a dropped one does."""
        reply.expiry = None
        held = reply.held_until - asyncio.get_running_loop().time()
        if held > 0 and reply.log.attached == 0 and not reply.log.done:
            reply.expiry = asyncio.get_running_loop().call_later(held, self._expire, reply)
            return  # another server relays it (hold)
        if reply.log.attached == 0 and not reply.log.done and reply.task is not None:
            log.info(
                "no caller resumed reply %s within %gs; keeping it partial",
                reply.log.request_id,
                self._grace,
            )
            reply.task.cancel()

    # -- the RPCs ----------------------------------------------------------------------

    async def resume(
        self,
        user_id: str,
        request: chat_pb2.ResumeResponseRequest,
        context: grpc.aio.ServicerContext,
    ) -> None:
        """ResumeResponse: the caller's reply from after its `after_tokens` tokens."""
        await _check_request_id(request.request_id, context)
        if request.after_tokens < 0:
            await abort(
                context, grpc.StatusCode.INVALID_ARGUMENT, "after_tokens cannot be negative."
            )
        reply = self._replies.get((user_id, request.request_id))
        if reply is not None:
            await self._relay(reply, context, request.after_tokens)
            return
        for source in self.sources:
            found = await source.find(user_id, request.request_id)
            if found is not None:
                try:
                    await relay(found, context, request.after_tokens)
                finally:
                    found.release()
                return
        await context.abort(
            grpc.StatusCode.NOT_FOUND,
            f"No reply with request_id {quote(request.request_id)} runs on this server or is "
            "stored (it runs on another server, or its server stopped before storing it: its "
            "last checkpoint becomes a partial reply once a server recovers it).",
            trailing_metadata=((RESUME_KEY, "unknown"),),
        )

    async def cancel(
        self,
        user_id: str,
        request: chat_pb2.CancelResponseRequest,
        context: grpc.aio.ServicerContext,
    ) -> chat_pb2.CancelResponseResponse:
        """CancelResponse: stops the caller's reply now; answers once its text is kept."""
        await _check_request_id(request.request_id, context)
        reply = self._replies.get((user_id, request.request_id))
        if reply is None or reply.task is None or reply.log.done:
            return chat_pb2.CancelResponseResponse(cancelled=False)
        reply.task.cancel()
        await asyncio.wait({reply.task})
        return chat_pb2.CancelResponseResponse(cancelled=True)


async def _check_request_id(request_id: str, context: grpc.aio.ServicerContext) -> None:
    if not request_id:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            "request_id is required: name the reply (the request_id its AddResponse sent).",
        )
