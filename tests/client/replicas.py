"""Helpers of the replica tests: servers on one database that count the calls they serve."""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable
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


def counted_server(
    make_server: Callable[..., GroveServer], **overrides: Any
) -> tuple[GroveServer, CallCounter]:
    """A server (not started) on the test's database, with a counter of its calls."""
    counter = CallCounter()
    built = make_server(**overrides)
    server = GroveServer(built.config, interceptors=[counter])
    return server, counter
