"""API keys in the PostgreSQL store (the KeyStore protocol): users and hashed keys.

The statements are the SQLite store's (server/store/sqlite/keys.py). With several
replicas on one database, a key created or revoked through one is seen by the next call
to any other: every check is a read of the table, nothing is cached.
"""

from __future__ import annotations

from grove_explorer.server.store.postgres.connection import PostgresDatabase
from grove_explorer.server.store.postgres.key_checks import KeyCheckBatcher
from grove_explorer.server.store.protocol import DuplicateApiKeyError
from grove_explorer.server.store.records import ApiKeyCheck, ApiKeyRecord
from grove_explorer.server.store.rows import API_KEY_SELECT, read_api_key

# Always one row: the key's owner and state (NULLs when no key has that hash), and whether
# any key is active. Both parts are index lookups (primary key, partial index).
_CHECK_API_KEY = """
    SELECT k.user_id, COALESCE(k.revoked, false),
           EXISTS (SELECT 1 FROM api_keys WHERE NOT revoked)
    FROM (SELECT 1) AS one LEFT JOIN api_keys AS k ON k.key_hash = %s
"""


class ApiKeyQueries(PostgresDatabase):
    """Creates, lists, revokes and checks API keys; only their hashes are stored."""

    _key_checks: KeyCheckBatcher | None = None

    async def create_api_key(
        self, user_id: str, key_hash: str, key_id: str, label: str = ""
    ) -> ApiKeyRecord:
        """Stores a new active key of `user_id`, creating the user row if needed.

        Both rows go in one transaction, so a user never exists half-made. Raises
        DuplicateApiKeyError if the hash or the key id is taken (also by a key another
        replica created at the same moment: the unique indexes decide).
        """
        from psycopg import errors

        now = self._tick()
        try:
            async with self._transaction() as conn:
                await conn.execute(
                    "INSERT INTO users (user_id, create_time) VALUES (%s, %s)"
                    " ON CONFLICT (user_id) DO NOTHING",
                    (user_id, now),
                )
                await conn.execute(
                    "INSERT INTO api_keys (key_hash, key_id, user_id, label, create_time,"
                    " revoked) VALUES (%s, %s, %s, %s, %s, false)",
                    (key_hash, key_id, user_id, label, now),
                )
        except errors.UniqueViolation as error:
            raise DuplicateApiKeyError(f"an API key with id {key_id!r} exists already") from error
        return ApiKeyRecord(
            key_id=key_id,
            user_id=user_id,
            label=label,
            create_time=now,
            revoked=False,
            revoke_time=None,
        )

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        """Returns every key, revoked ones included, oldest first (ties by key id)."""
        rows = await self._read(f"{API_KEY_SELECT} ORDER BY create_time, key_id")
        return [read_api_key(row) for row in rows]

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """Returns the key with that id, or None."""
        rows = await self._read(f"{API_KEY_SELECT} WHERE key_id = %s", (key_id,))
        return read_api_key(rows[0]) if rows else None

    async def revoke_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """Marks the key revoked, keeping its first revoke time; None if no key has that id.

        The row stays (revoked, not deleted) so that `list` shows the history and a
        revoked key is answered "revoked" rather than "not valid".
        """
        now = self._tick()
        async with self._transaction() as conn:
            await conn.execute(
                "UPDATE api_keys SET revoked = true, revoke_time = %s"
                " WHERE key_id = %s AND NOT revoked",
                (now, key_id),
            )
            cursor = await conn.execute(f"{API_KEY_SELECT} WHERE key_id = %s", (key_id,))
            row = await cursor.fetchone()
        return read_api_key(row) if row else None

    async def check_api_key(self, key_hash: str | None) -> ApiKeyCheck:
        """Looks up one key by hash and whether any key is active, in one read.

        Called on every RPC, so it is two index probes in a single statement.
        """
        rows = await self._read(_CHECK_API_KEY, (key_hash,))
        user_id, revoked, any_active = rows[0]
        return ApiKeyCheck(user_id=user_id, revoked=bool(revoked), any_active=bool(any_active))

    async def check_api_key_and_owner(
        self, key_hash: str | None, conversation_id: str
    ) -> tuple[ApiKeyCheck, str | None]:
        """`check_api_key`, and who owns `conversation_id` (None: nobody), in one read.

        The owner never leaves the server: the caller compares it with the user the key
        check gives. Checks asked together go as one query (key_checks.py).
        """
        batcher = self._key_checks
        if batcher is None:
            batcher = self._key_checks = KeyCheckBatcher(self._read)
        return await batcher.check(key_hash, conversation_id)

    async def has_active_api_keys(self) -> bool:
        """True when at least one non-revoked key exists."""
        return (await self.check_api_key(None)).any_active
