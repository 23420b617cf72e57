"""Who is calling: the user behind an RPC, from its `authorization: Bearer <key>` metadata.

With no keys configured the server is a single-user local server and everyone is
`LOCAL_USER`. With keys, only the SHA-256 digest of each key is kept, and a call without a
known key is refused with UNAUTHENTICATED.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import grpc

LOCAL_USER = "local"


def hash_key(key: str) -> str:
    """Returns the digest under which a bearer key is stored (the key itself never is)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class Authenticator:
    """Maps a call's metadata to a user id, or aborts it as UNAUTHENTICATED."""

    def __init__(self, key_hashes: Mapping[str, str]) -> None:
        self._key_hashes = dict(key_hashes)

    @property
    def open_access(self) -> bool:
        """True when no keys are configured: every caller is the local user."""
        return not self._key_hashes

    async def identify(self, context: grpc.aio.ServicerContext) -> str:
        """Returns the calling user; aborts the RPC when a key is required and missing."""
        if self.open_access:
            return LOCAL_USER
        bearer = _bearer_token(context.invocation_metadata() or ())
        if bearer is None:
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "This server requires an API key: send 'authorization: Bearer <key>'.",
            )
        user = self._key_hashes.get(hash_key(bearer or ""))
        if user is None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "The API key is not valid.")
        return user or ""


def _bearer_token(metadata: object) -> str | None:
    """Extracts the bearer token from call metadata, if any."""
    for item in metadata:  # type: ignore[attr-defined]
        key, value = item.key, item.value
        if key.lower() == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None
