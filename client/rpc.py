"""How the SDK makes a call: typed errors, text checked before it travels, futures failed.

Shared by every SDK module that talks to the server, so a unary call fails the same way
everywhere: a `grpc.RpcError` becomes the typed exception of `client.errors`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import grpc

from grove_explorer.client.errors import translate, unencodable_text

T = TypeVar("T")


def check_text(text: str) -> str:
    """Refuses text that cannot travel as UTF-8 before a request is built."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise unencodable_text(error) from None
    return text


async def rpc(awaitable: Awaitable[T]) -> T:
    """Awaits a unary call, raising the SDK's typed exception on failure."""
    try:
        return await awaitable
    except grpc.RpcError as error:
        raise translate(error) from None
    except UnicodeEncodeError as error:
        raise unencodable_text(error) from None


def fail(future: asyncio.Future[Any], error: BaseException) -> None:
    """Fails `future` with `error`, marked as retrieved.

    Every caller also raises the error to whoever iterates the stream, so asyncio need not
    warn that the future's exception was never retrieved.
    """
    future.set_exception(error)
    future.exception()
