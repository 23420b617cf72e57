"""Answering a call with a gRPC status and a sentence that says what was wrong."""

from __future__ import annotations

import re
from typing import NoReturn

import grpc


async def abort(context: grpc.aio.ServicerContext, code: grpc.StatusCode, details: str) -> NoReturn:
    """Ends the call with `code` and `details` (context.abort raises; mypy cannot tell)."""
    await context.abort(code, details)
    raise AssertionError("unreachable: context.abort raises")  # pragma: no cover


async def abort_not_found(context: grpc.aio.ServicerContext, conversation_id: str) -> NoReturn:
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
