"""The seed's token stream: text snippets in order, plus `stop()`.

Apart from the typed events of `client.streams`, so the SDK's `Response` (whose `replace`
returns one) does not depend on the events that carry it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any


class TokenStream(AsyncGenerator[str, None]):
    """The seed's token stream: iterate it to receive text snippets in order.

    Breaking out of the loop (or closing the stream) cancels the call; the server keeps
    the text sampled so far as a partial response. `stop()` instead asks the server to end
    sampling gracefully: the stream then finishes normally and the future resolves to the
    partial model response.
    """

    def __init__(
        self, inner: AsyncGenerator[str, None], stopper: Callable[[], Awaitable[bool]]
    ) -> None:
        self._inner = inner
        self._stopper = stopper

    def __aiter__(self) -> TokenStream:
        return self

    async def __anext__(self) -> str:
        return await self._inner.__anext__()

    async def asend(self, value: None) -> str:
        """Delegates to the underlying generator."""
        return await self._inner.asend(value)

    async def athrow(self, *args: Any) -> str:
        """Delegates to the underlying generator."""
        return await self._inner.athrow(*args)

    async def aclose(self) -> None:
        """Closes the stream, cancelling the call if it is still running."""
        await self._inner.aclose()

    async def stop(self) -> bool:
        """Asks the server to stop sampling and keep the partial reply.

        Returns False if the server had no such running stream (it may have finished).
        """
        return await self._stopper()
