"""Builds, starts and stops a Chat server: the one way the CLI, tests and app run one.

`GroveServer` owns the store, the samplers and the grpc.aio server. Shutdown first asks
running streams to store their partial replies, then stops gRPC, then closes the store, so
a SIGTERM loses nothing that was acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import ssl
from collections.abc import Mapping, Sequence
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from grove_explorer.protos import chat_pb2
from grove_explorer.server.accepting import accept_ahead
from grove_explorer.server.auth import Authenticator, exposure_refusal, is_loopback_host
from grove_explorer.server.backends import build_samplers
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.live import ChangeFeed, LivePublisher
from grove_explorer.server.live.postgres_feed import PostgresFeed
from grove_explorer.server.owners import is_orphan, new_owner, retire
from grove_explorer.server.reflection import enable_reflection
from grove_explorer.server.sampler.base import Sampler
from grove_explorer.server.servicer import ChatServicer
from grove_explorer.server.servicer.feed_replies import add_feed_replies
from grove_explorer.server.store import KeyStore, Store
from grove_explorer.server.store.location import PostgresUrl
from grove_explorer.server.wire import add_chat_service

log = logging.getLogger(__name__)

# How often a running server looks for checkpoints of crashed servers sharing its database:
# a killed replica's running replies become partial ones within this (plus one read).
ORPHAN_SWEEP_SECONDS = 3.0
CHAT_SERVICE = chat_pb2.DESCRIPTOR.services_by_name["Chat"].full_name
# Large enough for a maximal message plus protobuf framing.
_MESSAGE_HEADROOM = 64 * 1024


def default_sampler(config: ServerConfig) -> Sampler:
    """The offline demo model, paced by `--token-delay-ms`, `--offline-min-tokens` long."""
    from grove_explorer.server.sampler.offline import OfflineSampler

    return OfflineSampler(
        token_delay_ms=config.token_delay_ms,
        min_reply_tokens=config.offline_min_reply_tokens,
    )


def default_store(config: ServerConfig) -> Store:
    """The store `--db` names (server/store/opening.py): PostgreSQL or the SQLite file.

    The SQLite store creates its folder when it opens, if it may write. SQLite's file
    options (--read-only, --allow-damaged-db) have no PostgreSQL meaning and are refused
    with it rather than ignored.
    """
    from grove_explorer.server.store.opening import store_at

    try:
        return store_at(
            config.db,
            durability=config.durability,
            read_only=config.read_only,
            allow_damaged=config.allow_damaged_db,
        )
    except ValueError as error:
        raise StartupError(str(error)) from error


class StartupError(RuntimeError):
    """The server cannot start as configured; the message is a sentence for the operator."""


def load_tls_credentials(cert: Path | None, key: Path | None) -> grpc.ServerCredentials | None:
    """Reads the PEM certificate and key for TLS; None when neither is given.

    The pair is checked with Python's `ssl` first because gRPC accepts any bytes here and
    only fails at the first handshake, which an operator would see as clients hanging up.
    Blocking file I/O: call it from a thread.
    """
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise StartupError(
            "TLS needs both a certificate (--tls-cert) and its private key (--tls-key)."
        )
    try:
        cert_pem, key_pem = cert.read_bytes(), key.read_bytes()
    except OSError as error:
        raise StartupError(
            f"Cannot read the TLS file {error.filename}: {error.strerror or error}."
        ) from error
    try:
        # A password callback that gives nothing: an encrypted key fails here instead of
        # OpenSSL prompting on the terminal (gRPC cannot use encrypted keys anyway).
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
            cert, key, password=lambda: b""
        )
    except ssl.SSLError as error:
        raise StartupError(
            f"The TLS certificate {cert} and key {key} are not a PEM certificate with its "
            f"matching unencrypted private key ({error.reason or error})."
        ) from error
    return grpc.ssl_server_credentials([(key_pem, cert_pem)])


class GroveServer:
    """A running Chat server with health checking and reflection enabled."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        store: Store | None = None,
        samplers: Mapping[str, Sampler] | None = None,
        default_model: str | None = None,
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
        feed: ChangeFeed | None = None,
    ) -> None:
        self.config = config
        # gRPC server interceptors (operators' metrics; tests count calls per replica).
        self._interceptors = tuple(interceptors)
        # Replicas of one PostgreSQL database share their live changes through it.
        if feed is None and isinstance(config.db, PostgresUrl):
            feed = PostgresFeed(config.db, max_pending=config.watch_max_pending_events)
        self.store = store or default_store(config)
        if samplers is None:
            samplers, default_model = build_samplers(
                config.models,
                token_delay_ms=config.token_delay_ms,
                offline_min_reply_tokens=config.offline_min_reply_tokens,
            )
        self.samplers = dict(samplers)
        # Keys of the configuration and of the store (if it keeps keys). A server on a
        # network address never falls back to open access, even after its last revocation.
        self.authenticator = Authenticator(
            config.api_keys,
            self.store if isinstance(self.store, KeyStore) else None,
            require_key=not (config.insecure_no_auth or is_loopback_host(config.host)),
        )
        self.servicer = ChatServicer(
            self.store,
            self.samplers,
            config,
            default_model,
            authenticator=self.authenticator,
            feed=feed,
        )
        if isinstance(feed, PostgresFeed):  # a resume may reach a replica not sampling it
            add_feed_replies(self.servicer.resumable, self.store, feed)
        self.tls = config.tls_cert is not None or config.tls_key is not None
        self._server: grpc.aio.Server | None = None
        self._health = health.aio.HealthServicer()
        self.port: int | None = None
        self._stopped = asyncio.Event()
        self.owner = ""
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def read_only(self) -> bool:
        """True when the database was opened for reading only (nothing is saved)."""
        return self.config.read_only or self.config.allow_damaged_db

    @property
    def address(self) -> str:
        """`host:port` that clients dial (valid after `start`)."""
        if self.port is None:
            raise RuntimeError("The server has not been started.")
        host = self.config.host
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    async def start(self) -> int:
        """Opens the store and starts serving; returns the bound port (useful with port 0).

        Raises StartupError for unusable TLS files, or for a network address without any
        active API key (unless `insecure_no_auth`); the store is closed again then.
        """
        credentials = await asyncio.to_thread(
            load_tls_credentials, self.config.tls_cert, self.config.tls_key
        )
        await self.store.open()
        self.owner = new_owner()
        try:
            await self.store.announce_owner(self.owner)
            return await self._serve(credentials)
        except BaseException:
            # Whatever failed (a refusal, a busy port, a migration the database lacks), the
            # store's connections are closed, or their threads would keep the process alive.
            retire(self.owner)
            await self.servicer.feed.close()
            await self.store.close()
            raise

    async def _serve(self, credentials: grpc.ServerCredentials | None) -> int:
        """`start` once the store is open: recovery, the exposure check, gRPC."""
        self.servicer.checkpoint_owner = self.owner
        if isinstance(self.servicer.feed, PostgresFeed):
            await self.servicer.feed.start(self.servicer.streams.live_replies)
        if not self.read_only:
            await self._recover_orphans()
        # Keys live in the store, so the exposure check can only run once it is open.
        refusal = exposure_refusal(
            self.config.host,
            has_active_keys=await self.authenticator.has_active_keys(),
            insecure_no_auth=self.config.insecure_no_auth,
        )
        if refusal is not None:
            raise StartupError(refusal)
        # gRPC's own limit sits well above ours so that an oversized message reaches the
        # servicer and gets a sentence naming our limit; only absurd sizes hit gRPC's.
        limit = max(
            4 * self.config.max_message_bytes + _MESSAGE_HEADROOM, self.config.max_request_bytes
        )
        with accept_ahead(self.config.accept_ahead):
            server = grpc.aio.server(
                interceptors=self._interceptors,
                options=[
                    ("grpc.max_receive_message_length", limit),
                    ("grpc.max_send_message_length", -1),
                ],
            )
        add_chat_service(self.servicer, server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        enable_reflection((CHAT_SERVICE, health.SERVICE_NAME), server)
        host = self.config.host
        bind_host = f"[{host}]" if ":" in host else host
        target = f"{bind_host}:{self.config.port}"
        if credentials is None:
            port = server.add_insecure_port(target)
        else:
            port = server.add_secure_port(target, credentials)
        if port == 0:
            raise OSError(f"Cannot listen on {host}:{self.config.port}.")
        await server.start()
        for sampler in self.samplers.values():
            sampler.prepare()  # a local model loads on its thread while the server serves
        await self._health.set(CHAT_SERVICE, health_pb2.HealthCheckResponse.SERVING)
        await self._health.set("", health_pb2.HealthCheckResponse.SERVING)
        self._server = server
        self.port = port
        if not self.read_only:
            self._sweeper = asyncio.create_task(self._sweep_orphans(), name="grove-orphan-sweep")
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
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        retire(self.owner)
        for sampler in self.samplers.values():
            await sampler.aclose()
        await self.store.close()
        self._stopped.set()

    async def _recover_orphans(self) -> None:
        """Keeps the replies of crashed servers (sharing this database) as partial ones."""
        recovered = await self.store.recover_checkpoints(is_orphan)
        publisher = LivePublisher(self.servicer.feed)  # their conversations' watchers
        for record in recovered:
            publisher.response_added(record.conversation_id, "", record.response_id)
        if recovered:
            log.warning(
                "kept %d replies interrupted by a crash as partial responses", len(recovered)
            )

    async def _sweep_orphans(self) -> None:
        """Recovers, while running, what another server on this database left by crashing."""
        while True:
            await asyncio.sleep(ORPHAN_SWEEP_SECONDS)
            try:
                await self._recover_orphans()
            except Exception:
                log.exception("recovering orphaned checkpoints failed")

    async def wait_stopped(self) -> None:
        """Returns once `stop` has finished."""
        await self._stopped.wait()


def _tune_collector() -> None:
    """Keeps garbage-collector pauses from stalling every stream at once.

    Under load (hundreds of streams) the young generation filled hundreds of times a run,
    and each full collection stopped every stream for 30-100 ms (bench.load). What exists
    after start-up (the offline model's tables, the code) lives as long as the process, so
    it is frozen out of the collector's sight; young collections run less often.
    Reference counting still frees nearly everything at once.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


async def serve_until_signalled(config: ServerConfig) -> None:
    """Runs a server until SIGINT or SIGTERM, then shuts it down cleanly."""
    server = GroveServer(config)
    await server.start()
    _tune_collector()
    # Handlers go in before the start line is printed: whoever waits for that line (an
    # operator's script, a test) may signal at once and must get a clean shutdown.
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop_requested.set)
    try:
        transport = "TLS" if server.tls else "plaintext"
        has_keys = await server.authenticator.has_active_keys()
        access = "API keys required" if has_keys else "open access: no API keys"
        print(
            f"Grove Chat server on {server.address} ({transport}, {access}, database {config.db})",
            flush=True,
        )
        if config.insecure_no_auth and not is_loopback_host(config.host):
            print(
                f"  warning: --insecure-no-auth: anyone who reaches {server.address} can read "
                "and write every conversation until an API key is created",
                flush=True,
            )
        default = server.servicer.default_model
        for name, sampler in server.samplers.items():
            about = sampler.describe()
            marker = " (default)" if name == default else ""
            print(f"  model {name}{marker}: {about.backend} {about.upstream_model}", flush=True)
        await stop_requested.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        print("Shutting down: storing in-flight replies as partial…", flush=True)
        await server.stop()
