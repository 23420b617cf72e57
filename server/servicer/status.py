"""Answering a call with a gRPC status and a sentence that says what was wrong."""

from __future__ import annotations

import re
from typing import NoReturn, Protocol

import grpc

from grove_explorer.server.store import StorageFailure

STORAGE_ERROR_KEY = "grove-storage-error"
"""Trailing metadata naming the storage failure (full, read_only, corrupt, io), so the SDK
raises its specific exception; the status code alone already says what kind of trouble."""

STORAGE_STATUS: dict[str, grpc.StatusCode] = {
    "full": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "read_only": grpc.StatusCode.FAILED_PRECONDITION,
    "corrupt": grpc.StatusCode.DATA_LOSS,
    "damaged": grpc.StatusCode.DATA_LOSS,
    "not_database": grpc.StatusCode.DATA_LOSS,
    "io": grpc.StatusCode.UNAVAILABLE,
}
"""The one mapping of the store's failures to gRPC statuses (never UNKNOWN)."""


Trailing = tuple[tuple[str, str], ...]


class Abortable(Protocol):
    """What ends a call with a status: a servicer context, or a resumable reply's log.

    A resumable reply (servicer/resuming.py) runs apart from its call and ends its log
    instead; the helpers below take either.
    """

    async def abort(
        self, code: grpc.StatusCode, details: str = "", trailing_metadata: Trailing = ()
    ) -> NoReturn:
        """Ends the call with `code` and `details` (raises)."""


async def abort(context: Abortable, code: grpc.StatusCode, details: str) -> NoReturn:
    """Ends the call with `code` and `details` (context.abort raises; mypy cannot tell)."""
    await context.abort(code, details)
    raise AssertionError("unreachable: context.abort raises")  # pragma: no cover


async def abort_storage(context: Abortable, failure: StorageFailure) -> NoReturn:
    """Ends the call because the database failed, with the store's sentence of what to do."""
    await context.abort(
        STORAGE_STATUS[failure.kind],
        failure.message,
        trailing_metadata=((STORAGE_ERROR_KEY, failure.kind),),
    )
    raise AssertionError("unreachable: context.abort raises")  # pragma: no cover


async def abort_not_found(context: Abortable, conversation_id: str) -> NoReturn:
    """The conversation is missing, deleted, or another user's (all look the same)."""
    await abort(
        context,
        grpc.StatusCode.NOT_FOUND,
        f"Conversation {quote(conversation_id)} does not exist (or was deleted).",
    )


_ID = re.compile(r"[0-9a-f]{32}")


async def check_id(name: str, value: str, context: grpc.aio.ServicerContext) -> None:
    """Refuses what cannot be a Grove id (32 lowercase hex digits) before any lookup.

    A well-formed id that is missing, deleted or another user's is NOT_FOUND; this only
    catches malformed ones, so it reveals nothing about anyone's conversations.
    """
    if not _ID.fullmatch(value):
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{name} {quote(value)} is not a Grove id (32 hexadecimal digits).",
        )


def quote(value: str, limit: int = 40) -> str:
    """`value` quoted for an error sentence, cut short so a huge id cannot flood it."""
    return repr(value if len(value) <= limit else value[:limit] + "…")
