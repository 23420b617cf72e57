"""Sharing a conversation with other users of the server (extension, issue 17).

Part of the SDK's `Conversation` (a base class of it): who owns the conversation, the
caller's role, and the owner's grants (`share_with`, `unshare`, `access_list`). Also the
share-link resolution `AsyncGrok.get_conversation` uses for a URL. A reader who tries to
write gets `ReadOnlyShareError`, a writer who tries the owner's part `NotOwnerError`
(both `AccessDeniedError`s, client/errors.py).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Literal

from grove_explorer.client.convert import role_name, utc_datetime
from grove_explorer.client.rpc import rpc
from grove_explorer.protos import chat_pb2, chat_pb2_grpc

Role = Literal["owner", "writer", "reader"]
"""A user's role on a conversation."""

_ROLE_TO_WIRE: dict[str, chat_pb2.ShareRole] = {
    "writer": chat_pb2.SHARE_ROLE_WRITER,
    "reader": chat_pb2.SHARE_ROLE_READER,
}


def role_from_proto(role: int) -> Role:
    """The role a Conversation message gives the caller (OWNER or unset: "owner")."""
    name = role_name(role)
    return "writer" if name == "writer" else "reader" if name == "reader" else "owner"


@dataclass(frozen=True, slots=True)
class AccessGrant:
    """One user a conversation is shared with, as its owner lists it."""

    user_id: str
    role: Role
    granted_by: str
    create_time: datetime.datetime | None

    @classmethod
    def from_proto(cls, wire: chat_pb2.AccessGrant) -> AccessGrant:
        """The grant a GrantAccess or ListAccess reply carries."""
        return cls(
            user_id=wire.user_id,
            role=role_from_proto(wire.role),
            granted_by=wire.granted_by,
            create_time=utc_datetime(wire.create_time) if wire.HasField("create_time") else None,
        )


def looks_like_link(text: str) -> bool:
    """True for a URL (or a path) rather than an id or an id's prefix."""
    return "/" in text or ":" in text


async def resolve_share_link(stub: chat_pb2_grpc.ChatStub, link: str) -> tuple[str, str]:
    """The conversation id (and the response id, "" if none) a share link names.

    Raises NotFoundError when the caller may not read what it names (or nothing), and
    InvalidArgumentError when it does not end with a Grove id.
    """
    reply: chat_pb2.ResolveShareLinkResponse = await rpc(
        stub.ResolveShareLink(chat_pb2.ResolveShareLinkRequest(link=link))
    )
    return reply.conversation_id, reply.response_id


class SharingCalls:
    """The sharing half of `Conversation` (whose state it reads)."""

    _stub: chat_pb2_grpc.ChatStub
    _conversation: chat_pb2.Conversation | None

    def _get_conversation_or_raise(self) -> chat_pb2.Conversation:
        raise NotImplementedError  # Conversation's

    @property
    def owner_user_id(self) -> str:
        """Extension: the user who owns the conversation ("" from a server before sharing)."""
        return self._get_conversation_or_raise().owner_user_id

    @property
    def caller_user_id(self) -> str:
        """Extension: the user this client is, as the server said when it was loaded.

        What tells "You" from a writer's or the owner's id ("" from older servers).
        """
        return self._get_conversation_or_raise().caller_user_id

    @property
    def role(self) -> Role:
        """Extension: the caller's role: "owner", "writer" or "reader"."""
        return role_from_proto(self._get_conversation_or_raise().role)

    @property
    def read_only(self) -> bool:
        """Extension: True when the conversation is shared with the caller as a reader."""
        return self.role == "reader"

    async def share_with(self, user_id: str, role: str = "reader") -> AccessGrant:
        """Extension: shares the conversation with `user_id` as "reader" or "writer".

        Sharing again changes their role. The owner only (`NotOwnerError` otherwise);
        an unknown user, the owner themselves or another role is `InvalidArgumentError`.
        """
        wire_role = _ROLE_TO_WIRE.get(role)
        if wire_role is None:
            from grove_explorer.client.errors import InvalidArgumentError

            raise InvalidArgumentError(f"Unknown role {role!r}: share as 'reader' or 'writer'.")
        conversation = self._get_conversation_or_raise()
        grant: chat_pb2.AccessGrant = await rpc(
            self._stub.GrantAccess(
                chat_pb2.GrantAccessRequest(
                    conversation_id=conversation.conversation_id, user_id=user_id, role=wire_role
                )
            )
        )
        return AccessGrant.from_proto(grant)

    async def unshare(self, user_id: str) -> bool:
        """Extension: ends `user_id`'s access (their next call is refused); False: had none."""
        conversation = self._get_conversation_or_raise()
        reply: chat_pb2.RevokeAccessResponse = await rpc(
            self._stub.RevokeAccess(
                chat_pb2.RevokeAccessRequest(
                    conversation_id=conversation.conversation_id, user_id=user_id
                )
            )
        )
        return reply.revoked

    async def access_list(self) -> list[AccessGrant]:
        """Extension: the users the conversation is shared with, oldest grant first."""
        conversation = self._get_conversation_or_raise()
        reply: chat_pb2.ListAccessResponse = await rpc(
            self._stub.ListAccess(
                chat_pb2.ListAccessRequest(conversation_id=conversation.conversation_id)
            )
        )
        return [AccessGrant.from_proto(grant) for grant in reply.grants]
