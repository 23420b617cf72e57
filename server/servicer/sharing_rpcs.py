"""The sharing RPCs of the Chat service, as a part of `ChatServicer` (rpcs.py).

Their bodies are in sharing.py; who may do what is access.py.
"""

from __future__ import annotations

import grpc

from grove_explorer.protos import chat_pb2
from grove_explorer.server.auth import Authenticator
from grove_explorer.server.servicer.sharing import (
    grant_access_reply,
    list_access_reply,
    resolve_link_reply,
    revoke_access_reply,
)
from grove_explorer.server.store import Store


class SharingRpcs:
    """GrantAccess, RevokeAccess, ListAccess and ResolveShareLink on the servicer's store."""

    _store: Store
    _auth: Authenticator

    async def GrantAccess(
        self, request: chat_pb2.GrantAccessRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.AccessGrant:
        """Shares the caller's conversation with a user as a reader or a writer."""
        user = await self._auth.identify(context)
        return await grant_access_reply(self._store, user, request, context, self._auth.knows_user)

    async def RevokeAccess(
        self, request: chat_pb2.RevokeAccessRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.RevokeAccessResponse:
        """Ends a user's access to the caller's conversation."""
        user = await self._auth.identify(context)
        return await revoke_access_reply(self._store, user, request, context)

    async def ListAccess(
        self, request: chat_pb2.ListAccessRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.ListAccessResponse:
        """The users the caller's conversation is shared with."""
        user = await self._auth.identify(context)
        return await list_access_reply(self._store, user, request, context)

    async def ResolveShareLink(
        self, request: chat_pb2.ResolveShareLinkRequest, context: grpc.aio.ServicerContext
    ) -> chat_pb2.ResolveShareLinkResponse:
        """The conversation a share link names, for a caller who may read it."""
        user = await self._auth.identify(context)
        return await resolve_link_reply(self._store, user, request, context)
