"""The key-and-owner checks of AddResponse starts that arrive together, in one query.

Every AddResponse start checks its caller's key and reads its conversation's owner
(`check_api_key_and_owner`). On PostgreSQL each was its own query on a pooled connection:
psycopg's Python work on the event loop and a wake-up per start, and under a burst of
starts (bench.scale: 200 per replica at once) the replica's loop, not the database, was
the bottleneck. The SQLite store sends the reads that arrive together to its thread in one
trip; here the checks asked within one turn of the event loop go as one query over
arrays (`unnest ... WITH ORDINALITY`), each caller getting its own row. Nothing is cached:
every check still reads the table, so a key revoked on another replica is refused at the
next call, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from grove_explorer.server.store.records import ApiKeyCheck

# One row per asked check, in the order asked (`i` from 1): the key's owner and state
# (NULLs when no key has that hash), whether any key is active, and the conversation's
# owner (NULL: no such conversation). Each part is an index lookup.
CHECK_MANY = """
    SELECT q.i, k.user_id, COALESCE(k.revoked, false),
           EXISTS (SELECT 1 FROM api_keys WHERE NOT revoked),
           (SELECT user_id FROM conversations WHERE conversation_id = q.conversation_id)
    FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS q(key_hash, conversation_id, i)
    LEFT JOIN api_keys AS k ON k.key_hash = q.key_hash
    ORDER BY q.i
"""

Result = tuple[ApiKeyCheck, str | None]
Read = Callable[[str, Sequence[Any]], Awaitable[list[Any]]]


class KeyCheckBatcher:
    """Gathers the checks asked in one loop turn and answers each from one query."""

    def __init__(self, read: Read) -> None:
        self._read = read
        self._pending: list[tuple[str | None, str, asyncio.Future[Result]]] | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def check(self, key_hash: str | None, conversation_id: str) -> Result:
        """The key's check and the conversation's owner, from the turn's shared query."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Result] = loop.create_future()
        if self._pending is None:
            self._pending = []
            # Runs in the next turn: every check asked in this one joins the batch.
            loop.call_soon(self._flush)
        self._pending.append((key_hash, conversation_id, answer))
        return await answer

    def _flush(self) -> None:
        batch, self._pending = self._pending or [], None
        task = asyncio.get_running_loop().create_task(self._answer(batch))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _answer(self, batch: list[tuple[str | None, str, asyncio.Future[Result]]]) -> None:
        try:
            rows = await self._read(
                CHECK_MANY, ([key for key, _, _ in batch], [cid for _, cid, _ in batch])
            )
        except BaseException as error:  # every caller learns why (a storage failure)
            for _, _, answer in batch:
                if not answer.done():
                    answer.set_exception(error)
            if isinstance(error, asyncio.CancelledError):
                raise
            return
        for i, user_id, revoked, any_active, owner in rows:
            answer = batch[i - 1][2]
            if not answer.done():  # its caller may have been cancelled meanwhile
                check = ApiKeyCheck(
                    user_id=user_id, revoked=bool(revoked), any_active=bool(any_active)
                )
                answer.set_result((check, owner))
