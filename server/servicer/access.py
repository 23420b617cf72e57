"""Who may do what with a conversation: the one access check of every RPC that names one.

A conversation belongs to its owner; the owner may share it with other users as a reader
or a writer (GrantAccess, server/servicer/sharing.py). Every RPC that takes a conversation
id asks `resolve` first, with what it needs:

* "read"  — GetConversation, tokens, ListVotes, export, search hits, the caller's OWN
  place (SelectResponse: places are per user, so a reader moving theirs changes nothing
  shared; keep it keyed by the caller, never the owner), ResolveShareLink;
* "write" — AddResponse (and its fusions and replays), AddModelResponse,
  AnnotateResponse, JudgeResponses, ExtractPoints, RecordVote;
* "own"   — UpdateConversation (title, star), DeleteConversation, GenerateTitle,
  ShareConversation, GrantAccess / RevokeAccess / ListAccess.

`resolve` returns the owner's id: the store's conversation methods are scoped by owner,
so an RPC passes that id to them and keeps the caller's own id for what is the caller's
(their place, their stream's request_id). Responses a writer makes carry their id as
`author` (`author_of`); so do their annotations and judgements, and their arena votes are
theirs (`voter`): a leaderboard counts the votes its user cast, never a writer's in the
owner's. Reads of a conversation show everyone's annotations and judgements.

Refusals: no access (missing, deleted, never shared, revoked) is NOT_FOUND with the very
sentence of a missing conversation, so a stranger learns nothing. A reader asking to
write, or a writer asking for an owner's call, gets PERMISSION_DENIED with a sentence that
names the owner and what to ask for. Revocation takes effect on the next call: nothing is
cached.

For a new RPC (WatchConversation, ResumeResponse, …):

    user = await self._auth.identify(context)
    owner = await resolve(self._store, context, user, request.conversation_id, "read")
    # store reads with `owner`; per-user state with `user`
"""

from __future__ import annotations

from typing import Literal, NoReturn

import grpc

from grove_explorer.server.servicer.status import abort, abort_not_found, check_id
from grove_explorer.server.store import Store
from grove_explorer.server.store.sharing_records import Access

Need = Literal["read", "write", "own"]
"""What a call does with the conversation (see the module)."""

ACCESS_ERROR_KEY = "grove-access-denied"
"""Trailing metadata of a PERMISSION_DENIED: "read_only" (a reader tried to write) or
"not_owner" (a writer tried the owner's part), so the SDK raises its specific exception."""
OWNER_KEY = "grove-owner"
"""Trailing metadata naming the conversation's owner (the UI says "shared by alice")."""


async def resolve(
    store: Store,
    context: grpc.aio.ServicerContext,
    user_id: str,
    conversation_id: str,
    need: Need,
    *,
    action: str = "",
) -> str:
    """The owner's id when `user_id` may do `need` with the conversation; else the call ends.

    `action` words an owner-only refusal ("delete it", "rename or star it"); "" a general
    one. One indexed store read (`Store.access`).
    """
    access = await access_or_abort(store, context, user_id, conversation_id, need, action=action)
    return access.owner_id


async def access_or_abort(
    store: Store,
    context: grpc.aio.ServicerContext,
    user_id: str,
    conversation_id: str,
    need: Need,
    *,
    action: str = "",
) -> Access:
    """`resolve`, returning the owner and the caller's role (for replies that show it)."""
    if not conversation_id:
        await abort(context, grpc.StatusCode.INVALID_ARGUMENT, "conversation_id is required.")
    await check_id("conversation_id", conversation_id, context)
    access = await store.access(user_id, conversation_id)
    if access is None:
        await abort_not_found(context, conversation_id)
    await check_role(context, access, need, action=action)
    return access


async def check_role(
    context: grpc.aio.ServicerContext, access: Access, need: Need, *, action: str = ""
) -> None:
    """Ends the call with PERMISSION_DENIED when `access` does not allow `need`."""
    if need == "write" and not access.can_write:
        await _deny(
            context,
            access,
            "read_only",
            f"{access.owner_id} shares this conversation with you as a reader; "
            "ask them for writer access.",
        )
    if need == "own" and not access.is_owner:
        what = action or "do that"
        await _deny(
            context,
            access,
            "not_owner",
            f"Only {access.owner_id}, who owns this conversation, can {what}; "
            f"it is shared with you as a {access.role}.",
        )


async def _deny(
    context: grpc.aio.ServicerContext, access: Access, kind: str, sentence: str
) -> NoReturn:
    """PERMISSION_DENIED with the sentence, the kind and the owner as trailing metadata."""
    await context.abort(
        grpc.StatusCode.PERMISSION_DENIED,
        sentence,
        trailing_metadata=((ACCESS_ERROR_KEY, kind), (OWNER_KEY, access.owner_id)),
    )
    raise AssertionError("unreachable: context.abort raises")  # pragma: no cover


def author_of(user_id: str, owner_id: str) -> str:
    """What a response made by `user_id` records as its author ("" when it is the owner)."""
    return "" if user_id == owner_id else user_id
