"""Helpers of the replica tests: servers on one database that count the calls they serve."""

from __future__ import annotations

import collections
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import grpc

from grove_explorer.server.runtime import GroveServer


class CallCounter(grpc.aio.ServerInterceptor):
    """Counts the calls a server receives by method name ("GetConversation")."""

    def __init__(self) -> None:
        self.calls: collections.Counter[str] = collections.Counter()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        self.calls[handler_call_details.method.rsplit("/", 1)[-1]] += 1
        return await continuation(handler_call_details)


class FlakyOnce(CallCounter):
    """Counts calls, and answers the first call of each method in `methods` UNAVAILABLE.

    A replica that fails a call the way a stopping or overloaded one does, so a test sees
    which calls gRPC's retry policy repeats (elsewhere) and which reach the caller.
    """

    def __init__(self, methods: set[str]) -> None:
        super().__init__()
        self._methods = methods
        self.failed: collections.Counter[str] = collections.Counter()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        name = handler_call_details.method.rsplit("/", 1)[-1]
        if name in self._methods and not self.failed[name]:
            self.failed[name] += 1

            async def unavailable(request: bytes, context: grpc.aio.ServicerContext) -> None:
                await context.abort(grpc.StatusCode.UNAVAILABLE, "This replica is stopping.")

            return grpc.unary_unary_rpc_method_handler(unavailable)
        return await super().intercept_service(continuation, handler_call_details)


def counted_server(
    make_server: Callable[..., GroveServer], counter: CallCounter | None = None, **overrides: Any
) -> tuple[GroveServer, CallCounter]:
    """A server (not started) on the test's database, with a counter of its calls."""
    counter = counter or CallCounter()
    built = make_server(**overrides)
    server = GroveServer(built.config, interceptors=[counter])
    return server, counter


Pair = tuple[GroveServer, CallCounter, GroveServer, CallCounter]
"""Two replicas and their call counters: (A, A's counter, B, B's counter)."""


@contextlib.asynccontextmanager
async def started_pair(
    make_server: Callable[..., GroveServer],
    a: Mapping[str, Any] | None = None,
    b: Mapping[str, Any] | None = None,
    *,
    counter_a: CallCounter | None = None,
) -> AsyncIterator[Pair]:
    """Two servers on the test's database, each counting its calls, started; stopped after.

    `a` and `b` are each one's config overrides (a slow model, say); `counter_a` replaces
    A's counter (a `FlakyOnce`). A test may stop either itself first: stopping is
    idempotent.
    """
    first, count_a = counted_server(make_server, counter_a, **(a or {}))
    second, count_b = counted_server(make_server, **(b or {}))
    await first.start()
    try:
        await second.start()
        try:
            yield first, count_a, second, count_b
        finally:
            await second.stop()
    finally:
        await first.stop()
