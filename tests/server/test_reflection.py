"""Server reflection answers under v1 (what newer grpcurl and buf curl speak) and v1alpha."""

from __future__ import annotations

import grpc
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2 as alpha_pb2
from grpc_reflection.v1alpha import reflection_pb2_grpc as alpha_grpc

from grove_explorer.protos import reflection_v1_pb2 as v1_pb2
from grove_explorer.protos import reflection_v1_pb2_grpc as v1_grpc

EXPECTED_SERVICES = {
    "grove.chat.Chat",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
}


async def _ask_v1(address: str, *requests: v1_pb2.ServerReflectionRequest):
    async with grpc.aio.insecure_channel(address) as channel:
        stub = v1_grpc.ServerReflectionStub(channel)
        return [answer async for answer in stub.ServerReflectionInfo(iter(requests))]


async def test_v1_lists_every_service(server) -> None:
    (answer,) = await _ask_v1(server.address, v1_pb2.ServerReflectionRequest(list_services=""))
    names = {service.name for service in answer.list_services_response.service}
    assert names == EXPECTED_SERVICES
    assert answer.original_request.list_services == ""


async def test_v1alpha_lists_the_same_services(server) -> None:
    async with grpc.aio.insecure_channel(server.address) as channel:
        stub = alpha_grpc.ServerReflectionStub(channel)
        answers = [
            answer
            async for answer in stub.ServerReflectionInfo(
                iter([alpha_pb2.ServerReflectionRequest(list_services="")])
            )
        ]
    names = {service.name for service in answers[0].list_services_response.service}
    assert names == EXPECTED_SERVICES


async def test_v1_describes_the_chat_service_for_a_tool_to_call_it(server) -> None:
    """What grpcurl does before `grpcurl ... grove.chat.Chat/ListConversations`."""
    (answer,) = await _ask_v1(
        server.address, v1_pb2.ServerReflectionRequest(file_containing_symbol="grove.chat.Chat")
    )
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(blob)
        for blob in answer.file_descriptor_response.file_descriptor_proto
    ]
    chat = next(f for f in files if f.package == "grove.chat")
    methods = {m.name for s in chat.service for m in s.method}
    assert {"AddResponse", "GetConversation", "ListConversations"} <= methods


async def test_v1_unknown_symbol_is_an_error_answer_not_a_broken_stream(server) -> None:
    requests = (
        v1_pb2.ServerReflectionRequest(file_containing_symbol="no.such.Service"),
        v1_pb2.ServerReflectionRequest(list_services=""),
    )
    missing, listing = await _ask_v1(server.address, *requests)
    assert missing.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
    assert missing.original_request.file_containing_symbol == "no.such.Service"
    assert listing.list_services_response.service
