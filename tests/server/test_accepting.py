"""Calls accepted ahead (server/accepting.py): bursts served whole, shutdown clean.

The server asks gRPC for up to `accept_ahead` calls of a method at once; these tests pin
what must not change with it: every call of a burst is answered, the requests made ahead
are topped up to the depth once a method is used, none is left behind (or fails unseen)
when the server stops, and `--accept-ahead 1` is grpc.aio's own server.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable

import grpc
import pytest
from google.protobuf import empty_pb2
from grpc._cython import cygrpc

from grove_explorer.protos import chat_pb2, chat_pb2_grpc
from grove_explorer.server import accepting
from grove_explorer.server.cli import build_serve_parser, config_from_args
from grove_explorer.server.runtime import GroveServer

BURST = 120
# Grove's Chat methods are served through one generic handler (server/wire.py guards
# them), which grpc.aio's accept loop keys as None; registered methods by their path.
CHAT_METHODS = None
UNUSED_METHOD = b"/grpc.health.v1.Health/Watch"


def _inner(server: GroveServer) -> object:
    grpc_server = server._server
    assert grpc_server is not None
    return grpc_server._server  # grpc.aio's Cython server inside grpc.aio.Server


async def _burst(address: str, count: int) -> list[chat_pb2.ListConversationsResponse]:
    """`count` ListConversations calls sent at once on one channel; every answer."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = chat_pb2_grpc.ChatStub(channel)
        await stub.CreateConversation(chat_pb2.CreateConversationRequest())
        return list(
            await asyncio.gather(*(stub.ListConversations(empty_pb2.Empty()) for _ in range(count)))
        )


async def test_a_burst_of_one_method_is_answered_whole_with_requests_made_ahead(
    server: GroveServer,
) -> None:
    assert accepting.supported()  # this gRPC has the hook (grpcio pinned in pyproject)
    assert accepting.accepts_ahead(server._server)  # type: ignore[arg-type]
    answers = await _burst(server.address, BURST)
    assert len(answers) == BURST
    assert all(len(answer.conversations) == 1 for answer in answers)
    # Once used, the method keeps the depth requested ahead (accepted or outstanding);
    # an unused one keeps one, as grpc.aio does.
    ahead = _inner(server).__dict__["_ahead"]
    depth = server.config.accept_ahead
    used = ahead[CHAT_METHODS]
    assert used.used and len(used.requested) + len(used.accepted) >= depth - 1
    unused = ahead[UNUSED_METHOD]
    assert not unused.used and len(unused.requested) == 1


async def test_stopping_leaves_no_request_outstanding_and_logs_no_lost_task(
    make_server: Callable[..., GroveServer], caplog: pytest.LogCaptureFixture
) -> None:
    running = make_server()
    await running.start()
    await _burst(running.address, 40)
    ahead = _inner(running).__dict__["_ahead"]
    tasks = [task for method in ahead.values() for task in method.requested]
    assert tasks
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        await running.stop()
        await asyncio.sleep(0)  # the cancelled requests' last callbacks
        assert all(task.done() for task in tasks)
        del tasks, ahead
        gc.collect()
    assert not [r for r in caplog.records if r.name == "asyncio"], caplog.text


async def test_depth_one_is_grpcs_own_server_and_serves_the_same(
    make_server: Callable[..., GroveServer],
) -> None:
    running = make_server(accept_ahead=1)
    await running.start()
    try:
        assert type(_inner(running)) is cygrpc.AioServer
        assert len(await _burst(running.address, 30)) == 30
    finally:
        await running.stop()


async def test_the_class_swap_lasts_only_while_the_server_is_built() -> None:
    original = cygrpc.AioServer
    with accepting.accept_ahead(8):
        ahead = grpc.aio.server()
    plain = grpc.aio.server()
    assert cygrpc.AioServer is original
    assert accepting.accepts_ahead(ahead) and not accepting.accepts_ahead(plain)
    await ahead.stop(None)
    await plain.stop(None)


def test_the_flag_sets_the_depth_and_refuses_less_than_one() -> None:
    parser = build_serve_parser()
    assert config_from_args(parser.parse_args([])).accept_ahead == 16
    assert config_from_args(parser.parse_args(["--accept-ahead", "1"])).accept_ahead == 1
    with pytest.raises(SystemExit, match="--accept-ahead must be at least 1"):
        config_from_args(parser.parse_args(["--accept-ahead", "0"]))
