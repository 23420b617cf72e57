"""Calls accepted ahead: several requested calls of a method outstanding, not one.

grpc.aio's server asks gRPC's core for the next call of each method one at a time: once a
call is handed to its handler, the next is requested, and that request completes on
gRPC's polling thread and comes back through the event loop. A burst of simultaneous
calls of one method (200 AddResponse starts at once) therefore enters one call per two or
three loop turns, each turn as long as the work every running stream does in it. Measured
with `bench.load --probe-server-loop`, most of the last start's time to first token was
this wait ("accepted", 168 ms of 245 ms), while the calls had all left the client within
30 ms.

`accept_ahead(depth)` keeps up to `depth` requests of a method outstanding at gRPC's core
once that method has had a call, so a burst's calls are all accepted on the loop's next
turns. It works through the one hook grpc.aio's accept loop calls for a method's next
call (`AioServer._make_request_call_future`), on a subclass of grpc's own server: the
loop, its handlers and its shutdown stay grpc's. Where a gRPC release lacks that hook,
the server is grpc.aio's as it is (`supported()` says which).

At shutdown the requests still outstanding are cancelled. A call accepted ahead in the
instant the server stops, before the loop took it, is ended by gRPC's shutdown like any
call still running (after the grace `server.stop` gives), not answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc._cython import cygrpc  # type: ignore[attr-defined]

log = logging.getLogger(__name__)

HOOK = "_make_request_call_future"


def supported() -> bool:
    """True when this gRPC's aio server has the hook calls are accepted through."""
    return callable(getattr(cygrpc.AioServer, HOOK, None))


@dataclass(eq=False)
class _MethodAhead:
    """One method's requests at gRPC's core and the accept loop's wait for its next call.

    `requested` tasks each complete with one accepted call; `accepted` holds those the
    loop has not taken yet, `waiting` the loop's futures that no call has completed yet.
    """

    requested: set[asyncio.Task[Any]] = field(default_factory=set)
    accepted: deque[asyncio.Task[Any]] = field(default_factory=deque)
    waiting: deque[asyncio.Future[Any]] = field(default_factory=deque)
    used: bool = False  # a call of it came: from then on `depth` requests, not one


def _settle(future: asyncio.Future[Any], task: asyncio.Task[Any]) -> None:
    """Gives the accept loop's `future` the outcome of one request (`task`, done)."""
    if task.cancelled():
        future.cancel()
    elif (error := task.exception()) is not None:
        future.set_exception(error)
    else:
        future.set_result(task.result())


class _AcceptingAhead(cygrpc.AioServer):
    """grpc.aio's server; each method's next call comes from requests made ahead.

    `DEPTH` is set by the subclass `_server_class` makes for a depth (grpc.aio builds the
    server with its own arguments, so the depth cannot be passed in).
    """

    DEPTH = 1

    def _ahead_of(self, method: bytes | None) -> _MethodAhead:
        methods: dict[bytes | None, _MethodAhead] = self.__dict__.setdefault("_ahead", {})
        found = methods.get(method)
        if found is None:
            found = methods[method] = _MethodAhead()
        return found

    def _make_request_call_future(self, method: bytes | None) -> asyncio.Future[Any]:
        """The accept loop's wait for `method`'s next call (grpc's hook, overridden)."""
        ahead = self._ahead_of(method)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if ahead.accepted:
            _settle(future, ahead.accepted.popleft())
            ahead.used = True
        else:
            ahead.waiting.append(future)
            # The loop cancels its waits when the server shuts down: so do we.
            future.add_done_callback(self._on_wait_done)
        self._request(method, ahead)
        return future

    def _request(self, method: bytes | None, ahead: _MethodAhead) -> None:
        """Tops `method`'s outstanding requests up (one until it has had a call)."""
        want = self.DEPTH if ahead.used else 1
        while len(ahead.requested) < want and self.is_running():
            task = super()._make_request_call_future(method)
            ahead.requested.add(task)
            task.add_done_callback(lambda done: self._on_request_done(ahead, done))

    def _on_request_done(self, ahead: _MethodAhead, task: asyncio.Task[Any]) -> None:
        """A request completed (a call, or its failure): to the loop's wait, or kept."""
        ahead.requested.discard(task)
        if not task.cancelled():
            task.exception()  # read here: a failed request is never "never retrieved"
        while ahead.waiting:
            future = ahead.waiting.popleft()
            if not future.done():
                _settle(future, task)
                ahead.used = True
                return
        ahead.accepted.append(task)

    def _on_wait_done(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled():  # shutdown: no request is left outstanding
            for ahead in self.__dict__.get("_ahead", {}).values():
                for task in list(ahead.requested):
                    task.cancel()


@functools.cache
def _server_class(depth: int) -> type[_AcceptingAhead]:
    """The aio server class of gRPC, its accept loop given calls requested `depth` ahead."""
    return type(f"AcceptingAhead{depth}", (_AcceptingAhead,), {"DEPTH": depth})


@contextlib.contextmanager
def accept_ahead(depth: int) -> Iterator[None]:
    """Within it, `grpc.aio.server()` builds a server accepting `depth` calls ahead.

    `depth` 1 (or a gRPC without the hook) leaves grpc.aio's server as it is. The swap of
    the class grpc.aio builds lasts only while the block runs; build the server and leave.
    """
    if depth <= 1 or not supported():
        if depth > 1:
            log.info("this gRPC has no %s: calls are accepted one at a time", HOOK)
        yield
        return
    original = cygrpc.AioServer
    cygrpc.AioServer = _server_class(depth)
    try:
        yield
    finally:
        cygrpc.AioServer = original


def accepts_ahead(server: grpc.aio.Server) -> bool:
    """True when `server` was built accepting calls ahead (tests and diagnostics)."""
    return isinstance(getattr(server, "_server", None), _AcceptingAhead)
