"""Server reflection under both names tools ask for: `v1alpha` and the stable `v1`.

grpcio-reflection serves only `grpc.reflection.v1alpha.ServerReflection`; newer tools
(grpcurl, `buf curl`) speak only `grpc.reflection.v1` and fail against it. The two versions
have the same messages field for field, so the v1 service relays each request to the
library's servicer as v1alpha bytes and relays its answers back: one implementation of
reflection (the library's), two names on the wire.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import cast

import grpc
from grpc_reflection.v1alpha import reflection
from grpc_reflection.v1alpha import reflection_pb2 as alpha_pb2

from grove_explorer.protos import reflection_v1_pb2 as v1_pb2
from grove_explorer.protos import reflection_v1_pb2_grpc as v1_grpc

V1_SERVICE_NAME = v1_pb2.DESCRIPTOR.services_by_name["ServerReflection"].full_name
V1ALPHA_SERVICE_NAME = reflection.SERVICE_NAME


class ReflectionV1(v1_grpc.ServerReflectionServicer):
    """`grpc.reflection.v1.ServerReflection`, answered by grpcio-reflection's v1alpha code."""

    def __init__(self, service_names: Iterable[str]) -> None:
        self._alpha = reflection.aio.ReflectionServicer(tuple(service_names))

    async def ServerReflectionInfo(
        self,
        request_iterator: AsyncIterable[v1_pb2.ServerReflectionRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[v1_pb2.ServerReflectionResponse]:
        """Relays each v1 request to the v1alpha servicer and its answer back as v1."""

        async def as_alpha() -> AsyncIterator[alpha_pb2.ServerReflectionRequest]:
            async for request in request_iterator:
                yield alpha_pb2.ServerReflectionRequest.FromString(request.SerializeToString())

        # The library's stub types its async generator as a coroutine; it is a generator.
        answers = cast(
            "AsyncIterable[alpha_pb2.ServerReflectionResponse]",
            self._alpha.ServerReflectionInfo(as_alpha(), context),
        )
        async for answer in answers:
            yield v1_pb2.ServerReflectionResponse.FromString(answer.SerializeToString())


def enable_reflection(service_names: Iterable[str], server: grpc.aio.Server) -> None:
    """Serves reflection of `service_names` (and of itself) as both v1 and v1alpha."""
    names = (*service_names, V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME)
    reflection.enable_server_reflection(names, server)
    v1_grpc.add_ServerReflectionServicer_to_server(ReflectionV1(names), server)
