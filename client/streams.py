"""Stream objects returned by the SDK's sampling calls.

`TokenStream` is the seed's `token_stream` (an async generator of text snippets) with one
addition, `stop()`, which asks the server to end sampling early and keep the partial reply.
`SampleStream` is the richer extension used by the app: typed events carrying each token's
logprob and alternatives, budget updates and query actions.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

    from grove_explorer.client.grok import Response


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """One sampled token: its text, logprob and the most likely alternatives."""

    text: str
    logprob: float | None
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class UserResponseEvent:
    """The server stored the human message."""

    response: Response


@dataclass(frozen=True, slots=True)
class TokensEvent:
    """One or more tokens arrived (one wire message may carry a batch)."""

    tokens: tuple[TokenInfo, ...]

    @property
    def text(self) -> str:
        """The tokens' text joined."""
        return "".join(t.text for t in self.tokens)


@dataclass(frozen=True, slots=True)
class BudgetEvent:
    """How much of the token budget the stream has used."""

    prompt_tokens: int
    sampled_tokens: int
    max_tokens: int


@dataclass(frozen=True, slots=True)
class QueryEvent:
    """The model is performing a query (for example a search)."""

    query_type: str
    query: str


@dataclass(frozen=True, slots=True)
class ModelResponseEvent:
    """The server stored the model's reply; this is the last event of a stream."""

    response: Response


StreamEvent = UserResponseEvent | TokensEvent | BudgetEvent | QueryEvent | ModelResponseEvent


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


class SampleStream:
    """A sampling call seen as typed events, with its final response as a future."""

    def __init__(
        self,
        events: AsyncGenerator[StreamEvent, None],
        future: asyncio.Future[Response],
        stopper: Callable[[], Awaitable[bool]],
        request_id: str,
    ) -> None:
        self._events = events
        self.future = future
        self._stopper = stopper
        self.request_id = request_id

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self._events

    async def aclose(self) -> None:
        """Cancels the call if it is still running (the server keeps the partial text)."""
        await self._events.aclose()

    async def stop(self) -> bool:
        """Asks the server to stop sampling gracefully; see `TokenStream.stop`."""
        return await self._stopper()
