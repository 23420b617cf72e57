"""API keys in the SQLite store (the KeyStore protocol): users and hashed keys."""

from __future__ import annotations

import sqlite3

from grove_explorer.server.store.protocol import DuplicateApiKeyError
from grove_explorer.server.store.records import ApiKeyCheck, ApiKeyRecord
from grove_explorer.server.store.rows import (
    API_KEY_SELECT,
    format_time,
    parse_time,
    read_api_key,
)
from grove_explorer.server.store.sqlite.connection import SqliteDatabase

# Always one row: the key's owner and state (NULLs when no key has that hash), and whether
# any key is active. Both parts are index lookups (primary key, partial index).
_CHECK_API_KEY = """
    SELECT k.user_id, COALESCE(k.revoked, 0),
           EXISTS (SELECT 1 FROM api_keys WHERE revoked = 0)
    FROM (SELECT 1) LEFT JOIN api_keys AS k ON k.key_hash = ?
"""

# The same row, and the owner of one conversation (NULL: no such conversation): an
# AddResponse start's two checks in one statement (three index probes, one snapshot).
_CHECK_API_KEY_AND_OWNER = """
    SELECT k.user_id, COALESCE(k.revoked, 0),
           EXISTS (SELECT 1 FROM api_keys WHERE revoked = 0),
           (SELECT user_id FROM conversations WHERE conversation_id = :conversation_id)
    FROM (SELECT 1) LEFT JOIN api_keys AS k ON k.key_hash = :key_hash
"""


class ApiKeyQueries(SqliteDatabase):
    """Creates, lists, revokes and checks API keys; only their hashes are stored."""

    async def create_api_key(
        self, user_id: str, key_hash: str, key_id: str, label: str = ""
    ) -> ApiKeyRecord:
        """Stores a new active key of `user_id`, creating the user row if needed.

        Both rows go in one transaction, so a user never exists half-made. Raises
        DuplicateApiKeyError if the hash or the key id is taken.
        """
        try:
            async with self._transaction() as conn:
                stamp = format_time(self._tick())
                await conn.execute_fetchall(
                    "INSERT OR IGNORE INTO users (user_id, create_time) VALUES (?, ?)",
                    (user_id, stamp),
                )
                await conn.execute_fetchall(
                    "INSERT INTO api_keys (key_hash, key_id, user_id, label, create_time,"
                    " revoked) VALUES (?, ?, ?, ?, ?, 0)",
                    (key_hash, key_id, user_id, label, stamp),
                )
        except sqlite3.IntegrityError as error:
            raise DuplicateApiKeyError(f"an API key with id {key_id!r} exists already") from error
        return ApiKeyRecord(
            key_id=key_id,
            user_id=user_id,
            label=label,
            create_time=parse_time(stamp),
            revoked=False,
            revoke_time=None,
        )

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        """Returns every key, revoked ones included, oldest first."""
        rows = await self._read(f"{API_KEY_SELECT} ORDER BY create_time, rowid")
        return [read_api_key(row) for row in rows]

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """Returns the key with that id, or None."""
        rows = await self._read(f"{API_KEY_SELECT} WHERE key_id = ?", (key_id,))
        return read_api_key(rows[0]) if rows else None

    async def revoke_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """Marks the key revoked, keeping its first revoke time; None if no key has that id.

        The row stays (revoked, not deleted) so that `list` shows the history and a
        revoked key is answered "revoked" rather than "not valid".
        """
        async with self._transaction() as conn:
            stamp = format_time(self._tick())
            await conn.execute_fetchall(
                "UPDATE api_keys SET revoked = 1, revoke_time = ? WHERE key_id = ? AND revoked = 0",
                (stamp, key_id),
            )
            rows = list(
                await conn.execute_fetchall(f"{API_KEY_SELECT} WHERE key_id = ?", (key_id,))
            )
        return read_api_key(rows[0]) if rows else None

    async def check_api_key(self, key_hash: str | None) -> ApiKeyCheck:
        """Looks up one key by hash and whether any key is active, in one read.

        Called on every RPC, so it is two index probes (the primary key and the partial
        index of active keys) in a single statement: one snapshot, one worker-thread hop.
        A revocation committed by another process is seen by the next call.
        """
        rows = await self._read(_CHECK_API_KEY, (key_hash,))
        user_id, revoked, any_active = rows[0]
        return ApiKeyCheck(user_id=user_id, revoked=bool(revoked), any_active=bool(any_active))

    async def check_api_key_and_owner(
        self, key_hash: str | None, conversation_id: str
    ) -> tuple[ApiKeyCheck, str | None]:
        """`check_api_key`, and who owns `conversation_id` (None: nobody), in one read.

        A start of AddResponse checks its caller's key, then that the conversation is the
        caller's: under load each read is a trip to the reader's thread and back through a
        busy event loop, so the two checks share one statement. The owner never leaves the
        server: the caller compares it with the user the key check gives.
        """
        rows = await self._read(
            _CHECK_API_KEY_AND_OWNER, {"key_hash": key_hash, "conversation_id": conversation_id}
        )
        user_id, revoked, any_active, owner = rows[0]
        check = ApiKeyCheck(user_id=user_id, revoked=bool(revoked), any_active=bool(any_active))
        return check, owner

    async def has_active_api_keys(self) -> bool:
        """True when at least one non-revoked key exists."""
        return (await self.check_api_key(None)).any_active
