"""What a sampling call streams, as typed events, and the stream objects that carry them.

`TokenStream` (see `client.token_stream`) is the seed's `token_stream`: text snippets in
order, plus `stop()`. `SampleStream` is the richer extension the app uses: typed events
carrying each token's logprob and alternatives, budget updates, query actions and the
stored responses. `decode` is the one place a wire `AddResponseResponse` becomes an event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from grove_explorer.client.convert import token_from_proto
from grove_explorer.client.models import TokenInfo
from grove_explorer.client.response import Response
from grove_explorer.client.token_stream import TokenStream
from grove_explorer.protos import chat_pb2, sampler_public_pb2

__all__ = [
    "BudgetEvent",
    "ModelResponseEvent",
    "QueryEvent",
    "SampleStream",
    "StreamEvent",
    "TokenInfo",
    "TokenStream",
    "TokensEvent",
    "UserResponseEvent",
    "decode",
]


@dataclass(frozen=True, slots=True)
class UserResponseEvent:
    """The server stored the human message."""

    response: Response


class TokensEvent:
    """One or more tokens arrived (one wire message may carry a batch).

    It keeps the wire tokens and decodes them into `TokenInfo`s only when `tokens` is
    read: the seed's text stream reads `texts` alone, and it is the hot path.
    """

    __slots__ = ("_decoded", "_wire")

    def __init__(self, wire: Sequence[sampler_public_pb2.Token]) -> None:
        self._wire = wire
        self._decoded: tuple[TokenInfo, ...] | None = None

    @property
    def tokens(self) -> tuple[TokenInfo, ...]:
        """The tokens with logprobs and alternatives (decoded once, on first read)."""
        decoded = self._decoded
        if decoded is None:
            decoded = self._decoded = tuple(token_from_proto(t) for t in self._wire)
        return decoded

    @property
    def count(self) -> int:
        """How many tokens arrived (without decoding their logprobs and alternatives)."""
        return len(self._wire)

    @property
    def texts(self) -> list[str]:
        """Each token's text, in order."""
        return [token.final_logit.string_token for token in self._wire]

    @property
    def text(self) -> str:
        """The tokens' text joined."""
        wire = self._wire
        if len(wire) == 1:
            return wire[0].final_logit.string_token
        return "".join(token.final_logit.string_token for token in wire)

    def __repr__(self) -> str:
        return f"TokensEvent({self.text!r})"


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


def decode(
    msg: chat_pb2.AddResponseResponse,
    user: Callable[[chat_pb2.Response], Response],
    model: Callable[[chat_pb2.Response], Response],
) -> StreamEvent | None:
    """The typed event of one wire message (None for a message of an unknown kind).

    `user` and `model` turn a stored human message and the stored model reply into the
    SDK's `Response` (the conversation puts them in its forest on the way). Token messages
    are tested first: nearly every message is one.
    """
    kind = msg.WhichOneof("response")
    if kind == "token":
        sample = msg.token
        tokens = sample.tokens
        if tokens:
            return TokensEvent(tokens)
        which = sample.WhichOneof("response")
        if which == "token":
            return TokensEvent((sample.token,))
        if which == "budget":
            b = sample.budget
            return BudgetEvent(b.prompt_tokens, b.sampled_tokens, b.max_tokens)
        return None
    if kind == "user_response":
        return UserResponseEvent(user(msg.user_response))
    if kind == "model_response":
        return ModelResponseEvent(model(msg.model_response))
    if kind == "query_action":
        return QueryEvent(msg.query_action.type, msg.query_action.query)
    return None


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
