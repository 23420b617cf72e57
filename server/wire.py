"""Registers the Chat service so undecodable requests get INVALID_ARGUMENT and a sentence.

The generated `add_ChatServicer_to_server` decodes requests before the servicer runs; a
request whose bytes are not valid protobuf (a string field with invalid UTF-8, say) then
fails inside gRPC with status UNKNOWN and a Python exception name. Here each request is
decoded leniently: a failure becomes a `MalformedRequest`, which the guard answers with
INVALID_ARGUMENT before the servicer sees it. Handlers are built from the service
descriptor, so a new RPC in `chat.proto` is registered without editing this file.

The same guard is the one place where a failing database becomes a status: the store
raises `StorageFailure` (disk full, read-only, damaged) and the guard answers with the
status of `servicer/status.py` and the store's sentence, never UNKNOWN with a class name.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.message import DecodeError, Message

from grove_explorer.protos import chat_pb2
from grove_explorer.server.servicer.status import abort_storage
from grove_explorer.server.store import StorageFailure

log = logging.getLogger(__name__)

SERVICE = chat_pb2.DESCRIPTOR.services_by_name["Chat"]


@dataclass(frozen=True, slots=True)
class MalformedRequest:
    """Stands in for a request whose bytes could not be decoded."""

    reason: str


def _lenient(message_class: type[Message]) -> Callable[[bytes], Message | MalformedRequest]:
    def decode(data: bytes) -> Message | MalformedRequest:
        try:
            return message_class.FromString(data)
        except DecodeError as error:
            return MalformedRequest(str(error))

    return decode


async def _refuse_malformed(request: Any, context: grpc.aio.ServicerContext) -> None:
    if isinstance(request, MalformedRequest):
        await context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"The request could not be decoded ({request.reason}); text fields must be "
            "valid UTF-8.",
        )


def _decoded(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
    """A client stream's requests; the first undecodable one ends the call."""

    async def each() -> AsyncIterator[Any]:
        async for request in requests:
            await _refuse_malformed(request, context)
            yield request

    return each()


def _guard(
    behaviour: Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]],
    *,
    client_streaming: bool = False,
) -> Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]:
    @functools.wraps(behaviour)
    async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
        if client_streaming:
            request = _decoded(request, context)
        else:
            await _refuse_malformed(request, context)
        try:
            return await behaviour(request, context)
        except StorageFailure as failure:
            # Disk full, read-only or damaged database: the status and sentence of
            # status.py instead of "UNKNOWN: Unexpected <class 'sqlite3.OperationalError'>".
            log.warning("%s failed: %s", behaviour.__name__, failure.message)
            await abort_storage(context, failure)

    return guarded


_HANDLERS = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}
"""The handler maker of each (client streaming, server streaming) kind of RPC."""


def add_chat_service(servicer: object, server: grpc.aio.Server) -> None:
    """Registers every Chat RPC of `servicer` on `server` with lenient decoding."""
    handlers: dict[str, grpc.RpcMethodHandler] = {}
    for method in SERVICE.methods:
        request_class = message_factory.GetMessageClass(method.input_type)
        response_class = message_factory.GetMessageClass(method.output_type)
        behaviour = _guard(getattr(servicer, method.name), client_streaming=method.client_streaming)
        make = _HANDLERS[method.client_streaming, method.server_streaming]
        handlers[method.name] = make(
            behaviour,
            request_deserializer=_lenient(request_class),
            response_serializer=response_class.SerializeToString,
        )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE.full_name, handlers),)
    )
