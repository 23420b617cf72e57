"""Builds, starts and stops a Chat server: the one way the CLI, tests and app run one.

`GroveServer` owns the store, the samplers and the grpc.aio server. Shutdown first asks
running streams to store their partial replies, then stops gRPC, then closes the store, so
a SIGTERM loses nothing that was acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Mapping

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from protos import chat_pb2, chat_pb2_grpc
from server.backends import build_samplers
from server.config import ServerConfig
from server.sampler.base import Sampler
from server.servicer import ChatServicer
from server.store import Store

log = logging.getLogger(__name__)

CHAT_SERVICE = chat_pb2.DESCRIPTOR.services_by_name["Chat"].full_name
# Large enough for a maximal message plus protobuf framing.
_MESSAGE_HEADROOM = 64 * 1024


def default_sampler(config: ServerConfig) -> Sampler:
    """The offline demo model, paced by `--token-delay-ms`, `--offline-min-tokens` long."""
    from server.sampler.offline import OfflineSampler

    return OfflineSampler(
        token_delay_ms=config.token_delay_ms,
        min_reply_tokens=config.offline_min_reply_tokens,
    )


def default_store(config: ServerConfig) -> Store:
    """The SQLite store at `--db`, creating its folder if needed."""
    from server.store.sqlite import SqliteStore

    config.db.parent.mkdir(parents=True, exist_ok=True)
    return SqliteStore(config.db, durability=config.durability)


class GroveServer:
    """A running Chat server with health checking and reflection enabled."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        store: Store | None = None,
        samplers: Mapping[str, Sampler] | None = None,
        default_model: str | None = None,
    ) -> None:
        self.config = config
        self.store = store or default_store(config)
        if samplers is None:
            samplers, default_model = build_samplers(
                config.models,
                token_delay_ms=config.token_delay_ms,
                offline_min_reply_tokens=config.offline_min_reply_tokens,
            )
        self.samplers = dict(samplers)
        self.servicer = ChatServicer(self.store, self.samplers, config, default_model)
        self._server: grpc.aio.Server | None = None
        self._health = health.aio.HealthServicer()
        self.port: int | None = None
        self._stopped = asyncio.Event()

    @property
    def address(self) -> str:
        """`host:port` that clients dial (valid after `start`)."""
        if self.port is None:
            raise RuntimeError("The server has not been started.")
        host = self.config.host
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    async def start(self) -> int:
        """Opens the store and starts serving; returns the bound port (useful with port 0)."""
        await self.store.open()
        # gRPC's own limit sits well above ours so that an oversized message reaches the
        # servicer and gets a sentence naming our limit; only absurd sizes hit gRPC's.
        limit = 4 * self.config.max_message_bytes + _MESSAGE_HEADROOM
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", -1),
            ]
        )
        chat_pb2_grpc.add_ChatServicer_to_server(self.servicer, server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            (CHAT_SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
        host = self.config.host
        bind_host = f"[{host}]" if ":" in host else host
        port = server.add_insecure_port(f"{bind_host}:{self.config.port}")
        if port == 0:
            await self.store.close()
            raise OSError(f"Cannot listen on {host}:{self.config.port}.")
        await server.start()
        await self._health.set(CHAT_SERVICE, health_pb2.HealthCheckResponse.SERVING)
        await self._health.set("", health_pb2.HealthCheckResponse.SERVING)
        self._server = server
        self.port = port
        log.info("Grove Chat server listening on %s", self.address)
        return port

    async def stop(self) -> None:
        """Stores in-flight streams as partial replies, stops gRPC, closes the store."""
        if self._server is None:
            return
        server, self._server = self._server, None
        await self._health.enter_graceful_shutdown()
        grace = self.config.shutdown_grace_seconds
        await self.servicer.stop_all_streams(grace_seconds=grace)
        await server.stop(grace)
        for sampler in self.samplers.values():
            await sampler.aclose()
        await self.store.close()
        self._stopped.set()

    async def wait_stopped(self) -> None:
        """Returns once `stop` has finished."""
        await self._stopped.wait()


async def serve_until_signalled(config: ServerConfig) -> None:
    """Runs a server until SIGINT or SIGTERM, then shuts it down cleanly."""
    server = GroveServer(config)
    await server.start()
    print(f"Grove Chat server on {server.address} (database {config.db})", flush=True)
    default = server.servicer.default_model
    for name, sampler in server.samplers.items():
        about = sampler.describe()
        marker = " (default)" if name == default else ""
        print(f"  model {name}{marker}: {about.backend} {about.upstream_model}", flush=True)
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop_requested.set)
    try:
        await stop_requested.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        print("Shutting down: storing in-flight replies as partial…", flush=True)
        await server.stop()
