"""Who is calling: the user behind an RPC, from its `authorization: Bearer <key>` metadata.

Keys come from two places: the server's configuration (`ServerConfig.api_keys`, digest →
user, used by tests and embedders) and the key table of the store (`grove keys create`).
Only SHA-256 digests are ever kept, and keys are never logged.

While no key is active anywhere, a server on a loopback address is a single-user local
server and every caller is `LOCAL_USER`. As soon as one key is active, every call needs a
valid one. A server listening on a network address (`require_key`) never falls back to open
access: revoking its last key locks it rather than opening it to everyone.

Each call looks its key up in the store (one indexed read, see
`SqliteStore.check_api_key`; an AddResponse start reads its conversation's owner in the
same statement), so `grove keys revoke` takes effect on the very next call of a running
server, even though it runs in another process. Nothing about keys is cached.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping

import grpc

from grove_explorer.server.store.protocol import KeyStore
from grove_explorer.server.store.records import ApiKeyCheck

LOCAL_USER = "local"

MISSING_KEY_MESSAGE = "This server requires an API key: send 'authorization: Bearer <key>'."
INVALID_KEY_MESSAGE = "The API key is not valid."
REVOKED_KEY_MESSAGE = "The API key was revoked."


def hash_key(key: str) -> str:
    """Returns the digest under which a bearer key is stored (the key itself never is)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def is_loopback_host(host: str) -> bool:
    """True for `localhost` and 127.0.0.0/8 / ::1, the addresses only this machine reaches.

    Anything else, including the wildcard addresses (`0.0.0.0`, `::`, empty) and host
    names, may be reachable from the network.
    """
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_refusal(host: str, *, has_active_keys: bool, insecure_no_auth: bool) -> str | None:
    """The sentence refusing to serve `host` without keys, or None when serving is fine.

    A server without keys answers every caller as the local user, which is only safe
    where nobody else can connect. `--insecure-no-auth` is the explicit way to accept it.
    """
    if has_active_keys or insecure_no_auth or is_loopback_host(host):
        return None
    return (
        f"Refusing to listen on {host or 'all interfaces'} without API keys: anyone who can "
        f"reach it could read and write every conversation. Create a key with "
        f"'grove keys create --user NAME' (same --db), listen on 127.0.0.1, or pass "
        f"--insecure-no-auth."
    )


class Authenticator:
    """Maps a call's metadata to a user id, or aborts it as UNAUTHENTICATED."""

    def __init__(
        self,
        key_hashes: Mapping[str, str],
        keys: KeyStore | None = None,
        *,
        require_key: bool = False,
    ) -> None:
        """Accepts the configured digests, the store's keys (if given), or both.

        `require_key` refuses keyless calls even when no key is active (network servers).
        """
        self._key_hashes = dict(key_hashes)
        self._keys = keys
        self._require_key = require_key

    @property
    def require_key(self) -> bool:
        """True when keyless calls are refused even while no key is active."""
        return self._require_key

    async def knows_user(self, user_id: str) -> bool:
        """Whether `user_id` holds a key here, configured or stored (revoked ones count).

        Sharing with a name nobody holds is most likely a typo, refused with a sentence.
        """
        if user_id in self._key_hashes.values():
            return True
        if self._keys is None:
            return False
        return any(key.user_id == user_id for key in await self._keys.list_api_keys())

    async def has_active_keys(self) -> bool:
        """True when a configured key exists or the store holds a non-revoked one."""
        if self._key_hashes:
            return True
        return self._keys is not None and await self._keys.has_active_api_keys()

    async def identify(self, context: grpc.aio.ServicerContext) -> str:
        """Returns the calling user; aborts the RPC when a key is required and not valid."""
        bearer = _bearer_token(context.invocation_metadata() or ())
        digest = None if bearer is None else hash_key(bearer)
        if digest is not None and digest in self._key_hashes:
            return self._key_hashes[digest]
        return await self._decide(await self._check(digest), bearer, context)

    async def identify_for(
        self, context: grpc.aio.ServicerContext, conversation_id: str, conversations: object
    ) -> tuple[str, bool | None]:
        """`identify`, and whether `conversation_id` is the caller's (None: not looked up).

        When the key store also holds the `conversations` (one SQLite store), both come
        from one read (`check_api_key_and_owner`): an AddResponse start needs both, and
        under load every read is a trip through a busy event loop. A configured key needs
        no read, so its conversation is left to the caller (None), as it is without a key
        store or with keys kept apart from the conversations. The refusals are
        `identify`'s, in its order; the owner is only compared, never told.
        """
        bearer = _bearer_token(context.invocation_metadata() or ())
        digest = None if bearer is None else hash_key(bearer)
        if digest is not None and digest in self._key_hashes:
            return self._key_hashes[digest], None
        if self._keys is None or self._keys is not conversations:
            return await self._decide(await self._check(digest), bearer, context), None
        check, owner = await self._keys.check_api_key_and_owner(digest, conversation_id)
        user = await self._decide(check, bearer, context)
        return user, owner is not None and owner == user

    async def _decide(
        self, check: ApiKeyCheck, bearer: str | None, context: grpc.aio.ServicerContext
    ) -> str:
        """The user the store's answer about the caller's key gives, or the refusal."""
        if check.user_id is not None and not check.revoked:
            return check.user_id
        if check.revoked:
            # Refused even when keys are otherwise optional: its holder should know.
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, REVOKED_KEY_MESSAGE)
        if not (check.any_active or self._key_hashes or self._require_key):
            return LOCAL_USER
        if bearer is None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, MISSING_KEY_MESSAGE)
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, INVALID_KEY_MESSAGE)
        raise AssertionError("context.abort always raises")  # pragma: no cover

    async def _check(self, digest: str | None) -> ApiKeyCheck:
        """The store's answer for `digest`; without a store, nothing is found there."""
        if self._keys is None:
            return ApiKeyCheck(user_id=None, revoked=False, any_active=False)
        return await self._keys.check_api_key(digest)


def _bearer_token(metadata: Iterable[object]) -> str | None:
    """Extracts the bearer token from call metadata, if any."""
    for item in metadata:
        key, value = item.key, item.value  # type: ignore[attr-defined]
        if key.lower() == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None
