"""Replies a ResumeResponse finds in the store: where no replica runs them any more.

A resumable reply's log lives in the process that samples it, for the resume grace after
its end. A caller whose connection dropped may come back later than that, or to another
replica, because the one that ran the reply died after storing it (bench.scale found
replies stored whole reported as lost). The store has what is left: the reply and its
human message keep the request's id (migration 17), and the reply its tokens with their
logprobs and alternatives. `StoredReplies` is the `ResumeSource` that reads them and
rebuilds the log the stream would have written, finished, so `relay` sends the caller the
tokens after the ones it had and the stored reply last, as a live resume does.

What the store does not keep is not invented: budget updates are not resent (the stored
reply carries its counts), and a reply recovered from a crash's checkpoint has no stored
tokens, so its caller gets the partial reply (partial, "interrupted") with no tokens
before it, even when it had received more text than the checkpoint held.
"""

from __future__ import annotations

import logging

from grove_explorer.protos import chat_pb2
from grove_explorer.server.convert import response_to_proto
from grove_explorer.server.sampler.base import SampledToken
from grove_explorer.server.servicer.reply_log import ReplyLog
from grove_explorer.server.store import ResponseRecord, Store, TokenRow

log = logging.getLogger(__name__)

STORED_BATCH_TOKENS = 64
"""Tokens per message of a stored reply's resend (a bounded message, few writes)."""


class StoredReplies:
    """The `ResumeSource` of replies stored under their request id (any replica's)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def find(self, user_id: str, request_id: str) -> ReplyLog | None:
        """The finished log of the caller's stored reply; None while none is stored.

        A request whose human message is stored but whose reply is not (still sampling on
        another replica, or lost with a replica whose checkpoint is not recovered yet) is
        not found: the caller asks elsewhere, or is told it cannot resume. The caller must
        still have access to the conversation (a revoked writer resumes nothing).
        """
        records = await self._store.request_responses(user_id, request_id)
        replies = [r for r in records if r.sender == "model"]
        if not replies:
            return None  # nothing stored, or its human message alone
        reply = replies[-1]
        access = await self._store.access(user_id, reply.conversation_id)
        if access is None:
            return None
        tokens = await self._store.response_tokens(
            access.owner_id, reply.conversation_id, reply.response_id
        )
        if tokens is None:
            return None  # deleted since it was read
        human = next(
            (
                r
                for r in records
                if r.sender == "human" and r.response_id == reply.parent_response_id
            ),
            None,
        )
        log.info(
            "resuming reply %s from the store (%d tokens%s)",
            request_id,
            len(tokens),
            ", partial" if reply.partial else "",
        )
        return await stored_log(user_id, request_id, human, reply, tokens)


async def stored_log(
    user_id: str,
    request_id: str,
    human: ResponseRecord | None,
    reply: ResponseRecord,
    tokens: list[TokenRow],
) -> ReplyLog:
    """The finished log of a stored reply: its human message, its tokens, the reply."""
    out = ReplyLog(user_id, request_id)
    # A reply stored without tokens (a crash's checkpoint) cannot say how many its caller
    # had: any count is accepted, and only the reply is sent.
    out.tokens_known = bool(tokens) or not reply.message
    if human is not None:
        await out.write(chat_pb2.AddResponseResponse(user_response=response_to_proto(human)))
    for start in range(0, len(tokens), STORED_BATCH_TOKENS):
        batch = [SampledToken(*row) for row in tokens[start : start + STORED_BATCH_TOKENS]]
        out.write_tokens(batch)
    await out.write(chat_pb2.AddResponseResponse(model_response=response_to_proto(reply)))
    out.finish()
    return out
