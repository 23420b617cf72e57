"""Reads of a conversation's responses, the same in both stores but for their SQL.

Creation order, one response, a response's path with the cache of recent paths, and a
response's stored tokens: the SQLite and PostgreSQL stores differ here only in the
statements (placeholders, PostgreSQL's planner hints), so each store's responses.py gives
its statements (`ResponseStatements`) and `ResponseReads` does the rest once — in
particular how a path is answered from `PathCache` (after one indexed check that the
response is still in the user's conversation) or read and remembered, and what a missing
one raises, so the two stores cannot drift apart there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol, cast

from grove_explorer.server.recent_paths import SharedPath
from grove_explorer.server.store.path_cache import PathCache
from grove_explorer.server.store.protocol import UnknownParentError
from grove_explorer.server.store.records import ResponseRecord, TokenRow
from grove_explorer.server.store.rows import decode_tokens, read_response


@dataclass(frozen=True, slots=True)
class ResponseStatements:
    """A store's read statements of responses, each selecting `R_COLUMNS` as `r` unless said.

    Parameters, in the store's placeholder style:
    - `list_responses`: (conversation_id, user_id), in creation order (start_time, seq).
    - `one`, `in_conversation` (any row, e.g. `SELECT 1`), `tokens` (one column: the
      token blob or NULL): (response_id, conversation_id, user_id).
    - `path_to`: named `response_id`, `conversation_id`, `user_id`; root first.
    - `request_responses`: (request_id, user_id, user_id, request_id): a request's latest
      reply and the human message it answers (when that has the same request id).
    - `request_message`: (request_id, user_id, user_id): a request's latest human message.
    """

    list_responses: str
    one: str
    in_conversation: str
    path_to: str
    tokens: str
    request_responses: str
    request_message: str


class _ReadingStore(Protocol):
    """What `ResponseReads` needs of the store it is part of."""

    async def _read(
        self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()
    ) -> list[Any]: ...

    def _tick(self) -> datetime: ...


def stored_tokens(data: bytes | None) -> list[TokenRow]:
    """The tokens of a token blob as stored ([] when the response has none)."""
    return decode_tokens(data) if data is not None else []


class ResponseReads:
    """The response reads of the `Store` protocol, for a store that gives `STATEMENTS`.

    A base of each store's `ResponseQueries`, which adds the writes (its own way).
    """

    STATEMENTS: ClassVar[ResponseStatements]
    _path_cache: PathCache | None = None

    def _reading(self) -> _ReadingStore:
        return cast("_ReadingStore", self)

    @property
    def paths(self) -> PathCache:
        """The paths of recently read and stored responses (made on first use)."""
        cache = self._path_cache
        if cache is None:
            cache = self._path_cache = PathCache()
        return cache

    async def list_responses(self, user_id: str, conversation_id: str) -> list[ResponseRecord]:
        """Returns every response of the conversation in creation order.

        Creation order is (start_time, seq): a sampled reply takes its place when its stream
        started, not when it finished, so siblings keep the numbers they had while they
        streamed. A parent always comes before its children (a reply starts after its
        parent was stored).

        Returns [] for a conversation that is missing or another user's, like an empty one;
        callers that must tell them apart ask `get_conversation` first.
        """
        rows = await self._reading()._read(
            self.STATEMENTS.list_responses, (conversation_id, user_id)
        )
        return [read_response(row) for row in rows]

    async def get_response(
        self, user_id: str, conversation_id: str, response_id: str
    ) -> ResponseRecord | None:
        """Returns one response of the user's conversation, or None."""
        rows = await self._reading()._read(
            self.STATEMENTS.one, (response_id, conversation_id, user_id)
        )
        return read_response(rows[0]) if rows else None

    async def path_to(
        self, user_id: str, conversation_id: str, response_id: str
    ) -> list[ResponseRecord]:
        """Returns the responses from the root down to `response_id` (inclusive).

        One recursive query, so the path is one consistent snapshot and depth costs no
        Python recursion; a path read or stored recently comes from `paths` after one
        indexed check that the response is still in the user's conversation, so extending
        a deep path does not read it all again (its records show `shared` as when read).
        A path never changes once stored, on any replica, so a cached one stays true.
        Raises UnknownParentError if the response is not in the user's conversation
        (including when the conversation is missing or another user's).
        """
        key = (user_id, conversation_id, response_id)
        cached = self.paths.get(key)
        rows: list[Any]
        if cached is not None:
            if await self._reading()._read(self.STATEMENTS.in_conversation, key[::-1]):
                return list(cached)
            rows = []
        else:
            rows = await self._reading()._read(
                self.STATEMENTS.path_to,
                {
                    "response_id": response_id,
                    "conversation_id": conversation_id,
                    "user_id": user_id,
                },
            )
        if not rows:
            raise UnknownParentError(
                f"response {response_id!r} is not in conversation {conversation_id!r}"
            )
        path = [read_response(row) for row in rows]
        self.paths.put(key, SharedPath(path))
        return path

    def reserve_start_time(self) -> datetime:
        """A start time for a reply about to be sampled: after every earlier write's time.

        Taken when its stream starts and stored with the reply (`NewResponse.start_time`),
        so replies sampled in parallel are ordered by start, and after their parent.
        Strictly increasing within this process; on PostgreSQL, replies started on two
        replicas in the same microsecond are ordered by `seq`.
        """
        return self._reading()._tick()

    async def request_responses(self, user_id: str, request_id: str) -> list[ResponseRecord]:
        """The reply user `user_id`'s AddResponse `request_id` stored, after its human message.

        The latest, should a caller have used one request id twice.

        What a ResumeResponse needs when no replica runs the reply any more; [] while no
        reply is stored (yet). Keyed by the caller, who made them: rows of their own
        conversations, and rows they authored as a writer of another's. The reply comes by
        the index of replies' request ids (SQLite migration 17, PostgreSQL 4), the human
        message as its parent with the same id (a request with no message has none).
        """
        if not request_id:
            return []
        rows = await self._reading()._read(
            self.STATEMENTS.request_responses, (request_id, user_id, user_id, request_id)
        )
        return [read_response(row) for row in rows]

    async def request_message(self, user_id: str, request_id: str) -> ResponseRecord | None:
        """The human message user `user_id`'s AddResponse `request_id` stored (None: none).

        Stored as the request starts, before its reply: a replica that never heard the
        reply start finds its conversation here (SQLite migration 18, PostgreSQL 6).
        """
        if not request_id:
            return None
        rows = await self._reading()._read(
            self.STATEMENTS.request_message, (request_id, user_id, user_id)
        )
        return read_response(rows[0]) if rows else None

    async def response_tokens(
        self, user_id: str, conversation_id: str, response_id: str
    ) -> list[TokenRow] | None:
        """The stored tokens of a response ([] if none); None if not the user's response."""
        rows = await self._reading()._read(
            self.STATEMENTS.tokens, (response_id, conversation_id, user_id)
        )
        if not rows:
            return None
        return stored_tokens(rows[0][0])
