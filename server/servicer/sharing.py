"""GrantAccess, RevokeAccess, ListAccess and ResolveShareLink: sharing between users.

The owner shares a conversation with another user of the server as a reader or a writer
(what each may do: access.py). Only the owner grants, revokes and lists; a writer asking
is PERMISSION_DENIED, anyone else NOT_FOUND as for a missing conversation. A share link
(ShareConversation's URL names a response) resolves to its conversation for anyone who
may read it, and to NOT_FOUND — one sentence for every link — for everyone else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import grpc

from grove_explorer.protos import chat_pb2
from grove_explorer.server.convert import timestamp
from grove_explorer.server.servicer.access import resolve
from grove_explorer.server.servicer.status import abort, abort_not_found, quote
from grove_explorer.server.store import Store, UnknownConversationError
from grove_explorer.server.store.sharing_records import ShareRecord, ShareRefusedError

MAX_USER_ID_CHARS = 200

ROLE_FROM_WIRE: dict[int, str] = {
    chat_pb2.SHARE_ROLE_READER: "reader",
    chat_pb2.SHARE_ROLE_WRITER: "writer",
}

_ROLE_TO_WIRE: dict[str, chat_pb2.ShareRole] = {
    "reader": chat_pb2.SHARE_ROLE_READER,
    "writer": chat_pb2.SHARE_ROLE_WRITER,
}

LINK_NOT_FOUND = "No conversation you can read is named by that link."


def grant_to_proto(share: ShareRecord) -> chat_pb2.AccessGrant:
    """The wire form of one share."""
    return chat_pb2.AccessGrant(
        conversation_id=share.conversation_id,
        user_id=share.user_id,
        role=_ROLE_TO_WIRE[share.role],
        granted_by=share.granted_by,
        create_time=timestamp(share.create_time),
    )


async def _user_or_abort(user_id: str, context: grpc.aio.ServicerContext) -> str:
    """The user a grant or revocation names, checked for shape."""
    if not user_id.strip():
        await abort(
            context, grpc.StatusCode.INVALID_ARGUMENT, "user_id is required: name the user."
        )
    if len(user_id) > MAX_USER_ID_CHARS or user_id != user_id.strip():
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"user_id {quote(user_id)} is not a user name of this server.",
        )
    return user_id


async def grant_access_reply(
    store: Store,
    user: str,
    request: chat_pb2.GrantAccessRequest,
    context: grpc.aio.ServicerContext,
    knows_user: Callable[[str], Awaitable[bool]],
) -> chat_pb2.AccessGrant:
    """Shares the caller's conversation with `request.user_id` (again: a new role)."""
    owner = await resolve(store, context, user, request.conversation_id, "own", action="share it")
    grantee = await _user_or_abort(request.user_id, context)
    role = ROLE_FROM_WIRE.get(request.role)
    if role is None:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            "role is required: share as READER (reads, searches, exports) or WRITER "
            "(also adds replies, annotations, judgements).",
        )
    if grantee != owner and not await knows_user(grantee):
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"No user {quote(grantee)} holds a key on this server; check the name "
            "(the operator's `grove keys list` shows every user).",
        )
    try:
        share = await store.grant_access(owner, request.conversation_id, grantee, role)
    except ShareRefusedError as error:
        await abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(error))
    except UnknownConversationError:  # deleted in between
        await abort_not_found(context, request.conversation_id)
    return grant_to_proto(share)


async def revoke_access_reply(
    store: Store,
    user: str,
    request: chat_pb2.RevokeAccessRequest,
    context: grpc.aio.ServicerContext,
) -> chat_pb2.RevokeAccessResponse:
    """Ends a user's access to the caller's conversation (False: it had none)."""
    owner = await resolve(
        store, context, user, request.conversation_id, "own", action="revoke access"
    )
    grantee = await _user_or_abort(request.user_id, context)
    revoked = await store.revoke_access(owner, request.conversation_id, grantee)
    return chat_pb2.RevokeAccessResponse(revoked=revoked)


async def list_access_reply(
    store: Store, user: str, request: chat_pb2.ListAccessRequest, context: grpc.aio.ServicerContext
) -> chat_pb2.ListAccessResponse:
    """The users the caller's conversation is shared with, oldest grant first."""
    owner = await resolve(
        store, context, user, request.conversation_id, "own", action="list who it is shared with"
    )
    shares = await store.list_access(owner, request.conversation_id)
    return chat_pb2.ListAccessResponse(grants=[grant_to_proto(s) for s in shares])


def link_id(link: str) -> str:
    """The id a link ends with: a URL's last path segment, or the text itself."""
    text = link.strip()
    if "/" in text or ":" in text:
        parts = urlsplit(text)
        path = parts.path if parts.scheme or parts.netloc else text.split("?")[0]
        text = path.rstrip("/").rsplit("/", 1)[-1]
    return text.lower()


async def resolve_link_reply(
    store: Store,
    user: str,
    request: chat_pb2.ResolveShareLinkRequest,
    context: grpc.aio.ServicerContext,
) -> chat_pb2.ResolveShareLinkResponse:
    """The conversation (and response) a link names, when the caller may read it."""
    if not request.link.strip():
        await abort(context, grpc.StatusCode.INVALID_ARGUMENT, "link is required.")
    named = link_id(request.link)
    if len(named) != 32 or any(c not in "0123456789abcdef" for c in named):
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Link {quote(request.link, 80)} is not a share link: it does not end with a "
            "Grove id (32 hexadecimal digits).",
        )
    if await store.access(user, named) is not None:
        return chat_pb2.ResolveShareLinkResponse(conversation_id=named)
    conversation_id = await store.locate_response(named)
    if conversation_id is None or await store.access(user, conversation_id) is None:
        await abort(context, grpc.StatusCode.NOT_FOUND, LINK_NOT_FOUND)
    return chat_pb2.ResolveShareLinkResponse(conversation_id=conversation_id, response_id=named)
